import { createHash, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { BrowserContext } from 'playwright-core';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED_PATHS } from '../../src/common/logging/logger.js';
import { StreamTicketsRepository } from '../../src/auth/stream-tickets.repository.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { browserAvailable, launchBrowser, needBrowser, startDashboard } from '../support/browser.js';
import { decodePayload, signHs256 } from '../support/jwt.js';
import { readEvents } from '../support/sse-frames.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';
const TICKET = /^[A-Za-z0-9_-]{43}$/;
const RATE_LIMIT = 5;

function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} not within ${timeoutMs} ms`)), timeoutMs)),
  ]);
}

describe('stream tickets (EventSource authentication)', () => {
  let t: TestApp;
  let fake: FakeOpenAI;
  let logged = '';
  /** Every ticket handed out, so that the log can be searched for them at the end. */
  const issued: string[] = [];
  const aborts: AbortController[] = [];

  const post = (path: string, token: string, json?: unknown) => t.http(`${API}${path}`, { method: 'POST', token, json });

  async function ticketFor(token: string): Promise<string> {
    const response = await post('/auth/stream-ticket', token);
    expect(response.status).toBe(201);
    issued.push(response.body.ticket);
    return response.body.ticket;
  }

  /** As a browser's EventSource asks: no Authorization header, the ticket in the URL. */
  function eventSourceGet(path: string, ticket: string): Promise<Response> {
    const controller = new AbortController();
    aborts.push(controller);
    const url = new URL(`${API}${path}`, t.baseUrl);
    url.searchParams.set('ticket', ticket);
    return fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  }

  async function conversationOf(user: Registered, mode = 'off'): Promise<string> {
    return (await post('/conversations', user.accessToken, { title: 'tickets', agent: { mode } })).body.id;
  }

  const expectTicketInvalid = async (response: Response) => {
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      code: 'TICKET_INVALID',
      message: expect.stringContaining('ticket'),
      requestId: expect.any(String),
    });
  };

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    const sink = new Writable({ write: (chunk, _encoding, done) => ((logged += String(chunk)), done()) });
    const logger = pino({ level: 'trace', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
    t = await startTestApp(
      {
        AGENT_PROVIDER: 'openai',
        OPENAI_BASE_URL: fake.url,
        OPENAI_API_KEY: 'test',
        SESSION_CHECK_INTERVAL_MS: '200',
        STREAM_TICKET_RATE_LIMIT: String(RATE_LIMIT),
      },
      { logger },
    );
  });
  afterEach(() => {
    for (const controller of aborts.splice(0)) controller.abort();
    fake.reset();
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  describe('POST /auth/stream-ticket', () => {
    it('answers 201 {ticket, expiresIn: 60}: 256 random bits, of which only a hash is stored', async () => {
      const user = await register(t);
      const response = await post('/auth/stream-ticket', user.accessToken);
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ ticket: expect.stringMatching(TICKET), expiresIn: 60 });
      expect(response.headers.get('cache-control')).toBe('no-store');
      const { ticket } = response.body as { ticket: string };
      issued.push(ticket);

      const rows: Record<string, unknown>[] = await t.app.get(DataSource).query(`SELECT * FROM stream_tickets WHERE user_id = $1`, [user.id]);
      expect(rows).toEqual([
        expect.objectContaining({
          token_hash: createHash('sha256').update(ticket).digest('hex'),
          session_id: decodePayload(user.accessToken).sid,
        }),
      ]);
      expect(JSON.stringify(rows)).not.toContain(ticket);
      expect(await ticketFor(user.accessToken)).not.toBe(ticket);
    });

    it('requires a bearer token, not a ticket', async () => {
      const user = await register(t);
      expect((await t.http(`${API}/auth/stream-ticket`, { method: 'POST' })).status).toBe(401);
      const ticket = await ticketFor(user.accessToken);
      expect((await t.http(`${API}/auth/stream-ticket?ticket=${ticket}`, { method: 'POST' })).body.code).toBe('UNAUTHORIZED');
    });

    it(`is limited to ${RATE_LIMIT} a minute per user (429 with Retry-After)`, async () => {
      const user = await register(t);
      for (let i = 0; i < RATE_LIMIT; i++) await ticketFor(user.accessToken);
      const refused = await post('/auth/stream-ticket', user.accessToken);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // Per user: someone else is not held back.
      await ticketFor((await register(t)).accessToken);
    });

    it('never outlives the access token that asks for it', async () => {
      const user = await register(t);
      const shortLived = signHs256({ ...decodePayload(user.accessToken), jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 5 }, t.config.auth.jwtSecret);
      const response = await post('/auth/stream-ticket', shortLived);
      expect(response.status).toBe(201);
      issued.push(response.body.ticket);
      expect(response.body.expiresIn).toBeLessThanOrEqual(5);
    });
  });

  describe('?ticket= on the SSE endpoints', () => {
    it('opens GET /conversations/:id/events with no Authorization header, resuming with other query parameters alongside', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      await post(`/conversations/${conversationId}/messages`, user.accessToken, { content: 'before the stream' });

      const response = await eventSourceGet(`/conversations/${conversationId}/events?afterVersion=0`, await ticketFor(user.accessToken));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const live = readEvents(response, (events) => events.some((event) => event.event === 'message:created'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      await post(`/conversations/${conversationId}/messages`, user.accessToken, { content: 'while streaming' });
      const events = await live;
      expect(events.map((event) => [event.event, event.data.message?.content])).toEqual([
        ['message:updated', 'before the stream'],
        ['conversation:updated', undefined],
        ['message:created', 'while streaming'],
      ]);
    });

    it('opens GET /chat/:id/stream (useChat resume) for the reply streaming now, and answers 204 when none is', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user, 'auto');
      expect((await eventSourceGet(`/chat/${conversationId}/stream`, await ticketFor(user.accessToken))).status).toBe(204);

      fake.enqueue({ kind: 'text', chunks: Array.from({ length: 100 }, (_, i) => `w${i} `), delayMs: 20 });
      await post(`/conversations/${conversationId}/messages`, user.accessToken, { content: 'talk for a while' });
      let response: Response;
      do response = await eventSourceGet(`/chat/${conversationId}/stream`, await ticketFor(user.accessToken));
      while (response.status === 204);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
      const text = await within(response.text(), 10_000, 'the reply to finish');
      expect(text).toMatch(/^data: \{"type":"start"/m);
      expect(text).toContain('w99');
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    });

    it('works once: a second use is a 401 TICKET_INVALID', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const ticket = await ticketFor(user.accessToken);
      expect((await eventSourceGet(`/conversations/${conversationId}/events`, ticket)).status).toBe(200);
      await expectTicketInvalid(await eventSourceGet(`/conversations/${conversationId}/events`, ticket));
      await expectTicketInvalid(await eventSourceGet(`/chat/${conversationId}/stream`, ticket));
    });

    it('lets exactly one of many concurrent uses through', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const ticket = await ticketFor(user.accessToken);
      const responses = await Promise.all(Array.from({ length: 8 }, () => eventSourceGet(`/conversations/${conversationId}/events`, ticket)));
      expect(responses.map((response) => response.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
      for (const response of responses.filter((one) => one.status === 401)) await expectTicketInvalid(response);
    });

    it('refuses an expired ticket, and the sweep deletes expired ones', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const ticket = await ticketFor(user.accessToken);
      const dataSource = t.app.get(DataSource);
      await dataSource.query(`UPDATE stream_tickets SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.id]);
      await expectTicketInvalid(await eventSourceGet(`/conversations/${conversationId}/events`, ticket));

      await t.app.get(StreamTicketsRepository).deleteExpired();
      expect(await dataSource.query(`SELECT 1 FROM stream_tickets WHERE user_id = $1`, [user.id])).toEqual([]);
    });

    it('refuses a malformed, empty or repeated ticket parameter before touching a stream', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const events = `${t.baseUrl}${API}/conversations/${conversationId}/events`;
      const queries = ['ticket=', 'ticket=not-a-ticket', `ticket=${'A'.repeat(44)}`, `ticket=${'A'.repeat(43)}&ticket=${'B'.repeat(43)}`];
      const responses = await Promise.all(queries.map((query) => fetch(`${events}?${query}`)));
      expect(responses.map((response) => response.status)).toEqual([401, 401, 401, 401]);
      for (const response of responses) await expectTicketInvalid(response);
    });

    it('refuses a request that sends both a bearer token and a ticket', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const ticket = await ticketFor(user.accessToken);
      const response = await t.http(`${API}/conversations/${conversationId}/events?ticket=${ticket}`, { token: user.accessToken });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('VALIDATION');
    });

    it('is not a credential anywhere else, not even on other routes of the same conversation', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const ticket = await ticketFor(user.accessToken);
      const refused = [
        await t.http(`${API}/auth/me?ticket=${ticket}`),
        await t.http(`${API}/conversations/${conversationId}?ticket=${ticket}`),
        await t.http(`${API}/conversations/${conversationId}/messages?ticket=${ticket}`),
        await t.http(`${API}/conversations/${conversationId}/messages?ticket=${ticket}`, {
          method: 'POST',
          json: { content: 'sent with a ticket' },
          headers: { accept: 'text/event-stream' },
        }),
        await t.http(`${API}/chat/${conversationId}/stop?ticket=${ticket}`, { method: 'POST', json: {} }),
      ];
      expect(refused.map((response) => [response.status, response.body.code])).toEqual(refused.map(() => [401, 'UNAUTHORIZED']));
      expect((await t.http(`${API}/conversations/${conversationId}/messages`, { token: user.accessToken })).body.items).toEqual([]);
    });
  });

  describe('bound to the session that asked for it', () => {
    it('speaks for the same user and session as the access token', async () => {
      const user = await register(t);
      const other = await register(t);
      const mine = await conversationOf(user);
      const theirs = await conversationOf(other);
      await expectTicketInvalid(await eventSourceGet(`/conversations/${theirs}/events`, 'x'.repeat(43)));
      const response = await eventSourceGet(`/conversations/${theirs}/events`, await ticketFor(user.accessToken));
      expect(response.status).toBe(404);
      expect((await eventSourceGet(`/conversations/${mine}/events`, await ticketFor(user.accessToken))).status).toBe(200);
    });

    it('closes a stream opened with a ticket with session:expired when the session signs out', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const response = await eventSourceGet(`/conversations/${conversationId}/events`, await ticketFor(user.accessToken));
      expect(response.status).toBe(200);
      const body = response.text();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await post('/auth/logout', user.accessToken, { refreshToken: user.refreshToken })).status).toBe(204);
      expect(await within(body, 1000, 'the stream to close')).toMatch(/event: session:expired\ndata: \{"reason":"logout"\}\n\n$/);
    });

    it('is refused once its session has ended (401 SESSION_REVOKED)', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const ticket = await ticketFor(user.accessToken);
      expect((await post('/auth/logout-all', user.accessToken)).status).toBe(204);
      const response = await eventSourceGet(`/conversations/${conversationId}/events`, ticket);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 'SESSION_REVOKED', details: { reason: 'logout-all' } });
    });

    it('ends the stream when the access token that asked for the ticket would have expired', async () => {
      const user = await register(t);
      const conversationId = await conversationOf(user);
      const shortLived = signHs256({ ...decodePayload(user.accessToken), jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 3 }, t.config.auth.jwtSecret);
      const response = await eventSourceGet(`/conversations/${conversationId}/events`, await ticketFor(shortLived));
      expect(response.status).toBe(200);
      expect(await within(response.text(), 5000, 'the stream to end at expiry')).toMatch(/event: session:expired\ndata: \{"reason":"expired"\}\n\n$/);
    });
  });

  it('never writes a ticket to the log', () => {
    expect(issued.length).toBeGreaterThan(10);
    expect(logged).toContain('request completed');
    for (const ticket of issued) expect(logged).not.toContain(ticket);
  });
});

// A real browser's EventSource, from a dashboard on another origin: CORS on the ticket request
// (a preflight for its Authorization header) and on the stream itself.

describe('stream tickets in a real browser', () => {
  let t: TestApp;
  let dashboard: Server;
  let origin: string;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let context: BrowserContext;

  beforeAll(async () => {
    if (!browserAvailable) return;
    ({ origin, server: dashboard } = await startDashboard());
    t = await startTestApp({ CORS_ORIGINS: origin });
    browser = await launchBrowser();
    context = browser.context;
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    dashboard?.close();
  });

  it('opens an EventSource with a ticket from another origin; a reused ticket fails it', async (ctx) => {
    if (!needBrowser(ctx)) return;
    const user = await register(t);
    const conversationId = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { agent: { mode: 'off' } } })).body.id;
    const page = await context.newPage();
    await page.goto(`${origin}/`);

    const opened = await page.evaluate(
      async ({ base, token, id }) => {
        const ticketResponse = await fetch(`${base}/api/v1/auth/stream-ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        const { ticket } = (await ticketResponse.json()) as { ticket: string };
        const url = `${base}/api/v1/conversations/${id}/events?ticket=${encodeURIComponent(ticket)}`;
        const state = globalThis as unknown as { received: string[]; reused: Promise<number> };
        state.received = [];
        const source = new EventSource(url);
        source.addEventListener('message:created', (event) => state.received.push(JSON.parse((event as unknown as { data: string }).data).message.content));
        await new Promise<void>((resolve, reject) => {
          source.addEventListener('open', () => resolve(), { once: true });
          source.addEventListener('error', () => reject(new Error('the EventSource failed to open')), { once: true });
        });
        // EventSource gives up (readyState CLOSED) on a 401: no reconnect loop.
        const reused = new EventSource(url);
        state.reused = new Promise((resolve) => reused.addEventListener('error', () => resolve(reused.readyState), { once: true }));
        return ticketResponse.status;
      },
      { base: t.baseUrl, token: user.accessToken, id: conversationId },
    );
    expect(opened).toBe(201);

    await t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token: user.accessToken, json: { content: 'hello, browser' } });
    await page.waitForFunction(() => (globalThis as unknown as { received: string[] }).received.length > 0, undefined, { timeout: 5000 });
    expect(await page.evaluate(() => (globalThis as unknown as { received: string[] }).received)).toEqual(['hello, browser']);
    expect(await page.evaluate(() => (globalThis as unknown as { reused: Promise<number> }).reused)).toBe(2);
  });
});
