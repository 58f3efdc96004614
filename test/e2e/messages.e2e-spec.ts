import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { io } from 'socket.io-client';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
import { register } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

const API = '/api/v1';

function client(t: TestApp, token: string) {
  return {
    get: (path: string) => t.http(`${API}${path}`, { token }),
    post: (path: string, json?: unknown) => t.http(`${API}${path}`, { method: 'POST', token, json: json ?? {} }),
    patch: (path: string, json: unknown) => t.http(`${API}${path}`, { method: 'PATCH', token, json }),
    delete: (path: string) => t.http(`${API}${path}`, { method: 'DELETE', token }),
  };
}

describe('messages', () => {
  let t: TestApp;
  let world: World;
  let events: RealtimeEvent[];
  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, MESSAGE_RATE_LIMIT: '100000' });
    world = await createWorld(t);
    events = [];
    t.app.get(RealtimeBus).events$.subscribe((event) => events.push(event));
  });
  afterAll(() => t?.close());

  const owner = () => client(t, world.owner.accessToken);
  const member = () => client(t, world.member.accessToken);
  const messagesOf = (conversationId: string) => `/conversations/${conversationId}/messages`;

  async function freshConversation(): Promise<string> {
    return (await owner().post('/conversations', { title: 'fresh', participantIds: [world.member.id], agent: { mode: 'off' } })).body.id;
  }

  describe('sending', () => {
    it('stores the message with the next seq and publishes message.created', async () => {
      const id = await freshConversation();
      events.length = 0;
      const response = await member().post(messagesOf(id), { content: 'Hello **world**', clientMessageId: 'c-1' });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        message: {
          id: expect.any(String),
          conversationId: id,
          seq: 1,
          version: 1,
          role: 'user',
          authorId: world.member.id,
          content: 'Hello **world**',
          status: 'complete',
          clientMessageId: 'c-1',
          runId: null,
          metadata: {},
          attachments: [],
          attachmentDetails: [],
          createdAt: expect.any(String),
          editedAt: null,
          deletedAt: null,
        },
        run: null,
      });
      expect(events).toContainEqual({ type: 'message.created', conversationId: id, message: response.body.message });
      const conversation = await owner().get(`/conversations/${id}`);
      expect(conversation.body).toMatchObject({ lastSeq: 1, version: 1, unreadCount: 1, lastMessageAt: expect.any(String) });
    });

    it('stores SQL and HTML verbatim', async () => {
      const id = await freshConversation();
      const content = `'); DROP TABLE messages; -- <script>alert("x")</script> \u0000-free ünïcødé 🚀`.replace('\u0000', '');
      const sent = await member().post(messagesOf(id), { content });
      expect(sent.body.message.content).toBe(content);
      const history = await member().get(messagesOf(id));
      expect(history.body.items[0].content).toBe(content);
    });

    it('answers a NUL character, which PostgreSQL cannot store in text, with 400 and keeps serving', async () => {
      const id = await freshConversation();
      const refused = await member().post(messagesOf(id), { content: 'before\u0000after' });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ code: 'VALIDATION', requestId: expect.any(String) });
      expect(JSON.stringify(refused.body)).not.toMatch(/0x00|byte sequence|messages/);
      expect((await member().get(`/search/messages?q=${encodeURIComponent('a\u0000b')}`)).status).toBe(400);
      expect((await member().post(messagesOf(id), { content: 'still fine' })).status).toBe(201);
    });

    it('gives 50 concurrent sends 50 distinct, gap-free seqs', async () => {
      const id = await freshConversation();
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? owner() : member()).post(messagesOf(id), { content: `concurrent ${i}` })),
      );
      expect(responses.every((response) => response.status === 201)).toBe(true);
      const seqs = responses.map((response) => response.body.message.seq as number).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const history = await owner().get(`${messagesOf(id)}?limit=100`);
      expect(history.body.items.map((m: { seq: number }) => m.seq)).toEqual(seqs);
    });

    it('stores one message for 10 concurrent retries with one clientMessageId', async () => {
      const id = await freshConversation();
      const key = randomUUID();
      const responses = await Promise.all(Array.from({ length: 10 }, () => member().post(messagesOf(id), { content: 'once', clientMessageId: key })));
      expect(responses.every((response) => response.status === 201)).toBe(true);
      expect(new Set(responses.map((response) => response.body.message.id)).size).toBe(1);
      const history = await member().get(messagesOf(id));
      expect(history.body.items).toHaveLength(1);
      expect((await owner().get(`/conversations/${id}`)).body.lastSeq).toBe(1);
      // The same key from another author is another message.
      expect((await owner().post(messagesOf(id), { content: 'mine', clientMessageId: key })).body.message.seq).toBe(2);
    });

    it.each([
      ['empty content', { content: '' }, 'content'],
      ['blank content', { content: '  \n\t ' }, 'content'],
      ['16001 characters', { content: 'x'.repeat(16_001) }, 'content'],
      ['non-string content', { content: 42 }, 'content'],
      ['missing content', {}, 'content'],
      ['an unknown field', { content: 'hi', role: 'assistant' }, 'role'],
      ['a clientMessageId with spaces', { content: 'hi', clientMessageId: 'has space' }, 'clientMessageId'],
      ['a clientMessageId over 100 characters', { content: 'hi', clientMessageId: 'k'.repeat(101) }, 'clientMessageId'],
    ])('rejects %s with 400', async (_, body, field) => {
      const response = await member().post(messagesOf(world.conversationId), body);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'VALIDATION', details: { [field]: expect.any(Array) } });
    });

    it('accepts exactly 16000 characters', async () => {
      expect((await member().post(messagesOf(world.conversationId), { content: 'y'.repeat(16_000) })).status).toBe(201);
    });

    it('rejects a malformed conversation id with 400 and an unknown one with 404', async () => {
      expect((await member().post(messagesOf('nope'), { content: 'x' })).status).toBe(400);
      expect((await member().post(messagesOf(randomUUID()), { content: 'x' })).status).toBe(404);
    });
  });

  describe('history', () => {
    let id: string;
    beforeAll(async () => {
      id = await freshConversation();
      for (let i = 1; i <= 120; i++) await owner().post(messagesOf(id), { content: `message ${i}` });
    });

    it('serves the latest page by default, ascending', async () => {
      const page = await member().get(messagesOf(id));
      expect(page.body.items.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 71 + i));
      expect(page.body.hasMore).toBe(true);
    });

    it('walks the whole history exactly once backwards (beforeSeq) and forwards (afterSeq)', async () => {
      const backwards: number[] = [];
      let beforeSeq: number | undefined;
      for (;;) {
        const page = await member().get(`${messagesOf(id)}?limit=17${beforeSeq ? `&beforeSeq=${beforeSeq}` : ''}`);
        const seqs = page.body.items.map((m: { seq: number }) => m.seq);
        backwards.unshift(...seqs);
        if (!page.body.hasMore) break;
        beforeSeq = seqs[0];
      }
      expect(backwards).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));

      const forwards: number[] = [];
      let afterSeq = 0;
      for (;;) {
        const page = await member().get(`${messagesOf(id)}?limit=23&afterSeq=${afterSeq}`);
        const seqs = page.body.items.map((m: { seq: number }) => m.seq);
        forwards.push(...seqs);
        if (!page.body.hasMore) break;
        afterSeq = seqs.at(-1);
      }
      expect(forwards).toEqual(backwards);
    });

    it('reads a window between afterSeq and beforeSeq', async () => {
      const page = await member().get(`${messagesOf(id)}?afterSeq=10&beforeSeq=14`);
      expect(page.body.items.map((m: { seq: number }) => m.seq)).toEqual([11, 12, 13]);
      expect(page.body.hasMore).toBe(false);
    });

    it.each(['limit=0', 'limit=101', 'limit=abc', 'beforeSeq=-1', 'afterSeq=x', 'afterSeq=1.5', 'offset=10'])('rejects ?%s with 400', async (query) => {
      const response = await member().get(`${messagesOf(id)}?${query}`);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('VALIDATION');
    });
  });

  describe('edit and delete', () => {
    it('lets the author edit: new content, editedAt, message.updated', async () => {
      const id = await freshConversation();
      const sent = await member().post(messagesOf(id), { content: 'typo' });
      events.length = 0;
      const edited = await member().patch(`${messagesOf(id)}/${sent.body.message.id}`, { content: 'fixed' });
      expect(edited.status).toBe(200);
      expect(edited.body).toMatchObject({ id: sent.body.message.id, content: 'fixed', seq: 1, editedAt: expect.any(String) });
      expect(events).toContainEqual({ type: 'message.updated', conversationId: id, message: edited.body });
      expect((await member().patch(`${messagesOf(id)}/${sent.body.message.id}`, { content: '' })).status).toBe(400);
      expect((await member().patch(`${messagesOf(id)}/${sent.body.message.id}`, { content: 'x', extra: 1 })).status).toBe(400);
      expect((await member().patch(`${messagesOf(id)}/${randomUUID()}`, { content: 'x' })).status).toBe(404);
      expect((await member().patch(`${messagesOf(id)}/nope`, { content: 'x' })).status).toBe(400);
    });

    it('soft-deletes: the seq stays as a tombstone without content, and message.deleted goes out', async () => {
      const id = await freshConversation();
      const first = await member().post(messagesOf(id), { content: 'secret plans' });
      await member().post(messagesOf(id), { content: 'second' });
      events.length = 0;
      expect((await owner().delete(`${messagesOf(id)}/${first.body.message.id}`)).status).toBe(204);
      // Two messages took versions 1 and 2; the deletion takes the next.
      expect(events).toContainEqual({ type: 'message.deleted', conversationId: id, messageId: first.body.message.id, seq: 1, version: 3 });

      const history = await member().get(messagesOf(id));
      expect(history.body.items[0]).toMatchObject({ seq: 1, content: '', deletedAt: expect.any(String) });
      expect(history.text).not.toContain('secret plans');
      expect((await member().delete(`${messagesOf(id)}/${first.body.message.id}`)).status).toBe(404);
      expect((await member().patch(`${messagesOf(id)}/${first.body.message.id}`, { content: 'revive' })).status).toBe(404);
    });
  });

  describe('search', () => {
    let mine: string;
    let theirs: string;
    beforeAll(async () => {
      mine = await freshConversation();
      await member().post(messagesOf(mine), { content: 'The deployment pipeline failed again' });
      await member().post(messagesOf(mine), { content: 'Deployment, deployment, deployment: the pipeline of pipelines deploys' });
      await member().post(messagesOf(mine), { content: 'Lunch at noon?' });
      await member().post(messagesOf(mine), { content: 'The <b>pipeline</b> & "quotes"' });
      const removed = await member().post(messagesOf(mine), { content: 'deleted pipeline secret' });
      await member().delete(`${messagesOf(mine)}/${removed.body.message.id}`);

      const stranger = await register(t);
      theirs = (await client(t, stranger.accessToken).post('/conversations', { title: 'private', agent: { mode: 'off' } })).body.id;
      await client(t, stranger.accessToken).post(messagesOf(theirs), { content: 'Confidential pipeline deployment numbers' });
    });

    it('finds, ranks and highlights matches in the caller\'s conversations only', async () => {
      const response = await member().get('/search/messages?q=deployment%20pipeline');
      expect(response.status).toBe(200);
      const contents = response.body.items.map((hit: { message: { content: string } }) => hit.message.content);
      expect(contents).toEqual(['Deployment, deployment, deployment: the pipeline of pipelines deploys', 'The deployment pipeline failed again']);
      expect(response.body.items[0].rank).toBeGreaterThan(response.body.items[1].rank);
      expect(response.body.items[0]).toMatchObject({ conversationTitle: 'fresh', snippet: expect.stringContaining('<mark>') });
      expect(response.text).not.toContain('Confidential');
    });

    it('never shows another user\'s messages, and not deleted ones', async () => {
      const response = await member().get('/search/messages?q=pipeline');
      const conversations = new Set(response.body.items.map((hit: { message: { conversationId: string } }) => hit.message.conversationId));
      expect([...conversations]).toEqual([mine]);
      expect(response.text).not.toContain('secret');
      expect((await client(t, world.outsider.accessToken).get('/search/messages?q=pipeline')).body.items).toEqual([]);
    });

    it('escapes HTML in snippets and marks matches', async () => {
      const response = await member().get(`/search/messages?q=${encodeURIComponent('"quotes"')}`);
      expect(response.body.items).toHaveLength(1);
      const { snippet } = response.body.items[0];
      expect(snippet).toContain('&amp; &quot;<mark>quotes</mark>');
      // Markup in the message never reaches the snippet as markup; only our <mark> does.
      expect(snippet.replaceAll('<mark>', '').replaceAll('</mark>', '')).not.toMatch(/[<>]/);
    });

    it('supports web-search syntax', async () => {
      const response = await member().get(`/search/messages?q=${encodeURIComponent('pipeline -failed')}`);
      const contents = response.body.items.map((hit: { message: { content: string } }) => hit.message.content);
      expect(contents).not.toContain('The deployment pipeline failed again');
      expect(contents.length).toBeGreaterThan(0);
    });

    it.each(['', 'q=', 'q=%20%20', `q=${'a'.repeat(501)}`, 'q=x&limit=0', 'q=x&limit=101'])('rejects ?%s with 400', async (query) => {
      expect((await member().get(`/search/messages?${query}`)).status).toBe(400);
    });

    it('survives hostile queries', async () => {
      for (const q of ["'); DROP TABLE messages;--", '!!! & | :*', '"unterminated', '<script>']) {
        expect((await member().get(`/search/messages?q=${encodeURIComponent(q)}`)).status).toBe(200);
      }
    });
  });

  describe('stats and export', () => {
    it('counts the caller\'s own activity', async () => {
      const user = await register(t);
      const api = client(t, user.accessToken);
      const id = (await api.post('/conversations', { agent: { mode: 'off' } })).body.id;
      await api.post(messagesOf(id), { content: 'one' });
      await api.post(messagesOf(id), { content: 'two' });
      const stats = await api.get('/stats');
      expect(stats.status).toBe(200);
      expect(stats.body).toEqual({ conversations: 1, messagesSent: 2, unreadMessages: 0, agentRuns: 0, tokens: { input: 0, output: 0 } });
    });

    it('shows totals to admins only', async () => {
      expect((await client(t, world.owner.accessToken).get('/admin/stats')).status).toBe(403);
      const totals = await client(t, world.admin.accessToken).get('/admin/stats');
      expect(totals.status).toBe(200);
      expect(totals.body).toMatchObject({ users: expect.any(Number), conversations: expect.any(Number), messages: expect.any(Number), activeSockets: 0 });
      expect(Object.keys(totals.body.runsByStatus).sort()).toEqual(['awaiting_approval', 'cancelled', 'completed', 'failed', 'interrupted', 'queued', 'running']);
    });

    it('exports a conversation as JSON and as Markdown', async () => {
      const id = await freshConversation();
      for (let i = 1; i <= 3; i++) await member().post(messagesOf(id), { content: `line ${i}` });
      const json = await member().get(`/conversations/${id}/export`);
      expect(json.status).toBe(200);
      expect(json.headers.get('content-disposition')).toContain(`conversation-${id}.json`);
      expect(json.body.conversation.id).toBe(id);
      expect(json.body.messages.map((m: { content: string }) => m.content)).toEqual(['line 1', 'line 2', 'line 3']);

      const markdown = await member().get(`/conversations/${id}/export?format=markdown`);
      expect(markdown.headers.get('content-type')).toContain('text/markdown');
      expect(markdown.text).toContain('# fresh');
      expect(markdown.text).toMatch(/\*\*Test User\*\* · .*\n\nline 2/);
      expect((await member().get(`/conversations/${id}/export?format=pdf`)).status).toBe(400);
    });

    it('exports all of the caller\'s data', async () => {
      const user = await register(t, { displayName: 'Exporter' });
      const api = client(t, user.accessToken);
      const id = (await api.post('/conversations', { title: 'mine', agent: { mode: 'off' } })).body.id;
      await api.post(messagesOf(id), { content: 'my words' });
      const response = await api.get('/auth/me/export');
      expect(response.status).toBe(200);
      expect(response.body.user).toMatchObject({ id: user.id, displayName: 'Exporter' });
      expect(response.body.conversations.map((c: { id: string }) => c.id)).toEqual([id]);
      expect(response.body.messages.map((m: { content: string }) => m.content)).toEqual(['my words']);
      expect(response.text).not.toMatch(/password|hash/i);
    });
  });

  describe('query plans', () => {
    it('serves a history page of a 100k-message conversation from the (conversation_id, seq) index, never OFFSET', async () => {
      const id = await freshConversation();
      const dataSource = t.app.get(DataSource);
      await dataSource.query(
        `INSERT INTO messages (conversation_id, seq, role, author_id, content)
         SELECT $1, g, 'user', $2, 'bulk message ' || g FROM generate_series(1, 100000) g`,
        [id, world.owner.id],
      );
      await dataSource.query(`UPDATE conversations SET last_seq = 100000 WHERE id = $1`, [id]);
      await dataSource.query('ANALYZE messages');

      // Captured where every statement goes, prepared by name (PostgreSQL) or not (embedded).
      const captured: { sql: string; params: unknown[] }[] = [];
      const original = Client.prototype.query;
      Client.prototype.query = function (this: Client, ...args: unknown[]) {
        const config = args[0] as string | { text?: string; values?: unknown[] };
        const sql = typeof config === 'string' ? config : (config.text ?? '');
        if (/FROM messages\s+WHERE conversation_id = c\.id AND seq > \$2/.test(sql)) captured.push({ sql, params: typeof config === 'string' ? (args[1] as unknown[]) : (config.values ?? []) });
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof original;
      try {
        const latest = await owner().get(`${messagesOf(id)}?limit=50`);
        const middle = await owner().get(`${messagesOf(id)}?limit=50&beforeSeq=50000`);
        const forwards = await owner().get(`${messagesOf(id)}?limit=50&afterSeq=70000`);
        expect(latest.body.items.at(-1).seq).toBe(100000);
        expect(middle.body.items.map((m: { seq: number }) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 49950 + i));
        expect(forwards.body.items[0].seq).toBe(70001);
      } finally {
        Client.prototype.query = original;
      }

      expect(captured).toHaveLength(3);
      const expectIndexScan = (plan: { 'QUERY PLAN': string }[]) => {
        const text = plan.map((row) => row['QUERY PLAN']).join('\n');
        expect(text).toMatch(/Index Scan( Backward)? using messages_conversation_id_seq_key on messages/);
        // (The conversation's own row may be read either way: the test database holds few.)
        expect(text).not.toMatch(/Seq Scan on messages|Sort/);
      };
      for (const { sql, params } of captured) {
        expect(sql).not.toMatch(/OFFSET/i);
        // The plan for these values, and the generic plan a prepared statement may settle on.
        expectIndexScan(await dataSource.query(`EXPLAIN ${sql}`, params));
        const literals = params.map((value) => (typeof value === 'number' ? String(value) : `'${String(value)}'`)).join(', ');
        expectIndexScan(
          await dataSource.transaction(async (manager) => {
            await manager.query(`SET LOCAL plan_cache_mode = force_generic_plan`);
            await manager.query(`PREPARE history_page AS ${sql}`);
            try {
              return await manager.query(`EXPLAIN EXECUTE history_page(${literals})`);
            } finally {
              await manager.query(`DEALLOCATE history_page`);
            }
          }),
        );
      }
    });
  });
});

describe('message rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ MESSAGE_RATE_LIMIT: '5', MESSAGE_RATE_WINDOW_SECONDS: '60' });
  });
  afterAll(() => t?.close());

  it('answers 429 with Retry-After past the per-user limit, keeps what was accepted, and spares other users', async () => {
    const alice = await register(t);
    const bob = await register(t);
    const api = client(t, alice.accessToken);
    const id = (await api.post('/conversations', { participantIds: [bob.id], agent: { mode: 'off' } })).body.id;
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => api.post(`/conversations/${id}/messages`, { content: `flood ${i}` })));
    const accepted = responses.filter((response) => response.status === 201);
    const limited = responses.filter((response) => response.status === 429);
    expect(accepted).toHaveLength(5);
    expect(limited).toHaveLength(3);
    expect(limited[0]!.body).toMatchObject({ code: 'RATE_LIMITED', statusCode: 429 });
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);

    const history = await api.get(`/conversations/${id}/messages`);
    expect(history.body.items.map((m: { id: string }) => m.id).sort()).toEqual(accepted.map((r) => r.body.message.id).sort());
    expect((await client(t, bob.accessToken).post(`/conversations/${id}/messages`, { content: 'still fine' })).status).toBe(201);
  });

  it('still answers the retry of a stored message at the limit with that message', async () => {
    const carol = await register(t);
    const api = client(t, carol.accessToken);
    const id = (await api.post('/conversations', { agent: { mode: 'off' } })).body.id;
    const first = await api.post(`/conversations/${id}/messages`, { content: 'kept', clientMessageId: 'retry-1' });
    for (let i = 0; i < 4; i++) await api.post(`/conversations/${id}/messages`, { content: `more ${i}` });
    expect((await api.post(`/conversations/${id}/messages`, { content: 'one too many' })).status).toBe(429);
    const retry = await api.post(`/conversations/${id}/messages`, { content: 'kept', clientMessageId: 'retry-1' });
    expect(retry.status).toBe(201);
    expect(retry.body.message.id).toBe(first.body.message.id);
  });

  it('counts a regenerate as a message: a burst of them is refused with 429 and Retry-After', async () => {
    const dave = await register(t);
    const api = client(t, dave.accessToken);
    const id = (await api.post('/conversations', { agent: { mode: 'auto' } })).body.id;
    const sent = await api.post(`/conversations/${id}/messages`, { content: '/time' });
    const regenerates = await Promise.all(Array.from({ length: 10 }, () => api.post(`/conversations/${id}/messages/${sent.body.message.id}/regenerate`)));
    expect(regenerates.filter((response) => response.status === 201)).toHaveLength(4);
    const limited = regenerates.filter((response) => response.status === 429);
    expect(limited).toHaveLength(6);
    expect(limited[0]!.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await api.post(`/conversations/${id}/messages`, { content: 'and a message' })).status).toBe(429);
    const [{ count }] = await t.app.get(DataSource).query(`SELECT count(*)::int AS count FROM agent_runs WHERE trigger_message_id = $1`, [sent.body.message.id]);
    expect(count).toBe(5);
  });
});

describe('one idempotent send from three transports', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ MESSAGE_RATE_LIMIT: '4', MESSAGE_RATE_WINDOW_SECONDS: '60', AGENT_DAILY_RUNS: '2' });
  });
  afterAll(() => t?.close());

  /** The same message sent at once over REST JSON, REST SSE and Socket.IO; the ids each answered. */
  async function sendEverywhere(token: string, conversationId: string, clientMessageId: string): Promise<string[]> {
    const body = { content: `once ${clientMessageId}`, clientMessageId };
    const socket = io(`${t.baseUrl}/chat`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      const [json, sse, ack] = await Promise.all([
        client(t, token).post(`/conversations/${conversationId}/messages`, body),
        t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token, json: body, headers: { accept: 'text/event-stream' } }),
        socket.timeout(10_000).emitWithAck('message:send', { conversationId, ...body }),
      ]);
      expect(json.status).toBe(201);
      expect(sse.status).toBe(200);
      expect(ack.ok).toBe(true);
      const sseCreated = JSON.parse(sse.text.match(/^event: message:created\ndata: (.+)$/m)![1]!);
      return [json.body.message.id, sseCreated.message.id, ack.data.message.id];
    } finally {
      socket.close();
    }
  }

  it('charges the message rate limit once, and never refuses the copies near the limit', async () => {
    const user = await register(t);
    const api = client(t, user.accessToken);
    const id = (await api.post('/conversations', { agent: { mode: 'off' } })).body.id;
    for (let i = 0; i < 2; i++) expect((await api.post(`/conversations/${id}/messages`, { content: `before ${i}` })).status).toBe(201);
    const ids = await sendEverywhere(user.accessToken, id, 'same-everywhere');
    expect(new Set(ids).size).toBe(1);
    expect((await api.post(`/conversations/${id}/messages`, { content: 'the fourth' })).status).toBe(201);
    const limited = await api.post(`/conversations/${id}/messages`, { content: 'one too many' });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: 'RATE_LIMITED' });
    const history = await api.get(`/conversations/${id}/messages`);
    expect(history.body.items.filter((m: { clientMessageId: string | null }) => m.clientMessageId === 'same-everywhere')).toHaveLength(1);
  });

  it('charges the daily agent quota once', async () => {
    const user = await register(t);
    const api = client(t, user.accessToken);
    const id = (await api.post('/conversations', { agent: { mode: 'auto' } })).body.id;
    const ids = await sendEverywhere(user.accessToken, id, 'same-run');
    expect(new Set(ids).size).toBe(1);
    const runs = await t.app.get(DataSource).query(`SELECT id FROM agent_runs WHERE trigger_message_id = $1`, [ids[0]]);
    expect(runs).toHaveLength(1);
    expect((await api.post(`/conversations/${id}/messages`, { content: '/time' })).status).toBe(201);
    expect((await api.post(`/conversations/${id}/messages`, { content: '/time' })).body).toMatchObject({ code: 'QUOTA_EXCEEDED' });
  });
});
