import { randomUUID } from 'node:crypto';
import { type ChatSocket, connectChat, createClient, createMemoryLocks, localStorageTokens, memoryTokens, TokenSession, type TokenStorage, type Tokens } from '@agent-chat/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryStorage } from '../../packages/client/test/fixtures.js';
import { PASSWORD } from '../support/auth.js';
import { decodePayload, signHs256 } from '../support/jwt.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Until `condition` holds (state the client reaches by itself), at most `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('token refresh with the typed client', () => {
  let t: TestApp;
  const sockets: ChatSocket[] = [];
  const sessions: TokenSession[] = [];

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
    for (const session of sessions.splice(0)) session.close();
  });
  afterAll(() => t?.close());

  /** Every request the client sends, counted: POST /auth/refresh is what must happen once. */
  function counting() {
    const counts = { refreshes: 0 };
    const fetch = (request: Request) => {
      if (request.method === 'POST' && new URL(request.url).pathname === '/api/v1/auth/refresh') counts.refreshes++;
      return globalThis.fetch(request);
    };
    return { counts, fetch };
  }

  /** A new account's tokens, with the access token replaced by one of the same session that expires in `seconds`. */
  async function signedUp(seconds = -5): Promise<Tokens> {
    const rest = createClient({ baseUrl: t.baseUrl });
    const body = { email: `tab-${randomUUID()}@example.com`, password: PASSWORD, displayName: 'Tab' };
    const { data } = await rest.POST('/api/v1/auth/register', { body });
    const claims = { ...decodePayload(data!.accessToken), jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + seconds };
    return { accessToken: signHs256(claims, t.config.auth.jwtSecret), refreshToken: data!.refreshToken };
  }

  function tab(tokens: { storage: TokenStorage }, extra: Partial<ConstructorParameters<typeof TokenSession>[0]> = {}) {
    const session = new TokenSession({ baseUrl: t.baseUrl, storage: tokens.storage, channel: null, ...extra });
    sessions.push(session);
    const rest = createClient({ baseUrl: t.baseUrl, getToken: session.getToken, refresh: session.refresh });
    return { session, rest };
  }

  it('answers N concurrent calls made with an expired access token after exactly one POST /auth/refresh', async () => {
    const { counts, fetch } = counting();
    const { session, rest } = tab({ storage: memoryTokens(await signedUp()) }, { fetch });
    const answers = await Promise.all(Array.from({ length: 10 }, () => rest.GET('/api/v1/conversations')));
    expect(answers.map((a) => a.response.status)).toEqual(Array(10).fill(200));
    expect(counts.refreshes).toBe(1);
    // The rotated refresh token still works: nothing presented a used one (which would end the session).
    await expect(session.refresh()).resolves.toEqual(expect.any(String));
    expect((await rest.GET('/api/v1/auth/me')).response.status).toBe(200);
  });

  it('refreshes once for two tabs sharing the sign-in, a lock and a BroadcastChannel', async () => {
    const { counts, fetch } = counting();
    const storage = memoryTokens(await signedUp()); // localStorage, as the tabs of one origin share it
    const shared = { storage, locks: createMemoryLocks(), channel: `agent-chat-${randomUUID()}`, fetch };
    const tabs = [tab({ storage }, shared), tab({ storage }, shared)];
    const told = new Promise<Tokens | undefined>((resolve) => tabs[1]!.session.onChange(resolve));
    const answers = await Promise.all(tabs.flatMap(({ rest }) => Array.from({ length: 5 }, () => rest.GET('/api/v1/conversations'))));
    expect(answers.map((a) => a.response.status)).toEqual(Array(10).fill(200));
    expect(counts.refreshes).toBe(1);
    expect(await told).toEqual(storage.get());
    expect((await tabs[1]!.rest.GET('/api/v1/auth/me')).response.status).toBe(200);
  });

  it('refreshes once for two tabs sharing localStorage without Web Locks (an insecure context)', async () => {
    const { counts, fetch } = counting();
    const localStorage = memoryStorage();
    localStorageTokens('tokens', localStorage).set(await signedUp());
    const channel = `agent-chat-${randomUUID()}`;
    const tabs = [0, 1].map(() => tab({ storage: localStorageTokens('tokens', localStorage) }, { channel, fetch }));
    const answers = await Promise.all(tabs.flatMap(({ rest }) => Array.from({ length: 5 }, () => rest.GET('/api/v1/conversations'))));
    expect(answers.map((a) => a.response.status)).toEqual(Array(10).fill(200));
    expect(counts.refreshes).toBe(1);
    // Nothing presented a used refresh token: the session lives on in both tabs.
    await expect(tabs[1]!.session.refresh()).resolves.toEqual(expect.any(String));
    expect((await tabs[0]!.rest.GET('/api/v1/auth/me')).response.status).toBe(200);
  });

  it('connects a socket refused as unauthorized after one refresh', async () => {
    const { counts, fetch } = counting();
    const { session } = tab({ storage: memoryTokens(await signedUp()) }, { fetch });
    const errors: string[] = [];
    const socket = connectChat({ baseUrl: t.baseUrl, getToken: session.getToken, refresh: session.refresh, socket: { forceNew: true } });
    sockets.push(socket);
    socket.on('connect_error', (error) => errors.push(error.message));
    await until(() => socket.connected, 'the socket to connect');
    expect(errors).toEqual(['unauthorized']);
    expect(counts.refreshes).toBe(1);
  });

  it('refreshes and reconnects when the access token expires on a live socket', async () => {
    const { counts, fetch } = counting();
    const { session } = tab({ storage: memoryTokens(await signedUp(2)) }, { fetch });
    const seen: string[] = [];
    const socket = connectChat({ baseUrl: t.baseUrl, getToken: session.getToken, refresh: session.refresh, socket: { forceNew: true } });
    sockets.push(socket);
    socket.on('connect', () => seen.push('connect'));
    socket.on('session:expired', ({ reason }) => seen.push(`session:expired ${reason}`));
    socket.on('disconnect', (reason) => seen.push(`disconnect ${reason}`));
    await until(() => seen.length === 4, 'the expiry and the reconnect', 15_000);
    expect(seen).toEqual(['connect', 'session:expired expired', 'disconnect io server disconnect', 'connect']);
    expect(counts.refreshes).toBe(1);
  });
});
