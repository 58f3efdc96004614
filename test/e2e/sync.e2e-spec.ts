import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { connectClient, RecordingClient } from '../support/socket-client.js';
import { lastEventId, readFrames, untilLive } from '../support/sse-frames.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';
/** Events that announce a change, with the version it took. */
const VERSIONED = ['message:created', 'message:updated', 'message:deleted', 'conversation:updated', 'run:completed', 'run:failed', 'run:cancelled'];

interface Message {
  id: string;
  seq: number;
  version: number;
  content: string;
  status: string;
  editedAt: string | null;
  deletedAt: string | null;
}

describe('sync by version', () => {
  let t: TestApp;
  let fake: FakeOpenAI;
  let alice: Registered;
  let bob: Registered;
  let eve: Registered;
  const sockets: Socket[] = [];

  const api = (user: Registered, path: string, init: { method?: string; json?: unknown } = {}) => t.http(`${API}${path}`, { ...init, token: user.accessToken });

  async function connect(user: Registered): Promise<RecordingClient> {
    const client = await connectClient(t.baseUrl, user.accessToken);
    sockets.push(client.socket);
    return client;
  }

  async function conversation(mode: 'auto' | 'mention' | 'off' = 'auto'): Promise<string> {
    return (await api(alice, '/conversations', { method: 'POST', json: { title: 'sync', participantIds: [bob.id], agent: { mode } } })).body.id;
  }

  async function send(user: Registered, id: string, content: string, wait = false) {
    return (await api(user, `/conversations/${id}/messages${wait ? '?wait=true' : ''}`, { method: 'POST', json: { content } })).body;
  }

  async function runEnded(id: string, runId: string): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const run = (await api(alice, `/conversations/${id}/runs/${runId}`)).body;
      if (!['queued', 'running'].includes(run.status)) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the run did not end');
  }

  function openEvents(user: Registered, id: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(new URL(`${API}/conversations/${id}/events`, t.baseUrl), {
      headers: { authorization: `Bearer ${user.accessToken}`, accept: 'text/event-stream', ...headers },
    });
  }

  /** The conversation's messages as the server holds them (the whole history). */
  async function history(id: string): Promise<Message[]> {
    return (await api(alice, `/conversations/${id}/messages?limit=100`)).body.items;
  }

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp({ AGENT_PROVIDER: 'openai', OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'test', AGENT_CHECKPOINT_MS: '50' });
    [alice, bob, eve] = await Promise.all([register(t, { displayName: 'Alice' }), register(t, { displayName: 'Bob' }), register(t, { displayName: 'Eve' })]);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  describe('a client away while a reply streams', () => {
    it('re-joins with its last version and gets the reply in its final state (away for the whole reply)', async () => {
      const id = await conversation();
      const client = await connect(alice);
      const joined = await client.emit('conversation:join', { conversationId: id });
      expect(joined.data).toMatchObject({ changes: [], hasMore: false, version: 0, activeRun: null });
      client.socket.disconnect();

      fake.enqueue({ kind: 'text', chunks: ['The ', 'whole ', 'answer.'], delayMs: 30 });
      const sent = await send(bob, id, 'Question', true);
      expect(sent.reply).toMatchObject({ status: 'complete', content: 'The whole answer.' });

      const back = await connect(alice);
      const ack = await back.emit('conversation:join', { conversationId: id, afterVersion: joined.data.version });
      expect(ack.ok).toBe(true);
      expect(ack.data.activeRun).toBeNull();
      expect(ack.data.hasMore).toBe(false);
      expect(ack.data.changes.map((m: Message) => [m.id, m.status, m.content])).toEqual([
        [sent.message.id, 'complete', 'Question'],
        [sent.reply.id, 'complete', 'The whole answer.'],
      ]);
      // Created at 1 and 2, the reply's final state at 3: the conversation is at 3.
      expect(ack.data.changes.map((m: Message) => m.version)).toEqual([1, 3]);
      expect(ack.data.version).toBe(3);
      expect(ack.data.conversation.version).toBe(3);
    });

    it('re-joins after seeing the reply start and gets it complete, not empty and streaming forever', async () => {
      const id = await conversation();
      const client = await connect(alice);
      await client.emit('conversation:join', { conversationId: id });
      fake.enqueue({ kind: 'text', chunks: ['Slowly ', 'but ', 'surely ', 'done.'], delayMs: 150 });
      const { run } = await send(bob, id, 'Take your time');
      const started = await client.waitFor('message:created', (p) => p.message.runId === run.id);
      expect(started.message.status).toBe('streaming');
      // The highest version the client has without a gap: the user message, then the reply's creation.
      const versions = VERSIONED.flatMap((name) => client.of(name).map((p) => p.version));
      expect(versions.toSorted()).toEqual([1, 2]);
      client.socket.disconnect();
      await runEnded(id, run.id);

      const back = await connect(alice);
      const ack = await back.emit('conversation:join', { conversationId: id, afterVersion: 2 });
      expect(ack.data.activeRun).toBeNull();
      expect(ack.data.changes).toEqual([expect.objectContaining({ id: started.message.id, status: 'complete', content: 'Slowly but surely done.', version: 3 })]);
      expect(ack.data.version).toBe(3);
    });

    it('resumes an SSE stream from Last-Event-ID with the reply in its final state', async () => {
      const id = await conversation();
      fake.enqueue({ kind: 'text', chunks: ['Streamed ', 'while ', 'you ', 'were ', 'away.'], delayMs: 150 });
      const live = await untilLive(await openEvents(alice, id));
      const seen = readFrames(live, (frames) => frames.some((f) => f.event === 'message:created' && f.data.message.role === 'assistant'));
      const { run } = await send(bob, id, 'Tell me');
      const frames = await seen;
      expect(frames.find((f) => f.event === 'message:created' && f.data.message.role === 'assistant')!.data.message.status).toBe('streaming');
      const resumeFrom = lastEventId(frames)!;
      expect(resumeFrom).toBe('2');
      await runEnded(id, run.id);

      const resumed = await readFrames(await openEvents(alice, id, { 'last-event-id': resumeFrom }), (f) => f.some((frame) => frame.event === undefined));
      const reply = resumed.find((f) => f.event === 'message:updated')!;
      expect(reply.data.message).toMatchObject({ runId: run.id, status: 'complete', content: 'Streamed while you were away.', version: 3 });
      expect(reply.id).toBe('3');
      expect(lastEventId(resumed)).toBe('3');
    });
  });

  describe('an edit and a deletion made while a client was away', () => {
    async function changedWhileAway(id: string) {
      const kept = await send(bob, id, 'first draft');
      const doomed = await send(bob, id, 'a mistake');
      const before = (await api(alice, `/conversations/${id}`)).body.version;
      expect(before).toBe(2);
      const edited = await api(bob, `/conversations/${id}/messages/${kept.message.id}`, { method: 'PATCH', json: { content: 'final draft' } });
      expect(edited.body).toMatchObject({ content: 'final draft', version: 3 });
      expect((await api(bob, `/conversations/${id}/messages/${doomed.message.id}`, { method: 'DELETE' })).status).toBe(204);
      return { before, kept: kept.message.id, doomed: doomed.message.id };
    }

    it('are delivered on re-join', async () => {
      const id = await conversation('off');
      const { before, kept, doomed } = await changedWhileAway(id);
      const client = await connect(alice);
      const ack = await client.emit('conversation:join', { conversationId: id, afterVersion: before });
      expect(ack.data.changes).toEqual([
        expect.objectContaining({ id: kept, content: 'final draft', editedAt: expect.any(String), deletedAt: null, version: 3 }),
        expect.objectContaining({ id: doomed, content: '', deletedAt: expect.any(String), version: 4 }),
      ]);
      expect(ack.data).toMatchObject({ hasMore: false, version: 4 });
    });

    it('are delivered on SSE resume', async () => {
      const id = await conversation('off');
      const { before, kept, doomed } = await changedWhileAway(id);
      const resumed = await readFrames(await openEvents(alice, id, { 'last-event-id': String(before) }), (f) => f.some((frame) => frame.event === undefined));
      expect(resumed.map((f) => [f.event, f.id])).toEqual([
        ['message:updated', '3'],
        ['message:deleted', '4'],
        ['conversation:updated', undefined],
        [undefined, '4'],
      ]);
      expect(resumed[0]!.data).toMatchObject({ message: { id: kept, content: 'final draft' }, version: 3 });
      expect(resumed[1]!.data).toEqual({ conversationId: id, messageId: doomed, version: 4 });
    });

    it('keeps the deprecated afterSeq answering missed messages for one release', async () => {
      const id = await conversation('off');
      await changedWhileAway(id);
      const client = await connect(alice);
      const ack = await client.emit('conversation:join', { conversationId: id, afterSeq: 1 });
      expect(ack.data.missed.map((m: Message) => m.seq)).toEqual([2]);
      expect(ack.data).toMatchObject({ changes: [], hasMore: false, version: 4 });
    });
  });

  it('announces every change with its version, gap-free, in the order the changes were made', async () => {
    const id = await conversation('mention');
    const client = await connect(alice);
    await client.emit('conversation:join', { conversationId: id });
    const mark = () => client.received.length;
    const versionsSince = (from: number) =>
      client.received
        .slice(from)
        .filter((r) => VERSIONED.includes(r.event) && r.payload.version !== undefined)
        .map((r) => r.payload.version as number);

    let from = mark();
    const hello = await send(bob, id, 'hello');
    await client.waitFor('message:created', (p) => p.message.id === hello.message.id);
    expect(versionsSince(from)).toEqual([1]);

    from = mark();
    fake.enqueue({ kind: 'text', chunks: ['Hi ', 'there.'] });
    const asked = await send(bob, id, '@agent hi', true);
    await client.waitFor('run:completed', (p) => p.run.id === asked.run.id);
    // The question, the reply's creation, then its final state (message:updated and run:completed).
    expect(versionsSince(from)).toEqual([2, 3, 4, 4]);
    const completed = client.of('run:completed').at(-1);
    expect(completed).toMatchObject({ version: 4, message: { id: asked.reply.id, version: 4, content: 'Hi there.' } });

    from = mark();
    await api(bob, `/conversations/${id}/messages/${hello.message.id}`, { method: 'PATCH', json: { content: 'hello, all' } });
    await api(bob, `/conversations/${id}/messages/${hello.message.id}`, { method: 'DELETE' });
    await api(alice, `/conversations/${id}`, { method: 'PATCH', json: { title: 'renamed' } });
    await api(alice, `/conversations/${id}`, { method: 'PATCH', json: { agent: { systemPrompt: 'Be brief.' } } });
    await api(alice, `/conversations/${id}/participants`, { method: 'POST', json: { userId: eve.id, role: 'viewer' } });
    await api(alice, `/conversations/${id}/participants/${eve.id}`, { method: 'DELETE' });
    await client.waitFor('conversation:updated', (p) => p.version === 10);
    expect(versionsSince(from)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(client.of('message:updated').at(-1)).toMatchObject({ version: 5, message: { version: 5, content: 'hello, all' } });
    expect(client.of('message:deleted').at(-1)).toEqual({ conversationId: id, messageId: hello.message.id, version: 6 });
    expect(client.of('conversation:updated').filter((p) => p.version).map((p) => [p.version, p.conversation.version])).toEqual([
      [7, 7],
      [8, 8],
      [9, 9],
      [10, 10],
    ]);

    // A run cancelled while it waits in the queue ends with a version of its own.
    from = mark();
    fake.enqueue({ kind: 'text', chunks: ['busy ', 'busy ', 'busy'], delayMs: 150 }, { kind: 'text', chunks: ['never'] });
    const first = await send(bob, id, '@agent one');
    const queued = await send(bob, id, '@agent two');
    const cancelled = await api(bob, `/conversations/${id}/runs/${queued.run.id}/cancel`, { method: 'POST' });
    expect(cancelled.body.status).toBe('cancelled');
    await runEnded(id, first.run.id);
    await client.waitFor('run:completed', (p) => p.run.id === first.run.id);
    const versions = versionsSince(from);
    expect(client.of('run:cancelled').at(-1)).toMatchObject({ run: { id: queued.run.id }, version: expect.any(Number) });
    // One, its reply, two, the cancel, the reply's final state (twice: message and run) — in whatever order they raced.
    expect(new Set(versions)).toEqual(new Set([11, 12, 13, 14, 15]));
    expect(versions).toHaveLength(6);

    // Per-user changes take no version and announce none.
    from = mark();
    await api(alice, `/conversations/${id}/read`, { method: 'POST', json: { seq: 3 } });
    await api(alice, `/conversations/${id}`, { method: 'PATCH', json: { pinned: true } });
    await client.waitFor('conversation:updated', (p) => p.conversation.pinned === true);
    expect(client.received.slice(from).filter((r) => r.event === 'conversation:updated').map((r) => r.payload.version)).toEqual([undefined, undefined]);

    const final = (await api(alice, `/conversations/${id}`)).body;
    expect(final.version).toBe(15);
    const all = client.received.filter((r) => VERSIONED.includes(r.event) && r.payload.version !== undefined).map((r) => r.payload.version as number);
    expect([...new Set(all)].toSorted((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  describe('GET /conversations/:id/changes', () => {
    it('pages to the end and equals the server history', async () => {
      const id = await conversation('off');
      const sent: string[] = [];
      for (let i = 0; i < 7; i++) sent.push((await send(bob, id, `message ${i}`)).message.id);
      await api(bob, `/conversations/${id}/messages/${sent[0]}`, { method: 'PATCH', json: { content: 'message 0, edited' } });
      await api(bob, `/conversations/${id}/messages/${sent[3]}`, { method: 'DELETE' });
      await api(bob, `/conversations/${id}/messages/${sent[5]}`, { method: 'PATCH', json: { content: 'message 5, edited' } });

      const held = new Map<string, Message>();
      let afterVersion = 0;
      let pages = 0;
      for (let hasMore = true; hasMore; pages++) {
        const page = await api(alice, `/conversations/${id}/changes?afterVersion=${afterVersion}&limit=3`);
        expect(page.status).toBe(200);
        expect(page.body.version).toBe(10);
        const versions = page.body.items.map((m: Message) => m.version);
        expect(versions).toEqual(versions.toSorted((a: number, b: number) => a - b));
        for (const message of page.body.items as Message[]) held.set(message.id, message);
        hasMore = page.body.hasMore;
        afterVersion = hasMore ? page.body.items.at(-1).version : page.body.version;
      }
      expect(pages).toBe(3);
      expect(afterVersion).toBe(10);
      expect([...held.values()].toSorted((a, b) => a.seq - b.seq)).toEqual(await history(id));

      const none = await api(alice, `/conversations/${id}/changes?afterVersion=10`);
      expect(none.body).toMatchObject({ items: [], hasMore: false, version: 10, conversation: { id, version: 10 } });

      // A change that is no message (the title) is in the feed's conversation: polling sees it.
      expect((await api(alice, `/conversations/${id}`, { method: 'PATCH', json: { title: 'renamed while polling' } })).status).toBe(200);
      const renamed = await api(alice, `/conversations/${id}/changes?afterVersion=10`);
      expect(renamed.body).toMatchObject({ items: [], version: 11, conversation: { title: 'renamed while polling', version: 11 } });
    });

    it.each([
      ['a malformed afterVersion', '?afterVersion=abc'],
      ['a negative afterVersion', '?afterVersion=-1'],
      ['a future afterVersion', '?afterVersion=1'],
      ['an afterVersion beyond any integer', `?afterVersion=${'9'.repeat(30)}`],
      ['a limit over 500', '?afterVersion=0&limit=501'],
      ['a limit of 0', '?afterVersion=0&limit=0'],
    ])('refuses %s with 400 VALIDATION', async (_name, query) => {
      const id = await conversation('off');
      const response = await api(alice, `/conversations/${id}/changes${query}`);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'VALIDATION', details: expect.any(Object) });
    });

    it('is 404 for a conversation the caller cannot see', async () => {
      const id = await conversation('off');
      expect((await api(eve, `/conversations/${id}/changes?afterVersion=0`)).status).toBe(404);
    });
  });
});
