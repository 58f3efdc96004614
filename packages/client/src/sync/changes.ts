import type { RestClient } from '../rest.js';
import type { MessageDto } from '../wire.js';

export interface ChangesPage {
  items: MessageDto[];
  hasMore: boolean;
  version: number;
}

/** GET …/changes from `afterVersion`, page by page to the end; resolves the version the pages settle at. */
export async function readChanges(
  rest: RestClient,
  conversationId: string,
  afterVersion: number,
  onPage: (page: ChangesPage) => void,
  limit?: number,
): Promise<number> {
  let after = afterVersion;
  for (;;) {
    const query = { afterVersion: after, ...(limit ? { limit } : {}) };
    const { data, error, response } = await rest.GET('/api/v1/conversations/{id}/changes', { params: { path: { id: conversationId }, query } });
    if (!data) throw new Error(`GET changes after ${after}: ${response.status} ${JSON.stringify(error)}`);
    // The document describes the server's MessageDto (its metadata a little more loosely).
    const page = data as ChangesPage;
    onPage(page);
    if (!page.hasMore) return page.version;
    const last = page.items.at(-1);
    if (!last || typeof last.version !== 'number' || last.version <= after) throw new Error(`GET changes after ${after}: hasMore without progress`);
    after = last.version;
  }
}
