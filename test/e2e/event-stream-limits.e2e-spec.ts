import type { Subject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
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

  it('a useChat request refused for too many streams lets go of the conversation events it held for its reply', async () => {
    // Both slots, once the streams of the test before have been seen closed.
    const openOne = () =>
      waitUntil(async () => {
        const attempt = await open(user);
        if (attempt.status === 200) return untilLive(attempt);
        await attempt.body?.cancel();
        return undefined;
      }, 'a free slot');
    const streams = [await openOne(), await openOne()];
    const chatting = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { agent: { mode: 'auto' } } })).body.id as string;
    // The bus's subscribers (rxjs's deprecated count, read here only): each held reply is one.
    const subscribers = () => (t.app.get(RealtimeBus) as unknown as { subject: Subject<unknown> }).subject.observers.length;
    const before = subscribers();
    for (let i = 0; i < 5; i++) {
      const message = { id: `ui-${i}`, role: 'user', parts: [{ type: 'text', text: '/time' }] };
      const sent = await t.http(`${API}/chat`, { method: 'POST', token: user.accessToken, json: { id: chatting, trigger: 'submit-message', messages: [message] } });
      expect(sent.status).toBe(429);
      const resumed = await t.http(`${API}/chat/${chatting}/stream`, { token: user.accessToken });
      expect([204, 429]).toContain(resumed.status);
    }
    expect(subscribers()).toBe(before);
    for (const stream of streams) await stream.body?.cancel();
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
    // The open stream ended (or failed) rather than holding the close until its timeout.
    await reading;
    // Well inside the shutdown timeout (10 s) that an open stream used to run into.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('cuts a stream whose reader stopped reading once WS_MAX_BACKLOG_BYTES wait unsent, and keeps serving', async () => {
    // Large edits, so that a few megabytes pile up quickly behind a reader that reads nothing.
    const app = await startTestApp({ WS_MAX_BACKLOG_BYTES: String(4 * 1024 * 1024), MESSAGE_MAX_LENGTH: '200000', BODY_LIMIT: String(1024 * 1024) });
    try {
      const owner = await register(app);
      const id = (await app.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { agent: { mode: 'off' } } })).body.id;
      const message = (await app.http(`${API}/conversations/${id}/messages`, { method: 'POST', token: owner.accessToken, json: { content: 'first' } })).body.message;
      const stalled = await untilLive(await fetch(new URL(`${API}/conversations/${id}/events`, app.baseUrl), { headers: { authorization: `Bearer ${owner.accessToken}` } }));

      // About 30 MB of message:updated for a reader that reads none of it (well past the socket buffers too).
      const edits = 150;
      for (let i = 0; i < edits; i++) {
        const edited = await app.http(`${API}/conversations/${id}/messages/${message.id}`, { method: 'PATCH', token: owner.accessToken, json: { content: `${i} `.padEnd(200_000, 'x') } });
        expect(edited.status).toBe(200);
      }

      // Reading now drains what was already on its way, then the stream ends: the server cut it.
      const reader = stalled.body!.getReader();
      let received = 0;
      const ended = await (async () => {
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline) {
          const next = await reader.read().catch(() => ({ done: true as const, value: undefined }));
          if (next.done) return true;
          received += next.value.length;
        }
        return false;
      })();
      expect(ended).toBe(true);
      expect(received).toBeLessThan(edits * 200_000);
      // Everyone else is still served.
      expect((await app.http(`${API}/conversations/${id}/messages`, { token: owner.accessToken })).status).toBe(200);
    } finally {
      await app.close();
    }
  }, 60_000);
});
