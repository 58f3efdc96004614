import { execSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_CHANNEL } from '../../src/realtime/redis-realtime-bus.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { adminQuery, withDatabase } from '../support/database.js';
import { type AppProcess, freePort, spawnApp, waitForStatus } from '../support/process.js';
import { RedisServer } from '../support/redis-server.js';
import { api } from '../support/remote.js';
import { RecordingClient } from '../support/socket-client.js';
import { waitUntil } from '../support/conditions.js';

/**
 * Two real server processes sharing PostgreSQL and Redis. Needs TEST_DATABASE_URL; starts its own
 * redis-server (so it can stop and restart it); stops and restarts PostgreSQL with
 * TEST_PG_STOP / TEST_PG_START when they are set.
 */
const databaseServer = process.env.TEST_DATABASE_URL;
const JWT_SECRET = randomBytes(48).toString('base64url');

const until = <T>(probe: () => T | Promise<T>, timeoutMs = 15_000, what = 'the condition') => waitUntil(probe, what, timeoutMs);

describe.runIf(databaseServer)('two instances sharing PostgreSQL and Redis', () => {
  let fake: FakeOpenAI;
  let redis: RedisServer;
  let databaseUrl: string;
  let env: Record<string, string>;
  const apps: AppProcess[] = [];
  let one: AppProcess;
  let two: AppProcess;
  const sockets: Socket[] = [];
  let token: string;
  let otherToken: string;
  let otherId: string;
  let conversationId: string;

  async function startInstance(port?: number): Promise<AppProcess> {
    const app = spawnApp({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'agentchat-int-')) }, port ?? (await freePort()));
    apps.push(app);
    await waitForStatus(`${app.baseUrl}/health/ready`, 200, 30_000);
    return app;
  }

  const call = (app: AppProcess, method: string, path: string, auth?: string, body?: unknown) => api(app.baseUrl, method, path, auth, body);

  async function client(app: AppProcess, auth: string): Promise<RecordingClient> {
    const socket = io(`${app.baseUrl}/chat`, { auth: { token: auth }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return new RecordingClient(socket, 10_000);
  }

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    redis = new RedisServer(await freePort());
    await redis.start();
    const name = `agentchat_int_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE DATABASE "${name}"`);
    databaseUrl = withDatabase(databaseServer!, name);
    env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      JWT_SECRET,
      AGENT_PROVIDER: 'openai',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'test',
      AGENT_RETRY_BASE_MS: '50',
      LOG_LEVEL: 'warn',
    };
    one = await startInstance();
    two = await startInstance();
    const a = await call(one, 'POST', '/auth/register', undefined, { email: `a-${randomUUID()}@example.com`, password: 'correct horse battery', displayName: 'A' });
    const b = await call(two, 'POST', '/auth/register', undefined, { email: `b-${randomUUID()}@example.com`, password: 'correct horse battery', displayName: 'B' });
    token = a.body.accessToken;
    otherToken = b.body.accessToken;
    otherId = b.body.user.id;
    conversationId = (await call(one, 'POST', '/conversations', token, { title: 'shared', participantIds: [otherId], agent: { mode: 'mention' } })).body.id;
  }, 120_000);

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const app of apps) app.child.kill('SIGKILL');
    await Promise.all(apps.map((app) => app.exited));
    await redis?.stop();
    await fake?.stop();
  });

  it('delivers messages, typing and presence across instances', async () => {
    const a = await client(one, token);
    const b = await client(two, otherToken);
    expect((await a.emit('conversation:join', { conversationId })).ok).toBe(true);
    expect((await b.emit('conversation:join', { conversationId })).ok).toBe(true);
    const presence = await a.waitFor('presence', (p) => p.online.length === 2);
    expect(presence.online).toContain(otherId);

    const sent = await a.emit('message:send', { conversationId, content: 'across instances' });
    expect((await b.waitFor('message:created', (p) => p.message.id === sent.data.message.id)).message.content).toBe('across instances');

    await b.emit('typing:start', { conversationId });
    expect(await a.waitFor('typing', (p) => p.isTyping)).toMatchObject({ userId: otherId, isTyping: true });

    b.socket.close();
    await a.waitFor('presence', (p) => !p.online.includes(otherId));
  });

  it('streams the agent reply of one instance to clients of the other, and to SSE there', async () => {
    fake.enqueue({ kind: 'text', chunks: ['cross', '-instance ', 'reply'], delayMs: 20 });
    const b = await client(two, otherToken);
    await b.emit('conversation:join', { conversationId });
    const controller = new AbortController();
    const sse = await fetch(`${two.baseUrl}/api/v1/conversations/${conversationId}/events`, {
      headers: { authorization: `Bearer ${otherToken}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    let sseText = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of sse.body as unknown as AsyncIterable<Uint8Array>) sseText += decoder.decode(chunk);
      } catch {
        // aborted
      }
    })();

    const sent = await call(one, 'POST', `/conversations/${conversationId}/messages`, token, { content: '@agent hello' });
    const runId = sent.body.run.id;
    const completed = await b.waitFor('run:completed', (p) => p.run.id === runId);
    expect(completed.message.content).toBe('cross-instance reply');
    expect(b.of('run:delta').filter((d) => d.runId === runId).map((d) => d.text).join('')).toBe('cross-instance reply');
    await until(() => sseText.includes('event: run:completed'), 5000, 'SSE run:completed');
    controller.abort();
    await reading;
    expect(sseText).toContain('event: run:delta');
  });

  it('stops a run on one instance when cancel arrives at the other', async () => {
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 300 }, (_, i) => `w${i} `), delayMs: 20 });
    const a = await client(one, token);
    await a.emit('conversation:join', { conversationId });
    const sent = await a.emit('message:send', { conversationId, content: '@agent talk for a long time' });
    const runId = sent.data.run.id;
    await a.waitFor('run:delta', (d) => d.runId === runId && d.index >= 3);
    const cancelled = await call(two, 'POST', `/conversations/${conversationId}/runs/${runId}/cancel`, otherToken);
    expect(cancelled.body.status).toBe('cancelled');
    const event = await a.waitFor('run:cancelled', (p) => p.run.id === runId);
    expect(event.run.status).toBe('cancelled');
  });

  it('marks a run interrupted within 30 s when the instance running it is killed', async () => {
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 2000 }, (_, i) => `z${i} `), delayMs: 20 });
    const victim = await startInstance();
    const sent = await call(victim, 'POST', `/conversations/${conversationId}/messages`, token, { content: '@agent never finish' });
    const runId = sent.body.run.id;
    // Killed once the reply has a checkpoint of its text.
    const replyText = async () => {
      const history = await call(two, 'GET', `/conversations/${conversationId}/messages?limit=5`, token);
      return history.body.items.find((m: { runId: string | null }) => m.runId === runId)?.content as string | undefined;
    };
    await until(async () => (await replyText())?.startsWith('z0 z1 '), 10_000, 'a checkpoint of the reply');
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const run = await until(async () => {
      const current = (await call(two, 'GET', `/conversations/${conversationId}/runs/${runId}`, token)).body;
      return current.status === 'interrupted' ? current : undefined;
    }, 30_000, 'run interrupted');
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    expect(run.error.code).toBe('INTERRUPTED');
    const history = await call(two, 'GET', `/conversations/${conversationId}/messages?limit=5`, token);
    const reply = history.body.items.find((m: { runId: string | null }) => m.runId === runId);
    expect(reply.status).toBe('interrupted');
    expect(reply.content).toMatch(/^z0 z1 /);
  }, 60_000);

  it('keeps serving its own clients while Redis is down, reports it, and reconnects the instances when it returns', async () => {
    const a = await client(one, token);
    const b = await client(two, otherToken);
    await a.emit('conversation:join', { conversationId });
    await b.emit('conversation:join', { conversationId });
    await redis.stop();
    await waitForStatus(`${one.baseUrl}/health/ready`, 503, 10_000);

    const local = await client(one, token);
    await local.emit('conversation:join', { conversationId });
    const sent = await a.emit('message:send', { conversationId, content: 'while redis is down' });
    expect(sent.ok).toBe(true);
    await local.waitFor('message:created', (p) => p.message.id === sent.data.message.id);

    await redis.start();
    await waitForStatus(`${one.baseUrl}/health/ready`, 200, 20_000);
    await waitForStatus(`${two.baseUrl}/health/ready`, 200, 20_000);
    // Ready means publishing works; receiving needs each instance's subscriber back on the channel.
    await until(() => redis.subscribers(EVENTS_CHANNEL) === 2, 10_000, 'both instances subscribed again');
    const after = await a.emit('message:send', { conversationId, content: 'redis is back' });
    await b.waitFor('message:created', (p) => p.message.id === after.data.message.id, 10_000);
    // Nothing accepted during the outage was lost.
    const history = await call(two, 'GET', `/conversations/${conversationId}/messages?limit=10`, otherToken);
    expect(history.body.items.map((m: { content: string }) => m.content)).toEqual(expect.arrayContaining(['while redis is down', 'redis is back']));
  }, 60_000);

  it('joins on instance B while the reply streams on A and rebuilds it exactly: ack content + deltas with index > ack.index = the final text, no delta applied twice', async () => {
    const chunks = Array.from({ length: 240 }, (_, i) => `s${i} `);
    fake.enqueue({ kind: 'text', chunks, delayMs: 15 });
    const watcher = await client(one, token);
    await watcher.emit('conversation:join', { conversationId });
    const sent = await call(one, 'POST', `/conversations/${conversationId}/messages`, token, { content: '@agent stream slowly' });
    const runId = sent.body.run.id;
    await watcher.waitFor('run:delta', (d) => d.runId === runId);
    // Joins at random moments of the stream (once a random chunk in each of eight stretches of its
    // first two thirds has been streamed), on both instances: whichever executes the run, the
    // other is asked for its text across the bus.
    const joins: { app: AppProcess; client: RecordingClient; ack: any }[] = [];
    for (let i = 0; i < 8; i++) {
      const chunk = chunks[Math.floor((i + Math.random()) * 20)]!;
      await watcher.waitFor('run:delta', (d) => d.runId === runId && d.text.includes(chunk));
      const app = i % 2 ? two : one;
      const joiner = await client(app, i % 2 ? otherToken : token);
      joins.push({ app, client: joiner, ack: await joiner.emit('conversation:join', { conversationId }) });
    }
    const completed = await watcher.waitFor('run:completed', (p) => p.run.id === runId, 20_000);
    expect(completed.message.content).toBe(chunks.join(''));
    const deltas = watcher.of('run:delta').filter((d) => d.runId === runId);
    for (const { client: joiner, ack } of joins) {
      expect(ack.ok).toBe(true);
      await joiner.waitFor('run:completed', (p) => p.run.id === runId);
      const active = ack.data.activeRun;
      if (!active) continue;
      expect(active.run.id).toBe(runId);
      // The ack is consistent in itself: its text is that of deltas 0..index.
      expect(active.content).toBe(deltas.slice(0, active.index + 1).map((d) => d.text).join(''));
      const received = joiner.of('run:delta').filter((d) => d.runId === runId);
      const applied = received.filter((d) => d.index > active.index);
      // Every later delta arrived, once, in order: none missing at the seam, none repeated.
      expect(applied.map((d) => d.index)).toEqual(Array.from({ length: applied.length }, (_, i) => active.index + 1 + i));
      expect(active.content + applied.map((d) => d.text).join('')).toBe(completed.message.content);
    }
    const streaming = joins.filter(({ ack }) => ack.data.activeRun?.index >= 0);
    expect(new Set(streaming.map(({ app }) => app.baseUrl))).toEqual(new Set([one.baseUrl, two.baseUrl]));
  }, 60_000);

  it('after a Redis outage every instance tells its sockets to resync the conversations they joined', async () => {
    const second = (await call(one, 'POST', '/conversations', token, { title: 'second', participantIds: [otherId] })).body.id;
    const a = await client(one, token);
    const b = await client(two, otherToken);
    const idle = await client(two, otherToken);
    await a.emit('conversation:join', { conversationId });
    await a.emit('conversation:join', { conversationId: second });
    const joined = await b.emit('conversation:join', { conversationId });
    const controller = new AbortController();
    const sse = await fetch(`${two.baseUrl}/api/v1/conversations/${second}/events`, {
      headers: { authorization: `Bearer ${otherToken}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    let sseText = '';
    const sseEnded = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of sse.body as unknown as AsyncIterable<Uint8Array>) sseText += decoder.decode(chunk, { stream: true });
    })();
    await until(() => sseText.includes(': connected'), 5000, 'SSE stream open');

    await redis.stop();
    await waitForStatus(`${one.baseUrl}/health/ready`, 503, 10_000);
    await waitForStatus(`${two.baseUrl}/health/ready`, 503, 10_000);
    // Lost on its way to instance two: only a re-join brings it to b.
    const during = await a.emit('message:send', { conversationId, content: 'sent while redis was down' });
    expect(during.ok).toBe(true);
    await redis.start();

    const aResync = await a.waitFor('resync', () => true, 20_000);
    const bResync = await b.waitFor('resync', () => true, 20_000);
    expect([...aResync.conversationIds].sort()).toEqual([conversationId, second].sort());
    expect(bResync).toEqual({ conversationIds: [conversationId] });
    expect(idle.of('resync')).toEqual([]);
    await until(() => sseText.includes('event: resync'), 10_000, 'SSE resync');
    await sseEnded;
    expect(sseText).toContain(`event: resync\ndata: {"conversationIds":["${second}"]}`);
    controller.abort();

    // Presence is told again, and the recipe recovers what was lost.
    const resyncAt = b.received.findIndex((r) => r.event === 'resync');
    await until(
      () => b.received.slice(resyncAt).some((r) => r.event === 'presence' && r.payload.conversationId === conversationId && r.payload.online.length === 2),
      20_000,
      'presence after the outage',
    );
    const rejoined = await b.emit('conversation:join', { conversationId, afterSeq: joined.data.conversation.lastSeq });
    expect(rejoined.data.missed.map((m: { id: string }) => m.id)).toContain(during.data.message.id);
    expect(b.of('message:created').some((p) => p.message.id === during.data.message.id)).toBe(false);
  }, 60_000);

  it.runIf(process.env.TEST_PG_STOP && process.env.TEST_PG_START)(
    'answers 503 while PostgreSQL is down, loses nothing accepted, and recovers by itself',
    async () => {
      const before = await call(one, 'POST', `/conversations/${conversationId}/messages`, token, { content: 'before the outage' });
      expect(before.status).toBe(201);
      const live = await client(one, token);
      execSync(process.env.TEST_PG_STOP!, { stdio: 'ignore' });
      try {
        await waitForStatus(`${one.baseUrl}/health/ready`, 503, 15_000);
        const during = await call(one, 'POST', `/conversations/${conversationId}/messages`, token, { content: 'during the outage' });
        expect(during.status).toBe(503);
        expect(during.body).toMatchObject({ statusCode: 503, code: 'UNAVAILABLE', requestId: expect.any(String) });
        const ack = await live.emit('message:send', { conversationId, content: 'during the outage' });
        expect(ack).toMatchObject({ ok: false, error: { code: 'INTERNAL', details: { reason: 'UNAVAILABLE' } } });
      } finally {
        execSync(process.env.TEST_PG_START!, { stdio: 'ignore' });
      }
      await waitForStatus(`${one.baseUrl}/health/ready`, 200, 30_000);
      await waitForStatus(`${two.baseUrl}/health/ready`, 200, 30_000);
      const after = await until(async () => {
        const response = await call(two, 'POST', `/conversations/${conversationId}/messages`, otherToken, { content: 'after the outage' });
        return response.status === 201 ? response : undefined;
      }, 20_000, 'send after recovery');
      expect(after.status).toBe(201);
      const history = await call(one, 'GET', `/conversations/${conversationId}/messages?limit=20`, token);
      const contents = history.body.items.map((m: { content: string }) => m.content);
      expect(contents).toContain('before the outage');
      expect(contents).toContain('after the outage');
      expect(contents).not.toContain('during the outage');
    },
    90_000,
  );

  it('ends a session signed out on one instance on the other within a second: its REST token, its socket and its SSE stream', async () => {
    const email = `s-${randomUUID()}@example.com`;
    const signedUp = await call(one, 'POST', '/auth/register', undefined, { email, password: 'correct horse battery', displayName: 'S' });
    const other = await call(two, 'POST', '/auth/login', undefined, { email, password: 'correct horse battery' });
    const { accessToken, refreshToken } = signedUp.body;
    // Instance two has the session cached as live before it ends.
    expect((await call(two, 'GET', '/auth/me', accessToken)).status).toBe(200);
    const ending = await client(two, accessToken);
    const staying = await client(two, other.body.accessToken);
    const disconnected = new Promise<string>((resolve) => ending.socket.on('disconnect', resolve));
    const own = await call(one, 'POST', '/conversations', accessToken, { title: 'mine' });
    const sse = await fetch(`${two.baseUrl}/api/v1/conversations/${own.body.id}/events`, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'text/event-stream' },
    });
    expect(sse.status).toBe(200);
    let sseText = '';
    const sseEnded = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of sse.body as unknown as AsyncIterable<Uint8Array>) sseText += decoder.decode(chunk, { stream: true });
      return 'ended';
    })();
    await until(() => sseText.includes(': connected'), 5000, 'SSE stream open');

    expect((await call(one, 'POST', '/auth/logout', accessToken, { refreshToken })).status).toBe(204);
    const loggedOutAt = Date.now();

    const refused = await until(async () => {
      const response = await call(two, 'GET', '/auth/me', accessToken);
      return response.status === 401 ? response : undefined;
    }, 1000, 'REST 401 on the other instance');
    expect(refused.body.code).toBe('SESSION_REVOKED');
    expect(await Promise.race([disconnected, until(() => Date.now() - loggedOutAt > 1000, 2000).then(() => 'still connected')])).toBe('io server disconnect');
    expect(ending.of('session:expired')).toEqual([{ reason: 'logout' }]);
    expect(await Promise.race([sseEnded, until(() => Date.now() - loggedOutAt > 1000, 2000).then(() => 'still open')])).toBe('ended');
    expect(sseText).toContain('event: session:expired\ndata: {"reason":"logout"}');
    expect(staying.socket.connected).toBe(true);
    expect((await call(two, 'GET', '/auth/me', other.body.accessToken)).status).toBe(200);
  });

  it('never crashed or leaked an unhandled error in any instance through all of the above', () => {
    for (const app of apps) expect(app.output()).not.toMatch(/unhandled|uncaught|FATAL ERROR/i);
  });
});
