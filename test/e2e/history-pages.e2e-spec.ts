import * as fc from 'fast-check';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppConfig } from '../../src/config/app-config.js';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import { MessageDto } from '../../src/messages/dto/message.dto.js';
import { HistoryPages } from '../../src/messages/history-pages.js';
import { type HistoryWindow, MessagesRepository } from '../../src/messages/messages.repository.js';
import { recordStatements } from '../support/statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

// A fixed seed: the same cases on every run, so a failure in CI reproduces anywhere.
fc.configureGlobal({ seed: 20_261_202 });

const API = '/api/v1';

describe('history pages: ETags, 304 and the pages held in memory', () => {
  let t: TestApp;
  let world: World;
  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, MESSAGE_RATE_LIMIT: '100000' });
    world = await createWorld(t);
  });
  afterAll(() => t?.close());

  const as = (token: string) => ({
    get: (path: string, headers: Record<string, string> = {}) => t.http(`${API}${path}`, { token, headers }),
    post: (path: string, json: unknown) => t.http(`${API}${path}`, { method: 'POST', token, json }),
    patch: (path: string, json: unknown) => t.http(`${API}${path}`, { method: 'PATCH', token, json }),
    delete: (path: string) => t.http(`${API}${path}`, { method: 'DELETE', token }),
  });
  const owner = () => as(world.owner.accessToken);
  const messagesOf = (id: string) => `/conversations/${id}/messages`;

  async function conversationWith(count: number): Promise<string> {
    const id = (await owner().post('/conversations', { title: 'etags', participantIds: [world.member.id], agent: { mode: 'off' } })).body.id as string;
    for (let i = 1; i <= count; i++) expect((await owner().post(messagesOf(id), { content: `message ${i}` })).status).toBe(201);
    return id;
  }

  it('answers 304 without a body while the page is unchanged, and 200 with a new ETag after any change to it', async () => {
    const id = await conversationWith(3);
    const first = await owner().get(`${messagesOf(id)}?limit=2`);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{8}\.\d+\.\d+-2\.\."$/);

    const again = await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    // Weakly compared, and found in a list.
    expect((await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': `W/${etag}` })).status).toBe(304);
    expect((await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': `"x", ${etag}` })).status).toBe(304);
    expect((await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': '*' })).status).toBe(304);
    // Any tag of the list may match, not only the first of ours.
    const older = etag.replace(/\.(\d+)\./, (_, version: string) => `.${Number(version) - 1}.`);
    expect((await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': `${older}, ${etag}` })).status).toBe(304);
    // Compared character by character: the same number written otherwise, or another release's tag, is not a match.
    const padded = etag.replace(/\.(\d+)\./, (_, version: string) => `.00${version}.`);
    const otherRelease = `"XXXXXXXX${etag.slice(9)}`;
    for (const other of [padded, otherRelease, older]) expect((await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': other })).status).toBe(200);
    // Another window's tag, or a tag that is not ours, is not a match.
    expect((await owner().get(`${messagesOf(id)}?limit=3`, { 'if-none-match': etag })).status).toBe(200);
    for (const other of ['"abc"', '""', `"${'9'.repeat(40)}-2.."`, 'garbage', ',,,', `"${'x'.repeat(8000)}"`]) {
      expect((await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': other })).status).toBe(200);
    }

    // A change to a message of the page: a new version, so a new ETag and the new content.
    const [, last] = first.body.items as { id: string }[];
    expect((await owner().patch(`${messagesOf(id)}/${last!.id}`, { content: 'edited' })).status).toBe(200);
    const edited = await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': etag });
    expect(edited.status).toBe(200);
    expect(edited.body.items.at(-1).content).toBe('edited');
    expect(edited.headers.get('etag')).not.toBe(etag);
    expect((await owner().delete(`${messagesOf(id)}/${last!.id}`)).status).toBe(204);
    const deleted = await owner().get(`${messagesOf(id)}?limit=2`, { 'if-none-match': edited.headers.get('etag')! });
    expect(deleted.status).toBe(200);
    expect(deleted.body.items.at(-1).deletedAt).not.toBeNull();
  });

  it('answers ETags and 304s with no page held at all (HISTORY_CACHE_MB=0)', async () => {
    const id = await conversationWith(2);
    const messages = t.app.get(MessagesRepository);
    const config = t.app.get(AppConfig);
    const pages = new HistoryPages({ ...config, limits: { ...config.limits, historyCacheBytes: 0 } } as AppConfig, messages);
    const first = await pages.read(id, { limit: 10 });
    expect(first.notModified).toBe(false);
    const etag = first.etag!;
    expect(await pages.read(id, { limit: 10 }, etag)).toEqual({ notModified: true, etag });
    // Without a tag, the page is read again every time, and is the same.
    expect(await pages.read(id, { limit: 10 })).toEqual(first);
    expect((await owner().post(messagesOf(id), { content: 'third' })).status).toBe(201);
    const after = await pages.read(id, { limit: 10 }, etag);
    expect(after.notModified).toBe(false);
    expect(after.etag).not.toBe(etag);
    expect(!after.notModified && after.page.items.map((m) => m.content)).toEqual(['message 1', 'message 2', 'third']);
  });

  it('checks access before anything: a tag does not let an outsider learn that the conversation exists', async () => {
    const id = await conversationWith(1);
    const { headers } = await owner().get(messagesOf(id));
    const outsider = await as(world.outsider.accessToken).get(messagesOf(id), { 'if-none-match': headers.get('etag')! });
    expect(outsider.status).toBe(404);
  });

  it('gives a page that holds a streaming reply no ETag, and its latest checkpoint on every read', async () => {
    const id = await conversationWith(1);
    const messages = t.app.get(MessagesRepository);
    const reply = (await messages.append({ conversationId: id, role: 'assistant', authorId: null, content: '', status: 'streaming' }))!.message;
    for (const text of ['Hel', 'Hello', 'Hello there']) {
      await messages.checkpointReply(reply.id, text, text.length);
      const page = await owner().get(messagesOf(id));
      expect(page.status).toBe(200);
      expect(page.headers.get('etag')).toBeNull();
      expect(page.body.items.at(-1)).toMatchObject({ id: reply.id, status: 'streaming', content: text });
    }
  });

  it('does not read the page from the database when the state asked about is current (PostgreSQL and the embedded database alike)', async () => {
    const id = await conversationWith(5);
    const messages = t.app.get(MessagesRepository);
    const recorded = recordStatements();
    const read = await messages.historyAt(id, { limit: 3 }).finally(() => recorded.stop());
    expect(read!.page!.items.map((m) => m.content)).toEqual(['message 3', 'message 4', 'message 5']);
    expect(await messages.historyAt(id, { limit: 3 }, read!.token)).toEqual({ token: read!.token });
    expect((await messages.historyAt(id, { limit: 3 }, `${read!.token}0`))!.page!.items).toHaveLength(3);
    // The messages are not even scanned: the state check gates the scan.
    const sql = recorded.texts.find((text) => text.includes('conversation_token'))!;
    const [{ 'QUERY PLAN': plan }] = await t.app.get(DataSource).query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, [id, 0, 2_147_483_647, 4, read!.token]);
    const nodes: { 'Node Type': string; 'Relation Name'?: string; 'Actual Loops': number }[] = [];
    const walk = (node: { Plans?: unknown[] } & (typeof nodes)[number]) => {
      nodes.push(node);
      for (const child of node.Plans ?? []) walk(child as typeof node);
    };
    walk(plan[0].Plan);
    const scans = nodes.filter((node) => node['Relation Name'] === 'messages');
    expect(scans.length).toBeGreaterThan(0);
    expect(scans.every((node) => node['Actual Loops'] === 0)).toBe(true);
    expect(await messages.historyAt('00000000-0000-4000-8000-000000000000', { limit: 3 })).toBeUndefined();
  });

  it('tells a conversation whose version came round again after the database went back in time (a restore) from the one it was', async () => {
    const id = await conversationWith(2);
    const page = await owner().get(messagesOf(id));
    const etag = page.headers.get('etag')!;
    // As after restoring a backup taken before the last message: then another message takes its version.
    const dataSource = t.app.get(DataSource);
    await dataSource.query(`DELETE FROM messages WHERE conversation_id = $1 AND seq = 2`, [id]);
    await dataSource.query(`UPDATE conversations SET version = version - 1, last_seq = 1 WHERE id = $1`, [id]);
    expect((await owner().post(messagesOf(id), { content: 'another second' })).body.message.version).toBe(page.body.items[1].version);

    const held = await owner().get(messagesOf(id));
    expect(held.status).toBe(200);
    expect(held.body.items.map((m: { content: string }) => m.content)).toEqual(['message 1', 'another second']);
    expect((await owner().get(messagesOf(id), { 'if-none-match': etag })).status).toBe(200);
  });

  it('never answers a page, or a 304, other than what the database holds — with changes made on another instance', async () => {
    const id = await conversationWith(0);
    const messages = t.app.get(MessagesRepository);
    const conversations = t.app.get(ConversationsRepository);
    const config = t.app.get(AppConfig);
    // Two instances' page caches over one database: a change made through either is not announced to the other.
    const instances = [t.app.get(HistoryPages), new HistoryPages(config, messages)];
    const window = fc.record(
      { limit: fc.integer({ min: 1, max: 4 }), afterSeq: fc.integer({ min: 0, max: 12 }), beforeSeq: fc.integer({ min: 1, max: 14 }) },
      { requiredKeys: ['limit'] },
    );
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), text: fc.string({ maxLength: 8 }) }),
      fc.record({ kind: fc.constant('edit' as const), pick: fc.nat(), text: fc.string({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('stream' as const) }),
      fc.record({ kind: fc.constant('checkpoint' as const), text: fc.string({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('finish' as const) }),
      fc.record({ kind: fc.constant('read' as const), instance: fc.nat({ max: 1 }), window, revalidate: fc.boolean() }),
    );
    let streaming: string | undefined;
    // What a client holds of each window: its ETag and the page that came with it.
    const heldByClient = new Map<string, { etag: string; items: unknown }>();

    // Each operation answers what it found and what it should have found (compared after it).
    const done = { actual: true, expected: true };
    const apply = async (op: typeof operation extends fc.Arbitrary<infer T> ? T : never): Promise<{ actual: unknown; expected: unknown }> => {
      const all = (await messages.history(id, { limit: 100 })).items.filter((m) => m.authorId === world.owner.id && !m.deletedAt);
      switch (op.kind) {
        case 'send':
          return { actual: (await owner().post(messagesOf(id), { content: op.text || 'x' })).status, expected: 201 };
        case 'edit':
        case 'delete': {
          const target = all[op.pick % Math.max(all.length, 1)];
          if (!target) return done;
          const response = op.kind === 'edit' ? await owner().patch(`${messagesOf(id)}/${target.id}`, { content: op.text }) : await owner().delete(`${messagesOf(id)}/${target.id}`);
          return { actual: response.status < 300, expected: true };
        }
        case 'stream':
          streaming ??= (await messages.append({ conversationId: id, role: 'assistant', authorId: null, content: '', status: 'streaming' }))!.message.id;
          return done;
        case 'checkpoint':
          if (streaming) await messages.checkpointReply(streaming, op.text, op.text.length);
          return done;
        case 'finish':
          if (streaming) {
            const replyId = streaming;
            await conversations.versioned(id, (manager, version) => messages.finalizeReply(replyId, { status: 'complete', metadata: {} }, version, manager));
            streaming = undefined;
          }
          return done;
        case 'read': {
          const key = JSON.stringify(op.window);
          const held = heldByClient.get(key);
          const read = await instances[op.instance]!.read(id, op.window as HistoryWindow, op.revalidate ? held?.etag : undefined);
          const truth = await messages.history(id, op.window as HistoryWindow);
          const expected = { items: truth.items.map(MessageDto.from), hasMore: truth.hasMore };
          const hasStreaming = expected.items.some((m) => m.status === 'streaming');
          // A 304 only when what the client holds is the page as it is.
          if (read.notModified) return { actual: held?.items, expected };
          if (read.etag) heldByClient.set(key, { etag: read.etag, items: read.page });
          else heldByClient.delete(key);
          return { actual: { page: read.page, tagged: read.etag !== undefined }, expected: { page: expected, tagged: !hasStreaming } };
        }
      }
    };

    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 5, maxLength: 30 }), async (operations) => {
        for (const op of operations) {
          const { actual, expected } = await apply(op);
          expect(actual, op.kind).toEqual(expected);
        }
      }),
      { numRuns: 25 },
    );
  });
});
