import { randomUUID } from 'node:crypto';
import { io } from 'socket.io-client';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { PASSWORD, type Registered, register } from '../support/auth.js';
import { decodePayload, signHs256 } from '../support/jwt.js';
import { assertDocumentedFetch } from '../support/openapi-validator.js';
import { RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from '../support/conditions.js';

const API = '/api/v1';
/** The contract: a session that ended is dead everywhere within this long. */
const WITHIN_MS = 1000;

interface Session {
  accessToken: string;
  refreshToken: string;
}

/** A socket and an SSE stream open on one session, recording how they end. */
interface Watched {
  client: RecordingClient;
  disconnected: Promise<string>;
  sse: { text: string; ended: Promise<void> };
}

const until = <T>(probe: () => T | Promise<T>, timeoutMs: number, what: string) => waitUntil(probe, what, timeoutMs);

function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} not within ${timeoutMs} ms`)), timeoutMs)),
  ]);
}

describe('sessions', () => {
  let t: TestApp;
  let fake: FakeOpenAI;
  const closers: (() => void)[] = [];

  const post = (path: string, json?: unknown, token?: string) => t.http(`${API}${path}`, { method: 'POST', json, token });
  const me = (token: string) => t.http(`${API}/auth/me`, { token });

  async function login(user: Registered): Promise<Session> {
    const response = await post('/auth/login', { email: user.email, password: PASSWORD });
    expect(response.status).toBe(200);
    return response.body;
  }

  async function conversationOf(user: Registered): Promise<string> {
    return (await post('/conversations', { title: 'mine', agent: { mode: 'off' } }, user.accessToken)).body.id;
  }

  async function openSocket(token: string): Promise<Pick<Watched, 'client' | 'disconnected'>> {
    const socket = io(`${t.baseUrl}/chat`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    closers.push(() => socket.close());
    const disconnected = new Promise<string>((resolve) => socket.on('disconnect', resolve));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return { client: new RecordingClient(socket), disconnected };
  }

  async function openEvents(token: string, conversationId: string): Promise<Watched['sse']> {
    const controller = new AbortController();
    closers.push(() => controller.abort());
    const response = await fetch(`${t.baseUrl}${API}/conversations/${conversationId}/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    await assertDocumentedFetch(response);
    expect(response.status).toBe(200);
    const sse = { text: '', ended: Promise.resolve() };
    sse.ended = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) sse.text += decoder.decode(chunk, { stream: true });
    })();
    // Streams still open after a test are aborted by afterEach; those that matter are awaited.
    sse.ended.catch(() => undefined);
    await until(() => sse.text.includes(': connected'), 5000, 'SSE stream open');
    return sse;
  }

  async function watch(token: string, conversationId: string): Promise<Watched> {
    const [socket, sse] = await Promise.all([openSocket(token), openEvents(token, conversationId)]);
    expect((await socket.client.emit('conversation:join', { conversationId })).ok).toBe(true);
    return { ...socket, sse };
  }

  /** REST, the socket and the SSE stream of the session all die within WITHIN_MS of `since`. */
  async function expectEnded(session: Session, watched: Watched, reason: string): Promise<void> {
    const since = Date.now();
    const refused = await until(async () => {
      const response = await me(session.accessToken);
      return response.status === 401 ? response : undefined;
    }, WITHIN_MS, 'REST 401');
    expect(refused.body).toMatchObject({ statusCode: 401, code: 'SESSION_REVOKED', details: { reason }, requestId: expect.any(String) });
    expect(await within(watched.disconnected, WITHIN_MS - (Date.now() - since), 'socket disconnect')).toBe('io server disconnect');
    expect(watched.client.of('session:expired')).toEqual([{ reason }]);
    await within(watched.sse.ended, WITHIN_MS - (Date.now() - since), 'SSE end');
    expect(watched.sse.text).toMatch(new RegExp(`event: session:expired\\ndata: \\{"reason":"${reason}"\\}\\n\\n$`));
    // A new connection with the dead token is refused too.
    const socket = io(`${t.baseUrl}/chat`, { auth: { token: session.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
    closers.push(() => socket.close());
    expect(await new Promise((resolve) => socket.once('connect_error', (error) => resolve(error.message)))).toBe('unauthorized');
  }

  async function expectLive(session: Session, watched: Watched): Promise<void> {
    expect((await me(session.accessToken)).status).toBe(200);
    expect(watched.client.socket.connected).toBe(true);
    expect(watched.client.of('session:expired')).toEqual([]);
    expect(watched.sse.text).not.toContain('session:expired');
    expect((await watched.client.emit('message:send', { conversationId: undefined, content: 'x' })).error.code).toBe('VALIDATION');
  }

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp({ AGENT_PROVIDER: 'openai', OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'test', SESSION_CHECK_INTERVAL_MS: '200' });
  });
  afterEach(() => {
    for (const close of closers.splice(0)) close();
    fake.reset();
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  describe('ending sessions', () => {
    it('logout ends that session only: its token, socket and SSE stream; the other session of the user stays', async () => {
      const user = await register(t);
      const other = await login(user);
      const conversationId = await conversationOf(user);
      const [ending, staying] = await Promise.all([watch(user.accessToken, conversationId), watch(other.accessToken, conversationId)]);

      expect((await post('/auth/logout', { refreshToken: user.refreshToken }, user.accessToken)).status).toBe(204);

      await expectEnded(user, ending, 'logout');
      await expectLive(other, staying);
      expect((await post('/auth/refresh', { refreshToken: other.refreshToken })).status).toBe(200);
    });

    it('POST /auth/logout-all answers 204 and ends every session of the caller, and no one else\'s', async () => {
      const user = await register(t);
      const other = await login(user);
      const bystander = await register(t);
      const conversationId = await conversationOf(user);
      const [first, second, third] = await Promise.all([
        watch(user.accessToken, conversationId),
        watch(other.accessToken, conversationId),
        watch(bystander.accessToken, await conversationOf(bystander)),
      ]);

      const response = await post('/auth/logout-all', undefined, user.accessToken);
      expect(response.status).toBe(204);
      expect(response.text).toBe('');

      await expectEnded(user, first, 'logout-all');
      await expectEnded(other, second, 'logout-all');
      expect((await post('/auth/refresh', { refreshToken: other.refreshToken })).status).toBe(401);
      await expectLive(bystander, third);
    });

    it('a password change ends the other sessions and keeps the one that made it', async () => {
      const user = await register(t);
      const other = await login(user);
      const conversationId = await conversationOf(user);
      const [changing, ending] = await Promise.all([watch(user.accessToken, conversationId), watch(other.accessToken, conversationId)]);

      const changed = await t.http(`${API}/auth/me`, {
        method: 'PATCH',
        json: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
        token: user.accessToken,
      });
      expect(changed.status).toBe(200);

      await expectEnded(other, ending, 'password-changed');
      await expectLive(user, changing);
    });

    it('reuse of a spent refresh token ends its session, the access tokens of every rotation included', async () => {
      const user = await register(t);
      const other = await login(user);
      const rotated = (await post('/auth/refresh', { refreshToken: user.refreshToken })).body as Session;
      const conversationId = await conversationOf(user);
      const [original, current, staying] = await Promise.all([
        watch(user.accessToken, conversationId),
        watch(rotated.accessToken, conversationId),
        watch(other.accessToken, conversationId),
      ]);

      expect((await post('/auth/refresh', { refreshToken: user.refreshToken })).status).toBe(401);

      await expectEnded(rotated, current, 'refresh-reuse');
      await expectEnded(user, original, 'refresh-reuse');
      await expectLive(other, staying);
    });

    it('account deletion ends every session: nothing can join, send or start a run any more', async () => {
      const user = await register(t);
      const other = await login(user);
      const conversationId = await conversationOf(user);
      const [first, second] = await Promise.all([watch(user.accessToken, conversationId), watch(other.accessToken, conversationId)]);

      expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken })).status).toBe(204);

      await expectEnded(user, first, 'account-deleted');
      await expectEnded(other, second, 'account-deleted');
    });
  });

  describe('a refresh racing the end of its session', () => {
    const ROUNDS = 30;

    /**
     * Fresh sessions, each refreshed while it is being ended. However the two interleave, the
     * session ends with no refresh token of it left live: else its client would refresh forever
     * and never get an access token that works. Returns what went wrong, round by round.
     */
    async function race(end: (session: Session) => Promise<{ status: number }>): Promise<string[]> {
      const db = t.app.get(DataSource);
      const user = await register(t);
      const wrong: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const session = await login(user);
        const { sid } = decodePayload(session.accessToken) as { sid: string };
        const [refreshed, ended] = await Promise.all([post('/auth/refresh', { refreshToken: session.refreshToken }), end(session)]);
        if (ended.status !== 204) wrong.push(`round ${round}: ending the session answered ${ended.status}`);
        const [{ revoked }] = await db.query(`SELECT revoked_at IS NOT NULL AS revoked FROM sessions WHERE id = $1`, [sid]);
        if (!revoked) wrong.push(`round ${round}: the session is still live`);
        const [{ live }] = await db.query(`SELECT count(*)::int AS live FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL`, [sid]);
        if (live) wrong.push(`round ${round}: ${live} live refresh token(s) in the ended session`);
        const newest = refreshed.status === 200 ? (refreshed.body as Session).refreshToken : session.refreshToken;
        const again = await post('/auth/refresh', { refreshToken: newest });
        if (again.body.code !== 'INVALID_REFRESH_TOKEN') wrong.push(`round ${round}: the newest refresh token answered ${again.status}`);
      }
      return wrong;
    }

    it('logout leaves no live refresh token, whichever of the two commits first', async () => {
      expect(await race((session) => post('/auth/logout', { refreshToken: session.refreshToken }, session.accessToken))).toEqual([]);
    });

    it('logout-all leaves no live refresh token, whichever of the two commits first', async () => {
      expect(await race((session) => post('/auth/logout-all', undefined, session.accessToken))).toEqual([]);
    });
  });

  describe('an end no event announced', () => {
    // As when the session.revoked event was lost in a Redis outage, or sent while a stream was
    // still opening: the open connections' sessions are checked again every SESSION_CHECK_INTERVAL_MS.
    it('still closes the socket and SSE stream of a session ended behind the instance\'s back', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const watched = await watch(user.accessToken, conversationId);
      const { sid } = decodePayload(user.accessToken) as { sid: string };

      const [, updated] = await t.app.get(DataSource).query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1`, [sid]);
      expect(updated).toBe(1);

      await expectEnded(user, watched, 'logout');
    });
  });

  describe('SSE and token expiry', () => {
    it('closes an SSE stream with session:expired when its access token expires, as sockets do', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const shortLived = signHs256({ ...decodePayload(user.accessToken), jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 2 }, t.config.auth.jwtSecret);
      const sse = await openEvents(shortLived, conversationId);
      await within(sse.ended, 4000, 'SSE end at expiry');
      expect(sse.text).toMatch(/event: session:expired\ndata: \{"reason":"expired"\}\n\n$/);
      // The session itself lives on: only that token expired.
      expect((await me(user.accessToken)).status).toBe(200);
    });

    it('closes the SSE response of a send with session:expired when the session ends mid-run', async () => {
      fake.enqueue({ kind: 'text', chunks: Array.from({ length: 200 }, (_, i) => `w${i} `), delayMs: 20 });
      const user = await register(t);
      const conversationId = (await post('/conversations', { title: 'agent', agent: { mode: 'auto' } }, user.accessToken)).body.id;
      const controller = new AbortController();
      closers.push(() => controller.abort());
      const response = await fetch(`${t.baseUrl}${API}/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, accept: 'text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'talk for a long time' }),
        signal: controller.signal,
      });
      await assertDocumentedFetch(response, 'POST');
      expect(response.status).toBe(200);
      let text = '';
      const ended = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
      })();
      await until(() => text.includes('event: run:delta'), 10_000, 'first delta');

      expect((await post('/auth/logout-all', undefined, user.accessToken)).status).toBe(204);

      await within(ended, WITHIN_MS, 'send stream end');
      expect(text).toMatch(/event: session:expired\ndata: \{"reason":"logout-all"\}\n\n$/);
      expect(text).not.toContain('event: run:completed');
    });
  });

  describe('tokens that name no live session', () => {
    it('refuses a correctly signed token without exp, over REST and in the socket handshake', async () => {
      const user = await register(t);
      const { exp: _exp, ...claims } = decodePayload(user.accessToken);
      const eternal = signHs256(claims, t.config.auth.jwtSecret);
      const response = await me(eternal);
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('UNAUTHORIZED');
      await expect(openSocket(eternal)).rejects.toThrow('unauthorized');
      // The same claims with an exp pass: the missing exp is the only flaw.
      expect((await me(signHs256({ ...claims, exp: Math.floor(Date.now() / 1000) + 60 }, t.config.auth.jwtSecret))).status).toBe(200);
    });

    it.each([
      ['a random sid', () => randomUUID()],
      ['a malformed sid', () => 'not-a-uuid'],
    ])('refuses a correctly signed token with %s', async (_, sid) => {
      const user = await register(t);
      const forged = signHs256({ ...decodePayload(user.accessToken), jti: randomUUID(), sid: sid() }, t.config.auth.jwtSecret);
      const response = await me(forged);
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('UNAUTHORIZED');
      await expect(openSocket(forged)).rejects.toThrow('unauthorized');
    });

    it('refuses a token that names the live session of another user', async () => {
      const [alice, mallory] = await Promise.all([register(t), register(t)]);
      const { sid } = decodePayload(alice.accessToken);
      const forged = signHs256({ ...decodePayload(mallory.accessToken), jti: randomUUID(), sid }, t.config.auth.jwtSecret);
      expect((await me(forged)).status).toBe(401);
      expect((await me(alice.accessToken)).status).toBe(200);
    });
  });
});
