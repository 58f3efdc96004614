/** The most sources one reply cites. */
export const MAX_SOURCES = 20;

export const SOURCE_TYPES = ['document', 'message'] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

/** What a reply cites: a passage of a document, or a message, as the tool that found it saw it. */
export interface MessageSource {
  type: SourceType;
  /** The document's id (GET /documents/:id) or the message's. */
  id: string;
  /** The document's filename, or the title of the message's conversation. */
  title: string;
  /** The passage or message with the matches in **bold**. */
  snippet: string;
  /** Documents: the passage's position in the document (from 0). */
  chunk?: number;
  /** Documents: the page the passage starts on, when the format has pages. */
  page?: number;
  /** Documents: the heading the passage sits under. */
  heading?: string;
  /** Documents: the document's type, sniffed from its bytes. */
  mediaType?: string;
  /** Messages: where and at which position it was said. */
  conversationId?: string;
  seq?: number;
  /** Relevance within the search that found it; higher is better. */
  score: number;
}

/** A message search_history found. */
export interface MessageHit {
  messageId: string;
  conversationId: string;
  conversationTitle: string;
  seq: number;
  excerpt: string;
  score?: number;
}

export function messageSource(hit: MessageHit): MessageSource {
  return {
    type: 'message',
    id: hit.messageId,
    title: hit.conversationTitle || 'Untitled conversation',
    snippet: hit.excerpt,
    conversationId: hit.conversationId,
    seq: hit.seq,
    score: hit.score ?? 0,
  };
}

/**
 * Sources as clients get them. Replies stored before sources had a type hold search_history's
 * hits as they were: those read as message sources.
 */
export function currentSources(sources: readonly (MessageSource | MessageHit)[]): MessageSource[] {
  return sources.map((source) => ('type' in source ? source : messageSource(source)));
}

/** One source's identity: a message, or one passage of a document (its other passages are other sources). */
export function sourceId(source: Pick<MessageSource, 'id' | 'chunk'>): string {
  return source.chunk === undefined ? source.id : `${source.id}#${source.chunk}`;
}

/** A reply's sources as they become known: each once, in order of first use, at most MAX_SOURCES. */
export class SourceList {
  readonly items: MessageSource[] = [];
  private readonly seen = new Set<string>();

  /** Adds the sources not cited yet while there is room, and returns those it added. */
  add(sources: readonly MessageSource[]): MessageSource[] {
    const added: MessageSource[] = [];
    for (const source of sources) {
      if (this.items.length >= MAX_SOURCES) break;
      const id = sourceId(source);
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      this.items.push(source);
      added.push(source);
    }
    return added;
  }
}
