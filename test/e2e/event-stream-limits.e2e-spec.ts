import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, type Registered } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { untilLive } from '../support/sse-frames.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

describe('event streams per user', () => {
  let t: TestApp;
  let user: Registered;
  let conversationId: string;
  const open = (who: Registered, signal?: AbortSignal) =>
    fetch(new URL(`${API}/conversations/${conversationId}/events`, t.baseUrl), { headers: { authorization: `Bearer ${who.accessToken}`, accept: 'text/event-stream' }, signal });

  beforeAll(async () => {
    t = await startTestApp({ SSE_MAX_STREAMS_PER_USER: '2' });
    user = await register(t);
    conversationId = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { agent: { mode: 'off' } } })).body.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('holds at most SSE_MAX_STREAMS_PER_USER open per user; a closed one frees its slot; others are not affected', async () => {
    const first = new AbortController();
    const streams = [await untilLive(await open(user, first.signal)), await untilLive(await open(user))];
    expect(streams.every((stream) => stream.status === 200)).toBe(true);

    const refused = await t.http(`${API}/conversations/${conversationId}/events`, { token: user.accessToken, headers: { accept: 'text/event-stream' } });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    // Someone else is not limited by this user's streams.
    const other = await register(t);
    const theirs = (await t.http(`${API}/conversations`, { method: 'POST', token: other.accessToken, json: { agent: { mode: 'off' } } })).body.id;
    const otherStream = await fetch(new URL(`${API}/conversations/${theirs}/events`, t.baseUrl), { headers: { authorization: `Bearer ${other.accessToken}` } });
    expect(otherStream.status).toBe(200);
    await otherStream.body?.cancel();

    // The client goes away: its slot is free once the server has seen the connection close.
    first.abort();
    const reopened = await waitUntil(async () => {
      const attempt = await open(user);
      if (attempt.status === 200) return attempt;
      await attempt.body?.cancel();
      return undefined;
    }, 'a slot freed by the closed stream');
    await reopened.body?.cancel();
    await streams[1]!.body?.cancel();
  });

  it('cuts open streams when the server shuts down, so that it closes at once and clients reconnect elsewhere', async () => {
    const app = await startTestApp();
    const owner = await register(app);
    const id = (await app.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { agent: { mode: 'off' } } })).body.id;
    const stream = await untilLive(await fetch(new URL(`${API}/conversations/${id}/events`, app.baseUrl), { headers: { authorization: `Bearer ${owner.accessToken}` } }));
    const reading = stream.body!.getReader().read().then(
      () => 'ended',
      () => 'failed',
    );
    const started = Date.now();
    await app.close();
    expect(await reading).toMatch(/ended|failed/);
    // Well inside the shutdown timeout (10 s) that an open stream used to run into.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
