import { randomUUID } from 'node:crypto';
import type { Namespace } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConversationCache } from '../../src/conversations/conversation-cache.js';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import { ChatGateway } from '../../src/gateway/chat.gateway.js';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { decodePayload, signHs256 } from '../support/jwt.js';
import { expectNoEvent, RecordingClient } from '../support/socket-client.js';
import { waitUntil } from '../support/conditions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';


describe('Socket.IO gateway', () => {
  let t: TestApp;
  let fake: FakeOpenAI;
  let alice: Registered;
  let bob: Registered;
  let eve: Registered;
  let conversationId: string;
  const sockets: Socket[] = [];

  const connect = (token: string | undefined, options: Record<string, unknown> = {}) =>
    io(`${t.baseUrl}/chat`, { auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: false, forceNew: true, ...options });

  async function client(user: Registered): Promise<RecordingClient> {
    const socket = connect(user.accessToken);
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return new RecordingClient(socket);
  }

  async function connectError(token: string | undefined): Promise<string> {
    const socket = connect(token);
    sockets.push(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect_error', (error) => resolve(error.message));
      socket.once('connect', () => reject(new Error('connected')));
    });
  }

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'test',
      MESSAGE_RATE_LIMIT: '10',
      MESSAGE_RATE_WINDOW_SECONDS: '60',
    });
    [alice, bob, eve] = await Promise.all([register(t, { displayName: 'Alice' }), register(t, { displayName: 'Bob' }), register(t, { displayName: 'Eve' })]);
    conversationId = (
      await t.http(`${API}/conversations`, { method: 'POST', token: alice.accessToken, json: { title: 'room', participantIds: [bob.id], agent: { mode: 'mention' } } })
    ).body.id;
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
    fake.reset();
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  describe('handshake', () => {
    it.each([
      ['no token', () => undefined],
      ['an empty token', () => ''],
      ['garbage', () => 'not-a-jwt'],
      ['a token signed with another secret', () => signHs256(decodePayload(alice.accessToken), 'x'.repeat(40))],
      ['an expired token', () => signHs256({ ...decodePayload(alice.accessToken), exp: Math.floor(Date.now() / 1000) - 5 }, t.config.auth.jwtSecret)],
    ])('refuses %s with connect_error "unauthorized"', async (_, token) => {
      expect(await connectError(token())).toBe('unauthorized');
    });

    it('refuses browsers from origins not in CORS_ORIGINS', async () => {
      const socket = connect(alice.accessToken, { extraHeaders: { origin: 'https://evil.example.com' } });
      sockets.push(socket);
      const outcome = await new Promise<string>((resolve) => {
        socket.once('connect_error', () => resolve('refused'));
        socket.once('connect', () => resolve('connected'));
      });
      expect(outcome).toBe('refused');
    });

    it('serves no anonymous socket on the default namespace', async () => {
      const socket = io(t.baseUrl, { auth: { token: alice.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(socket);
      const outcome = await new Promise<string>((resolve) => {
        socket.once('connect_error', (error) => resolve(error.message));
        socket.once('connect', () => resolve('connected'));
      });
      expect(outcome).toBe('Invalid namespace');
      expect(socket.connected).toBe(false);
    });

    it('refuses the token of a deleted account', async () => {
      const doomed = await register(t);
      await t.http(`${API}/auth/me`, { method: 'DELETE', token: doomed.accessToken });
      expect(await connectError(doomed.accessToken)).toBe('unauthorized');
    });

    it('ends the session when the access token expires on a live socket', async () => {
      const claims = decodePayload(alice.accessToken);
      const token = signHs256({ ...claims, jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 2 }, t.config.auth.jwtSecret);
      const socket = connect(token);
      sockets.push(socket);
      const events: string[] = [];
      socket.on('session:expired', () => events.push('session:expired'));
      const reason = await new Promise<string>((resolve) => socket.on('disconnect', resolve));
      expect(events).toEqual(['session:expired']);
      expect(reason).toBe('io server disconnect');
    });
  });

  describe('events and acknowledgements', () => {
    it('fans a message out to every socket of every participant, the sender\'s other tabs included, and to no outsider', async () => {
      const [a1, a2, b1, e1] = await Promise.all([client(alice), client(alice), client(bob), client(eve)]);
      for (const c of [a1, a2, b1]) expect((await c.emit('conversation:join', { conversationId })).ok).toBe(true);
      const outsiderJoin = await e1.emit('conversation:join', { conversationId });
      expect(outsiderJoin).toEqual({ ok: false, error: expect.objectContaining({ code: 'NOT_FOUND' }) });

      const sent = await a1.emit('message:send', { conversationId, content: 'hello team', clientMessageId: randomUUID() });
      expect(sent).toEqual({ ok: true, data: { message: expect.objectContaining({ content: 'hello team', authorId: alice.id }), run: null } });
      for (const c of [a1, a2, b1]) {
        expect((await c.waitFor('message:created', (p) => p.message.id === sent.data.message.id)).message.seq).toBe(sent.data.message.seq);
      }
      // The others have it; the outsider would have had it in the same emit.
      await expectNoEvent(e1, 'message:created', () => true, 100);
      expect(e1.received.filter((r) => r.event !== 'conversation:updated')).toEqual([]);
      expect(e1.of('message:created')).toEqual([]);
    });

    it('answers invalid payloads and unknown conversations with acks, and the socket stays usable', async () => {
      const a = await client(alice);
      expect(await a.emit('message:send', { conversationId: 'nope', content: 42 })).toEqual({
        ok: false,
        error: { code: 'VALIDATION', message: 'Validation failed', details: { conversationId: expect.any(Array), content: expect.any(Array) } },
      });
      expect((await a.emit('message:send', 'just a string')).error.code).toBe('VALIDATION');
      expect((await a.emit('message:send', null)).error.code).toBe('VALIDATION');
      expect((await a.emit('message:send', { conversationId, content: 'x'.repeat(16_001) })).error.code).toBe('VALIDATION');
      expect((await a.emit('conversation:join', { conversationId: randomUUID() })).error).toMatchObject({ code: 'NOT_FOUND', details: { reason: 'CONVERSATION_NOT_FOUND' } });
      expect((await a.emit('conversation:join', { conversationId, extra: true })).error.code).toBe('VALIDATION');
      expect((await a.emit('conversation:join', { conversationId, afterSeq: '5' })).error.code).toBe('VALIDATION');
      expect((await a.emit('conversation:join', { conversationId, afterSeq: -1 })).error.code).toBe('VALIDATION');
      // Left out is allowed; null is not a version (it once reached the changes query as one).
      expect((await a.emit('conversation:join', { conversationId, afterVersion: null })).error).toMatchObject({ code: 'VALIDATION', details: { afterVersion: expect.any(Array) } });
      expect((await a.emit('conversation:join', { conversationId, afterSeq: null })).error.code).toBe('VALIDATION');
      expect((await a.emit('run:cancel', { runId: "'; DROP TABLE agent_runs;--" })).error.code).toBe('VALIDATION');
      expect((await a.emit('no:such:event', { x: 1 })).error.code).toBe('NOT_FOUND');
      // A numeric event name is valid on the wire; it once crashed the process.
      expect((await a.emit(7 as unknown as string, { x: 1 })).error.code).toBe('NOT_FOUND');
      expect((await a.emit('typing:start', { conversationId })).error.code).toBe('NOT_FOUND');
      expect((await a.emit('conversation:join', { conversationId })).ok).toBe(true);
      expect(a.socket.connected).toBe(true);
    });

    it('answers payloads nested deeper than 32 levels with VALIDATION, up to the frame limit, and stays up', async () => {
      const a = await client(alice);
      // Sent as raw frames: the client's own encoder would overflow its stack on these.
      const engine = (a.socket.io as unknown as { engine: { write(data: string): void; on(event: 'message', listener: (data: string) => void): void } }).engine;
      const acks = new Map<number, any>();
      engine.on('message', (data) => {
        const match = /^3\/chat,(\d+)(.*)$/s.exec(String(data));
        if (match) acks.set(Number(match[1]), JSON.parse(match[2]!)[0]);
      });
      const deep = {
        arrays: '['.repeat(30_000) + ']'.repeat(30_000),
        objects: '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
        inField: `{"conversationId":"${conversationId}","afterSeq":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
        justOver: '['.repeat(33) + ']'.repeat(33),
      };
      const ids = Object.keys(deep).map((_, i) => 900 + i);
      Object.values(deep).forEach((payload, i) => engine.write(`2/chat,${ids[i]}["conversation:join",${payload}]`));
      await vi.waitFor(() => expect(acks.size).toBe(ids.length), { timeout: 5000 });
      for (const id of ids) expect(acks.get(id)).toEqual({ ok: false, error: { code: 'VALIDATION', message: expect.stringContaining('nested'), details: { maxDepth: 32 } } });
      // At the limit, the payload reaches validation like any other.
      const atLimit = JSON.parse('['.repeat(32) + ']'.repeat(32));
      expect((await a.emit('conversation:join', atLimit)).error).toMatchObject({ code: 'VALIDATION', message: 'Validation failed' });
      expect((await a.emit('conversation:join', { conversationId })).ok).toBe(true);
    });

    it('rate-limits every event per socket with RATE_LIMITED acks', async () => {
      const [a, other] = await Promise.all([client(alice), client(alice)]);
      const events: [string, unknown][] = [
        ['conversation:join', { conversationId }],
        ['conversation:leave', { conversationId }],
        ['typing:stop', { conversationId }],
        ['conversation:read', { conversationId, seq: 0 }],
        ['run:cancel', { runId: randomUUID() }],
        ['no:such:event', {}],
      ];
      const acks = await Promise.all(Array.from({ length: 180 }, (_, i) => a.emit(...events[i % events.length]!)));
      const limited = acks.filter((ack) => ack.error?.code === 'RATE_LIMITED');
      expect(limited.length).toBeGreaterThanOrEqual(60);
      expect(limited[0]).toEqual({ ok: false, error: { code: 'RATE_LIMITED', message: expect.any(String), details: { retryAfterSeconds: expect.any(Number) } } });
      // Each kind was refused at least once: no event is exempt.
      const refusedKinds = new Set(acks.flatMap((ack, i) => (ack.error?.code === 'RATE_LIMITED' ? [events[i % events.length]![0]] : [])));
      expect(refusedKinds.size).toBe(events.length);
      expect(a.socket.connected).toBe(true);
      // The limit is the socket's, not the user's.
      expect((await other.emit('conversation:join', { conversationId })).ok).toBe(true);
    });

    it('refuses sends from a viewer with FORBIDDEN', async () => {
      const viewer = await register(t);
      await t.http(`${API}/conversations/${conversationId}/participants`, { method: 'POST', token: alice.accessToken, json: { userId: viewer.id, role: 'viewer' } });
      const v = await client(viewer);
      expect((await v.emit('conversation:join', { conversationId })).ok).toBe(true);
      expect((await v.emit('message:send', { conversationId, content: 'let me in' })).error.code).toBe('FORBIDDEN');
      // Typing needs what sending needs.
      expect((await v.emit('typing:start', { conversationId })).error).toMatchObject({ code: 'FORBIDDEN', message: 'Viewers cannot send messages' });
      expect((await v.emit('typing:stop', { conversationId })).ok).toBe(true);
    });

    it('limits a flood of sends with RATE_LIMITED acks, and every ok ack is persisted', async () => {
      const flooder = await register(t);
      const id = (await t.http(`${API}/conversations`, { method: 'POST', token: flooder.accessToken, json: { agent: { mode: 'off' } } })).body.id;
      const f = await client(flooder);
      const acks = await Promise.all(Array.from({ length: 25 }, (_, i) => f.emit('message:send', { conversationId: id, content: `flood ${i}` })));
      const ok = acks.filter((a) => a.ok);
      expect(ok).toHaveLength(10);
      expect(acks.filter((a) => !a.ok).every((a) => a.error.code === 'RATE_LIMITED')).toBe(true);
      const history = await t.http(`${API}/conversations/${id}/messages`, { token: flooder.accessToken });
      expect(history.body.items.map((m: { id: string }) => m.id).sort()).toEqual(ok.map((a) => a.data.message.id).sort());
    });

    it('drops only the socket that sends a frame over 64 KB', async () => {
      const [big, other] = await Promise.all([client(alice), client(alice)]);
      const disconnected = new Promise<string>((resolve) => big.socket.on('disconnect', resolve));
      big.socket.emit('message:send', { conversationId, content: 'x'.repeat(70 * 1024) });
      expect(await disconnected).toBe('transport close');
      expect((await other.emit('conversation:join', { conversationId })).ok).toBe(true);
    });

    it('moves the read marker', async () => {
      const b = await client(bob);
      const ack = await b.emit('conversation:read', { conversationId, seq: 1 });
      expect(ack).toEqual({ ok: true, data: { conversationId, seq: 1 } });
      expect((await b.emit('conversation:read', { conversationId, seq: -1 })).error.code).toBe('VALIDATION');
    });
  });

  describe('typing and presence', () => {
    it('broadcasts typing to the others only, and expires it after 5 s', async () => {
      const [a1, a2, b1] = await Promise.all([client(alice), client(alice), client(bob)]);
      for (const c of [a1, a2, b1]) await c.emit('conversation:join', { conversationId });
      expect((await a1.emit('typing:start', { conversationId })).ok).toBe(true);
      expect(await b1.waitFor('typing')).toEqual({ conversationId, userId: alice.id, isTyping: true });
      const started = Date.now();
      expect(await b1.waitFor('typing', (p) => p.isTyping === false, 7000)).toEqual({ conversationId, userId: alice.id, isTyping: false });
      expect(Date.now() - started).toBeGreaterThan(4000);
      expect(a1.of('typing')).toEqual([]);
      expect(a2.of('typing')).toEqual([]);

      await a1.emit('typing:start', { conversationId });
      await b1.waitFor('typing', (p) => p.isTyping === true && b1.of('typing').length === 3);
      await a1.emit('typing:stop', { conversationId });
      await b1.waitFor('typing', () => b1.of('typing').length === 4);
      expect(b1.of('typing').at(-1).isTyping).toBe(false);
    }, 15_000);

    it('relays a flood of alternating typing:start/stop at most once per 2 s, ending in the last state', async () => {
      const id = (await t.http(`${API}/conversations`, { method: 'POST', token: alice.accessToken, json: { participantIds: [bob.id], agent: { mode: 'off' } } })).body.id;
      const [a, b] = await Promise.all([client(alice), client(bob)]);
      for (const c of [a, b]) await c.emit('conversation:join', { conversationId: id });
      // Within the socket's burst, so each of these reaches the typing rules.
      const acks = await Promise.all(Array.from({ length: 90 }, (_, i) => a.emit(i % 2 ? 'typing:stop' : 'typing:start', { conversationId: id })));
      expect(acks.every((ack) => ack.ok)).toBe(true);
      await b.waitFor('typing', (p) => p.isTyping === false, 4000);
      await expectNoEvent(b, 'typing', () => true, 300);
      expect(b.of('typing')).toEqual([
        { conversationId: id, userId: alice.id, isTyping: true },
        { conversationId: id, userId: alice.id, isTyping: false },
      ]);
    });

    it('applies a typing:stop after the typing:start sent before it, even when the start waits on the database', async () => {
      const id = (await t.http(`${API}/conversations`, { method: 'POST', token: alice.accessToken, json: { participantIds: [bob.id], agent: { mode: 'off' } } })).body.id;
      const [a, b] = await Promise.all([client(alice), client(bob)]);
      for (const c of [a, b]) await c.emit('conversation:join', { conversationId: id });
      // With the conversation out of the cache, both access checks go to the database, the start's slowly.
      const cache = t.app.get(ConversationCache);
      const missing = vi.spyOn(cache, 'getOrLoad').mockImplementation((conversation, read) => read(conversation));
      const repository = t.app.get(ConversationsRepository);
      const findView = repository.findView.bind(repository);
      const server = (t.app.get(ChatGateway) as unknown as { server: Namespace }).server.sockets.get(a.socket.id!)!;
      const stopArrived = new Promise<void>((resolve) => server.once('typing:stop', () => resolve()));
      let slowed = false;
      const spy = vi.spyOn(repository, 'findView').mockImplementation(async (conversation) => {
        if (!slowed) {
          slowed = true;
          // The start's check waits for the stop to arrive and to get as far as it can without it
          // (no I/O before its own check: one turn of the event loop): unordered, it would overtake.
          await stopArrived;
          await new Promise((resolve) => setImmediate(resolve));
        }
        return findView(conversation);
      });
      try {
        const acks = await Promise.all([a.emit('typing:start', { conversationId: id }), a.emit('typing:stop', { conversationId: id })]);
        expect(acks.every((ack) => ack.ok)).toBe(true);
      } finally {
        spy.mockRestore();
        missing.mockRestore();
      }
      // The stop follows within the 2 s relay interval; applied before the start, the start would stand until it expires (5 s).
      expect(await b.waitFor('typing', (p) => p.isTyping === false, 3000)).toEqual({ conversationId: id, userId: alice.id, isTyping: false });
      expect(b.of('typing').map((p) => p.isTyping)).toEqual([true, false]);
    });

    it('reports presence per user on join, leave and disconnect', async () => {
      const b1 = await client(bob);
      await b1.emit('conversation:join', { conversationId });
      const [a1, a2] = await Promise.all([client(alice), client(alice)]);
      await a1.emit('conversation:join', { conversationId });
      expect(await b1.waitFor('presence', (p) => p.online.length === 2)).toEqual({ conversationId, online: [alice.id, bob.id].sort() });
      await a2.emit('conversation:join', { conversationId });
      await a1.emit('conversation:leave', { conversationId });
      // Alice is still online through her second tab: no presence without her (presence is coalesced over 100 ms).
      await expectNoEvent(b1, 'presence', (p) => !p.online.includes(alice.id), 200);
      expect(b1.of('presence').at(-1).online).toContain(alice.id);
      a2.socket.close();
      expect(await b1.waitFor('presence', (p) => !p.online.includes(alice.id))).toEqual({ conversationId, online: [bob.id] });
    });

    it('takes a removed participant out of the room at once', async () => {
      const carol = await register(t);
      await t.http(`${API}/conversations/${conversationId}/participants`, { method: 'POST', token: alice.accessToken, json: { userId: carol.id, role: 'member' } });
      const c1 = await client(carol);
      expect((await c1.emit('conversation:join', { conversationId })).ok).toBe(true);
      const a1 = await client(alice);
      await a1.emit('conversation:join', { conversationId });
      await t.http(`${API}/conversations/${conversationId}/participants/${carol.id}`, { method: 'DELETE', token: alice.accessToken });
      await waitUntil(async () => (await c1.emit('typing:start', { conversationId })).error?.code === 'NOT_FOUND', 'carol out of the room');
      await t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token: alice.accessToken, json: { content: 'after carol left' } });
      // The room still works for those who stayed; by then Carol would have had it too.
      await a1.waitFor('message:created', (e) => e.message.content === 'after carol left');
      await expectNoEvent(c1, 'message:created', (e) => e.message.content === 'after carol left', 100);
    });

    it('takes everyone out of a deleted conversation: no events, no typing, no presence', async () => {
      const id = (await t.http(`${API}/conversations`, { method: 'POST', token: alice.accessToken, json: { title: 'doomed', participantIds: [bob.id] } })).body.id;
      const [a1, b1] = await Promise.all([client(alice), client(bob)]);
      await a1.emit('conversation:join', { conversationId: id });
      await b1.emit('conversation:join', { conversationId: id });
      expect((await t.http(`${API}/conversations/${id}`, { method: 'DELETE', token: alice.accessToken })).status).toBe(204);
      await waitUntil(async () => (await b1.emit('typing:start', { conversationId: id })).error?.code === 'NOT_FOUND', 'bob out of the room');
      expect((await a1.emit('typing:start', { conversationId: id })).error.code).toBe('NOT_FOUND');
      expect(b1.of('typing')).toEqual([]);
    });
  });

  describe('agent streaming', () => {
    it('streams deltas that add up to the persisted reply', async () => {
      fake.enqueue({ kind: 'text', chunks: ['Sure', ', ', 'here ', 'it ', 'is.'], delayMs: 40 });
      const b = await client(bob);
      await b.emit('conversation:join', { conversationId });
      const sent = await b.emit('message:send', { conversationId, content: '@agent help' });
      expect(sent.data.run).toMatchObject({ status: 'running' });
      const completed = await b.waitFor('run:completed', (p) => p.run.id === sent.data.run.id);
      const deltas = b.of('run:delta').filter((d) => d.runId === sent.data.run.id);
      expect(deltas.map((d) => d.index)).toEqual(deltas.map((_: unknown, i: number) => i));
      expect(deltas.map((d) => d.text).join('')).toBe(completed.message.content);
      expect(completed.message.content).toBe('Sure, here it is.');
      expect(b.of('run:started').some((p) => p.run.id === sent.data.run.id)).toBe(true);
    });

    it('loses nothing on a reconnect mid-stream: deltas before + snapshot + deltas after = final text', async () => {
      fake.enqueue({ kind: 'text', chunks: Array.from({ length: 60 }, (_, i) => `t${i} `), delayMs: 15 });
      const first = await client(alice);
      const joined = await first.emit('conversation:join', { conversationId });
      const lastSeq = joined.data.conversation.lastSeq;
      const sent = await first.emit('message:send', { conversationId, content: '@agent long answer please' });
      const runId = sent.data.run.id;
      await first.waitFor('run:delta', (d) => d.runId === runId && d.index >= 5);
      first.socket.close();
      const before = first.of('run:delta').filter((d) => d.runId === runId);

      const second = await client(alice);
      const rejoined = await second.emit('conversation:join', { conversationId, afterSeq: lastSeq });
      expect(rejoined.ok).toBe(true);
      const { missed, activeRun } = rejoined.data;
      expect(missed.map((m: { content: string }) => m.content)).toContain('@agent long answer please');
      expect(activeRun).toMatchObject({ run: { id: runId, status: 'running' }, content: expect.any(String), index: expect.any(Number) });
      expect(activeRun.index).toBeGreaterThanOrEqual(before.length - 1);
      expect(activeRun.content.startsWith(before.map((d: { text: string }) => d.text).join(''))).toBe(true);

      const completed = await second.waitFor('run:completed', (p) => p.run.id === runId);
      const after = second.of('run:delta').filter((d) => d.runId === runId && d.index > activeRun.index);
      expect(after.map((d: { index: number }) => d.index)).toEqual(Array.from({ length: after.length }, (_, i) => activeRun.index + 1 + i));
      expect(activeRun.content + after.map((d: { text: string }) => d.text).join('')).toBe(completed.message.content);
      expect(completed.message.content).toBe(Array.from({ length: 60 }, (_, i) => `t${i} `).join(''));
    });

    it('checkpoints a streaming reply with the index of the last delta in it, so that the stored text and index agree', async () => {
      const chunks = Array.from({ length: 100 }, (_, i) => `c${i} `);
      fake.enqueue({ kind: 'text', chunks, delayMs: 25 });
      const messages = t.app.get(MessagesRepository);
      const a = await client(alice);
      await a.emit('conversation:join', { conversationId });
      const sent = await a.emit('message:send', { conversationId, content: '@agent checkpoint as you go' });
      const runId = sent.data.run.id;
      const started = await a.waitFor('run:started', (p) => p.run.id === runId);
      const readings: { content: string; index: number }[] = [];
      while (!a.of('run:completed').some((p) => p.run.id === runId)) {
        const checkpoint = await messages.streamCheckpoint(started.run.responseMessageId);
        if (checkpoint && checkpoint.index >= 0 && checkpoint.index !== readings.at(-1)?.index) readings.push(checkpoint);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(readings.length).toBeGreaterThan(0);
      const deltas = a.of('run:delta').filter((d) => d.runId === runId);
      for (const { content, index } of readings) {
        expect(content).toBe(deltas.slice(0, index + 1).map((d: { text: string }) => d.text).join(''));
      }
      // Once the reply has its final text the checkpoint no longer stands for it.
      expect(await messages.streamCheckpoint(started.run.responseMessageId)).toBeUndefined();
    });

    it('lets another participant cancel a run from their socket; an outsider cannot', async () => {
      fake.enqueue({ kind: 'text', chunks: Array.from({ length: 200 }, (_, i) => `x${i} `), delayMs: 20 });
      const [a, b, e] = await Promise.all([client(alice), client(bob), client(eve)]);
      await a.emit('conversation:join', { conversationId });
      const sent = await a.emit('message:send', { conversationId, content: '@agent go on and on' });
      const runId = sent.data.run.id;
      await a.waitFor('run:delta', (d) => d.runId === runId);
      expect((await e.emit('run:cancel', { runId })).error.code).toBe('NOT_FOUND');
      const cancelled = await b.emit('run:cancel', { runId });
      expect(cancelled).toEqual({ ok: true, data: expect.objectContaining({ id: runId, status: 'cancelled' }) });
      expect((await a.waitFor('run:cancelled', (p) => p.run.id === runId)).run.status).toBe('cancelled');
      expect((await b.emit('run:cancel', { runId })).data.status).toBe('cancelled');
      expect((await b.emit('run:cancel', { runId: randomUUID() })).error.code).toBe('NOT_FOUND');
    });
  });

  it('exposes socket metrics', async () => {
    const a = await client(alice);
    await a.emit('conversation:join', { conversationId });
    const metrics = await t.http('/metrics');
    expect(metrics.text).toMatch(/socketio_connected_sockets \d+/);
    expect(metrics.text).toContain('socketio_events_in_total{event="conversation:join"}');
    expect(metrics.text).toContain('socketio_ack_duration_seconds_bucket');
  });

  // Last: it shuts the application down.
  it('tells clients on shutdown and drops their transport, so they reconnect elsewhere', async () => {
    const a = await client(alice);
    const reason = new Promise<string>((resolve) => a.socket.on('disconnect', resolve));
    await t.close();
    expect(a.of('server:shutdown')).toEqual([{ reconnect: true }]);
    expect(await reason).toBe('transport close');
  });
});
