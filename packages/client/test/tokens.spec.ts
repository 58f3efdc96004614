import { createClient, createMemoryLocks, createStorageLocks, localStorageTokens, memoryTokens, SignedOutError, TokenSession, type Tokens } from '@agent-chat/client';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { memoryStorage, sleep } from './fixtures.js';

/** A server's /auth/refresh with rotating, single-use refresh tokens: reuse is counted, not forgiven. */
function fakeServer() {
  let generation = 0;
  const server = { refreshes: 0, reuses: 0, live: 'r0' };
  const fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname === '/api/v1/auth/refresh') {
      server.refreshes++;
      const { refreshToken } = (await request.json()) as { refreshToken: string };
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (refreshToken !== server.live) {
        server.reuses++;
        return Response.json({ code: 'INVALID_REFRESH_TOKEN' }, { status: 401 });
      }
      generation++;
      server.live = `r${generation}`;
      return Response.json({ accessToken: `a${generation}`, refreshToken: server.live, expiresIn: 900 });
    }
    const ok = request.headers.get('authorization') === `Bearer a${generation}`;
    return ok ? Response.json({ items: [] }) : Response.json({ code: 'UNAUTHORIZED' }, { status: 401 });
  };
  return { server, fetch };
}

const signedIn: Tokens = { accessToken: 'a0-expired', refreshToken: 'r0' };

describe('TokenSession', () => {
  const sessions: TokenSession[] = [];
  const open = (session: TokenSession) => (sessions.push(session), session);
  afterEach(() => {
    for (const session of sessions.splice(0)) session.close();
  });

  it('refreshes once for concurrent 401s in one tab, and every request succeeds with the new token', async () => {
    const { server, fetch } = fakeServer();
    const session = open(new TokenSession({ baseUrl: 'http://api.test', storage: memoryTokens(signedIn), fetch, channel: null }));
    const rest = createClient({ baseUrl: 'http://api.test', getToken: session.getToken, refresh: session.refresh, fetch });
    const answers = await Promise.all(Array.from({ length: 8 }, () => rest.GET('/api/v1/conversations')));
    expect(answers.map((answer) => answer.response.status)).toEqual(Array(8).fill(200));
    expect(server).toMatchObject({ refreshes: 1, reuses: 0 });
    expect(session.tokens).toEqual({ accessToken: 'a1', refreshToken: 'r1' });
  });

  it('takes turns across tabs under one lock: the tab that waited uses the rotated token instead of refreshing', async () => {
    const { server, fetch } = fakeServer();
    const storage = memoryTokens(signedIn); // what localStorage is to tabs of one origin
    const locks = createMemoryLocks(); // what navigator.locks is to them
    const channel = `tokens-${Math.random()}`;
    const tabs = [0, 1].map(() => open(new TokenSession({ baseUrl: 'http://api.test', storage, locks, channel, fetch })));
    const told = new Promise<Tokens | undefined>((resolve) => tabs[1]!.onChange(resolve));
    const tokens = await Promise.all([tabs[0]!.refresh('a0-expired'), tabs[1]!.refresh('a0-expired')]);
    expect(tokens).toEqual(['a1', 'a1']);
    expect(server).toMatchObject({ refreshes: 1, reuses: 0 });
    expect(await told).toEqual({ accessToken: 'a1', refreshToken: 'r1' });
  });

  it('refreshes once for two tabs sharing localStorage where Web Locks are missing (an insecure context)', async () => {
    // Node 20 has no navigator.locks; Node 22+ has one: taken away here, as an insecure context does.
    vi.stubGlobal('navigator', {});
    onTestFinished(() => void vi.unstubAllGlobals());
    expect((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks).toBeUndefined();
    const { server, fetch } = fakeServer();
    const localStorage = memoryStorage();
    localStorageTokens('tokens', localStorage).set(signedIn);
    const channel = `tokens-${Math.random()}`;
    const tabs = [0, 1].map(() => open(new TokenSession({ baseUrl: 'http://api.test', storage: localStorageTokens('tokens', localStorage), channel, fetch })));
    const rests = tabs.map((session) => createClient({ baseUrl: 'http://api.test', getToken: session.getToken, refresh: session.refresh, fetch }));
    const answers = await Promise.all(rests.flatMap((rest) => [rest.GET('/api/v1/conversations'), rest.GET('/api/v1/conversations')]));
    expect(answers.map((answer) => answer.response.status)).toEqual([200, 200, 200, 200]);
    expect(server).toMatchObject({ refreshes: 1, reuses: 0 });
    expect(tabs.map((tab) => tab.tokens)).toEqual([{ accessToken: 'a1', refreshToken: 'r1' }, { accessToken: 'a1', refreshToken: 'r1' }]);
  });

  it('never writes shared storage from a message: a late one with older tokens leaves the newer ones', async () => {
    const channel = `tokens-${Math.random()}`;
    const tab = open(new TokenSession({ baseUrl: 'http://api.test', storage: localStorageTokens('tokens', memoryStorage()), channel }));
    const late = open(new TokenSession({ baseUrl: 'http://api.test', storage: memoryTokens(), channel }));
    const told = new Promise<Tokens | undefined>((resolve) => tab.onChange((tokens) => tokens?.accessToken === 'a2' && resolve(tokens)));
    // The other tab's message of a1 is still on its way when this one stores a2.
    late.signIn({ accessToken: 'a1', refreshToken: 'r1' });
    tab.signIn({ accessToken: 'a2', refreshToken: 'r2' });
    await sleep(50);
    expect(await told).toEqual({ accessToken: 'a2', refreshToken: 'r2' });
    expect(tab.tokens).toEqual({ accessToken: 'a2', refreshToken: 'r2' });
  });

  it('takes only newer tokens from a message into a tab’s own storage', async () => {
    const channel = `tokens-${Math.random()}`;
    const [tab, other] = [0, 1].map(() => open(new TokenSession({ baseUrl: 'http://api.test', storage: memoryTokens(), channel })));
    other!.signIn({ accessToken: 'a1', refreshToken: 'r1' });
    tab!.signIn({ accessToken: 'a2', refreshToken: 'r2' });
    await sleep(50);
    expect(tab!.tokens).toEqual({ accessToken: 'a2', refreshToken: 'r2' });
    const told = new Promise<Tokens | undefined>((resolve) => tab!.onChange(resolve));
    other!.signIn({ accessToken: 'a3', refreshToken: 'r3' });
    expect(await told).toEqual({ accessToken: 'a3', refreshToken: 'r3' });
    expect(tab!.tokens).toEqual({ accessToken: 'a3', refreshToken: 'r3' });
  });

  it('signs out everywhere when the refresh token is refused', async () => {
    const { fetch } = fakeServer();
    const channel = `tokens-${Math.random()}`;
    const tab = open(new TokenSession({ baseUrl: 'http://api.test', storage: memoryTokens({ accessToken: 'x', refreshToken: 'used' }), fetch, channel }));
    const other = open(new TokenSession({ baseUrl: 'http://api.test', storage: memoryTokens({ accessToken: 'x', refreshToken: 'used' }), fetch, channel }));
    const told = new Promise<Tokens | undefined>((resolve) => other.onChange(resolve));
    await expect(tab.refresh('x')).rejects.toBeInstanceOf(SignedOutError);
    expect(tab.tokens).toBeUndefined();
    expect(await told).toBeUndefined();
    expect(other.tokens).toBeUndefined();
  });
});

describe('createStorageLocks', () => {
  it('grants one holder at a time among locks sharing a storage, and frees the lease after', async () => {
    const storage = memoryStorage();
    const tabs = [0, 1, 2].map(() => createStorageLocks(storage, { settleMs: 5 }));
    let holders = 0;
    let most = 0;
    const hold = (i: number) =>
      tabs[i % 3]!.request('l', async () => {
        most = Math.max(most, ++holders);
        await sleep(10);
        holders--;
        return i;
      });
    expect(await Promise.all([0, 1, 2, 3, 4, 5].map(hold))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBe(1);
    expect(storage.length).toBe(0);
  });

  it('takes over a lease its holder left to expire', async () => {
    const storage = memoryStorage();
    storage.setItem('l.lease', JSON.stringify({ owner: 'a closed tab', expires: Date.now() + 50 }));
    const started = Date.now();
    await createStorageLocks(storage, { settleMs: 5 }).request('l', async () => undefined);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});

describe('createMemoryLocks', () => {
  it('grants one holder at a time, in request order, and survives a holder that throws', async () => {
    const locks = createMemoryLocks();
    const order: string[] = [];
    const hold = (name: string, fail = false) =>
      locks.request('l', async () => {
        order.push(`${name} in`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.push(`${name} out`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([hold('a', true), hold('b'), hold('c')]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
  });
});
