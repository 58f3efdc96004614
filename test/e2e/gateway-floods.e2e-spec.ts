import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import { io, Manager, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AccessTokenService } from '../../src/auth/access-token.service.js';
import { ChatGateway } from '../../src/gateway/chat.gateway.js';
import { MAX_CONNECTS_PER_CONNECTION } from '../../src/gateway/connect-limit.js';
import { JoinRecovery } from '../../src/gateway/join-recovery.js';
import { outgoingBacklog } from '../../src/gateway/socket-backlog.js';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import { type Registered, register } from '../support/auth.js';
import { connectClient, RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';
const MAX_PAGE_BYTES = 2 * 1024 * 1024;

const contentOf = (i: number) => `${i}:`.padEnd(16_000, String.fromCharCode(97 + (i % 26)));
/** 16,000 characters that take 6 bytes each as JSON (\u0001): 96 KB on the wire. */
const escapedContentOf = (i: number) => `${i}:`.padEnd(16_000, '\u0001');

interface FloodOutcome {
  sent: number;
  codes: Map<string, number>;
  /** Acks the client gave up on because the server disconnected the socket. */
  dropped: number;
  disconnect?: string;
}

/**
 * Hostile clients: real sockets flooding one event type each while a bystander in another
 * conversation keeps sending messages; the server must answer or cut off every flooder and keep
 * serving the bystander.
 */
describe('Socket.IO gateway under floods', () => {
  let t: TestApp;
  let flooder: Registered;
  let bystander: Registered;
  let big: string;
  let small: string;
  let quiet: string;
  let escaped: string;
  let chatty: string;
  const sockets: Socket[] = [];

  async function connect(user: Registered): Promise<RecordingClient> {
    const client = await connectClient(t.baseUrl, user.accessToken, 20_000);
    sockets.push(client.socket);
    return client;
  }

  /** Bytes of Socket.IO frames the socket receives from now on. */
  function countBytes(socket: Socket): { bytes: number; largest: number } {
    const counter = { bytes: 0, largest: 0 };
    (socket.io as unknown as { engine: { on(event: 'message', listener: (data: string) => void): void } }).engine.on('message', (data) => {
      const bytes = Buffer.byteLength(data);
      counter.bytes += bytes;
      counter.largest = Math.max(counter.largest, bytes);
    });
    return counter;
  }

  /** Sends `count` events at once, without waiting, and settles when each is acked or the socket is gone. */
  async function flood(client: RecordingClient, count: number, event: string, payload: (i: number) => unknown): Promise<FloodOutcome> {
    const outcome: FloodOutcome = { sent: count, codes: new Map(), dropped: 0 };
    let settled = 0;
    client.socket.on('disconnect', (reason) => (outcome.disconnect = reason));
    for (let i = 0; i < count; i++) {
      // The flooders share this process with the server: let the bystander in between bursts.
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      client.socket.timeout(20_000).emit(event, payload(i), (error: Error | null, ack: { ok: boolean; error?: { code: string } }) => {
        settled++;
        if (error) outcome.dropped++;
        else {
          const code = ack.ok ? 'ok' : ack.error!.code;
          outcome.codes.set(code, (outcome.codes.get(code) ?? 0) + 1);
        }
      });
    }
    await vi.waitFor(() => expect(settled === count || outcome.disconnect !== undefined).toBe(true), { timeout: 20_000, interval: 20 });
    return outcome;
  }

  beforeAll(async () => {
    // The bystander sends far more than the per-user message limit, and the flooder opens a socket
    // per flood, ~20 at once; these limits have tests of their own.
    t = await startTestApp({ MESSAGE_RATE_LIMIT: '100000', WS_CONNECT_RATE_LIMIT: '1000', WS_MAX_SOCKETS_PER_USER: '1000' });
    [flooder, bystander] = await Promise.all([register(t), register(t)]);
    const create = async (owner: Registered) =>
      (await t.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { agent: { mode: 'off' } } })).body.id as string;
    [big, small, quiet, escaped, chatty] = await Promise.all([create(flooder), create(flooder), create(bystander), create(flooder), create(flooder)]);
    const messages = t.app.get(MessagesRepository);
    for (let i = 1; i <= 300; i++) await messages.append({ conversationId: big, role: 'user', authorId: flooder.id, content: contentOf(i) });
    for (let i = 1; i <= 20; i++) await messages.append({ conversationId: small, role: 'user', authorId: flooder.id, content: contentOf(i) });
    for (let i = 1; i <= 40; i++) await messages.append({ conversationId: escaped, role: 'user', authorId: flooder.id, content: escapedContentOf(i) });
    for (let i = 1; i <= 500; i++) await messages.append({ conversationId: chatty, role: 'user', authorId: flooder.id, content: `${i}:`.padEnd(4000, '.') });
  }, 120_000);
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('pages a recovery of 300 × 16,000 characters in acks of at most 500 messages and 2 MB, to the end, nothing lost or duplicated', async () => {
    const client = await connect(flooder);
    const frames = countBytes(client.socket);
    const pages: { count: number; bytes: number }[] = [];
    const seqs: number[] = [];
    let afterVersion = 0;
    for (let hasMore = true; hasMore; ) {
      const ack = await client.emit('conversation:join', { conversationId: big, afterVersion });
      expect(ack.ok).toBe(true);
      expect(Object.keys(ack.data).sort()).toEqual(['activeRun', 'changes', 'conversation', 'hasMore', 'version']);
      const changes: { seq: number; version: number; content: string }[] = ack.data.changes;
      expect(changes.length).toBeGreaterThan(0);
      pages.push({ count: changes.length, bytes: changes.reduce((sum, m) => sum + Buffer.byteLength(m.content), 0) });
      for (const message of changes) {
        seqs.push(message.seq);
        expect(message.content).toBe(contentOf(message.seq));
      }
      hasMore = ack.data.hasMore;
      // The client pages on by re-joining with the last version it got.
      afterVersion = changes.at(-1)!.version;
    }
    expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(pages.length).toBe(3);
    for (const page of pages) {
      expect(page.count).toBeLessThanOrEqual(500);
      expect(page.bytes).toBeLessThanOrEqual(MAX_PAGE_BYTES);
    }
    expect(frames.largest).toBeLessThan(MAX_PAGE_BYTES + 128 * 1024);
  });

  it.each([
    ['40 messages of control characters (16,000 stored bytes, 96 KB as JSON, each)', () => escaped, 40, escapedContentOf],
    ['500 messages of 4,000 characters (2 MB stored, 2.2 MB with their ids and timestamps)', () => chatty, 500, (i: number) => `${i}:`.padEnd(4000, '.')],
  ])('keeps recovery acks within 2 MB as sent: %s', async (_label, conversation, count, contentAt) => {
    const client = await connect(flooder);
    const frames = countBytes(client.socket);
    const seqs: number[] = [];
    let afterVersion = 0;
    for (let hasMore = true; hasMore; ) {
      const ack = await client.emit('conversation:join', { conversationId: conversation(), afterVersion });
      expect(ack.ok).toBe(true);
      for (const message of ack.data.changes) {
        seqs.push(message.seq);
        expect(message.content).toBe(contentAt(message.seq));
      }
      hasMore = ack.data.hasMore;
      afterVersion = ack.data.changes.at(-1).version;
    }
    expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    // The page, plus the conversation and the acknowledgement's own few bytes.
    expect(frames.largest).toBeLessThanOrEqual(MAX_PAGE_BYTES + 4096);
  });

  it('answers a flood of 120 re-joins with afterVersion 0 on that conversation with a few pages, not one per join', async () => {
    const client = await connect(flooder);
    const frames = countBytes(client.socket);
    const outcome = await flood(client, 120, 'conversation:join', () => ({ conversationId: big, afterVersion: 0 }));
    expect(outcome.dropped).toBe(0);
    expect([...outcome.codes.keys()].sort()).toEqual(['RATE_LIMITED', 'ok']);
    expect(outcome.codes.get('RATE_LIMITED')).toBeGreaterThanOrEqual(100);
    // Unbounded, this was 120 × 4.8 MB.
    expect(frames.bytes).toBeLessThan(5 * MAX_PAGE_BYTES);
    expect(client.socket.connected).toBe(true);
  });

  it('acks or disconnects every flooder of every event type while a bystander elsewhere keeps being served', async () => {
    const sender = await connect(bystander);
    expect((await sender.emit('conversation:join', { conversationId: quiet })).ok).toBe(true);
    const N = 1500;
    const kinds: [string, (i: number) => unknown][] = [
      ['conversation:join', () => ({ conversationId: small, afterVersion: 0 })],
      ['conversation:leave', () => ({ conversationId: small })],
      ['typing:start', () => ({ conversationId: small })],
      ['typing:stop', () => ({ conversationId: small })],
      ['conversation:read', (i) => ({ conversationId: small, seq: i % 20 })],
      ['run:cancel', () => ({ runId: randomUUID() })],
      ['no:such:event', (i) => ({ i })],
      ['conversation:join', () => JSON.parse('['.repeat(200) + ']'.repeat(200))],
    ];
    const flooders = await Promise.all(kinds.map(() => connect(flooder)));
    await Promise.all(flooders.slice(2, 4).map((client) => client.emit('conversation:join', { conversationId: small })));
    const oversized = await Promise.all(Array.from({ length: 10 }, () => connect(flooder)));

    // Sent on a fixed clock, not one after another, through the flood and what follows it: a
    // stalled server shows as many slow sends, not one.
    const sends: Promise<number>[] = [];
    const send = async (i: number) => {
      const started = performance.now();
      const ack = await sender.emit('message:send', { conversationId: quiet, content: `still here ${i}`, clientMessageId: randomUUID() });
      expect(ack.ok).toBe(true);
      return performance.now() - started;
    };
    const ticker = setInterval(() => sends.push(send(sends.length)), 20);
    const floodStarted = performance.now();
    const [outcomes, oversizedReasons] = await Promise.all([
      Promise.all(kinds.map(([event, payload], i) => flood(flooders[i]!, N, event, payload))),
      Promise.all(
        oversized.map((client) => {
          const reason = new Promise<string>((resolve) => client.socket.on('disconnect', resolve));
          client.socket.emit('message:send', { conversationId: small, content: 'x'.repeat(70 * 1024) });
          return reason;
        }),
      ),
    ]);
    const floodTook = performance.now() - floodStarted;
    await vi.waitFor(() => expect(sends.length).toBeGreaterThanOrEqual(20), { timeout: 10_000 });
    clearInterval(ticker);
    const latencies = (await Promise.all(sends)).sort((a, b) => a - b);

    for (const outcome of outcomes) {
      const acked = [...outcome.codes.values()].reduce((sum, n) => sum + n, 0);
      expect(outcome.codes.get('RATE_LIMITED')).toBeGreaterThan(0);
      expect([...outcome.codes.keys()].every((code) => ['ok', 'RATE_LIMITED', 'NOT_FOUND', 'VALIDATION'].includes(code))).toBe(true);
      // Either every event was answered, or the server cut the flooder off.
      expect(acked === N || outcome.disconnect === 'io server disconnect').toBe(true);
    }
    expect(oversizedReasons).toEqual(Array(10).fill('transport close'));
    expect(latencies.length).toBeGreaterThanOrEqual(20);
    // The flood may hold the bystander up, not stall it: the median send waits less than twice what
    // the flood took to be answered or cut off (measured alongside, so that a loaded machine
    // stretches both alike), and never needs to beat 1 s (500 ms on PostgreSQL; embedded PGlite
    // runs every query on the server's own thread, next to the flood's handling).
    const median = latencies[Math.floor(latencies.length / 2)]!;
    expect(median).toBeLessThan(Math.max(2 * floodTook, process.env.TEST_DATABASE_URL ? 500 : 1000));

    // The server keeps serving, the flooding user included, on a fresh socket.
    const fresh = await connect(flooder);
    expect((await fresh.emit('conversation:join', { conversationId: small })).ok).toBe(true);
    expect((await fresh.emit('message:send', { conversationId: small, content: 'after the flood' })).ok).toBe(true);
  });
});

type Attempt = { connected: true; socket: Socket } | { connected: false; message: string; data: unknown };

/** Opens a socket as the user: connected (kept open unless `close`), or the handshake's refusal. */
function attemptConnect(t: TestApp, user: Registered, { close }: { close: boolean }): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = io(`${t.baseUrl}/chat`, { auth: { token: user.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
    socket.once('connect', () => {
      if (close) socket.close();
      resolve({ connected: true, socket });
    });
    socket.once('connect_error', (error: Error & { data?: unknown }) => resolve({ connected: false, message: error.message, data: error.data }));
  });
}

describe('Socket.IO gateway under a reconnect loop', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('refuses a user who keeps opening sockets (each would bring a fresh event budget), and no one else', async () => {
    t = await startTestApp({ WS_CONNECT_RATE_LIMIT: '5' });
    const [looping, other] = await Promise.all([register(t), register(t)]);
    const attempt = async (user: Registered) => {
      const outcome = await attemptConnect(t, user, { close: true });
      return outcome.connected ? { connected: true } : outcome;
    };
    const outcomes = [];
    for (let i = 0; i < 8; i++) outcomes.push(await attempt(looping));
    expect(outcomes.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => ({ connected: true })));
    for (const refused of outcomes.slice(5)) {
      expect(refused).toEqual({ connected: false, message: 'rate_limited', data: { retryAfterSeconds: expect.any(Number) } });
    }
    expect(await attempt(other)).toEqual({ connected: true });
  });
});

describe('Socket.IO gateway and a connection that keeps asking to connect', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  /** A raw engine.io connection (the Socket.IO client's own transport), recording the packets it is sent. */
  async function rawConnection() {
    const manager = new Manager(t.baseUrl, { transports: ['websocket'], reconnection: false, autoConnect: false });
    await new Promise<void>((resolve, reject) => manager.open((error) => (error ? reject(error) : resolve())));
    type Engine = { id: string; send(packet: string): void; on(event: 'message', listener: (data: string) => void): void; on(event: 'close', listener: () => void): void };
    const engine = manager.engine as unknown as Engine;
    const packets: string[] = [];
    const state = { closed: false };
    engine.on('message', (data) => packets.push(String(data)));
    engine.on('close', () => (state.closed = true));
    const served = () => {
      const server = (t.app.get(ChatGateway) as unknown as { server: Namespace }).server.server;
      return Object.hasOwn((server.engine as unknown as { clients: object }).clients, engine.id);
    };
    return { engine, packets, state, served, close: () => manager.engine.close() };
  }
  const refusals = (packets: string[], namespace: string) => packets.filter((packet) => packet.startsWith(`4${namespace}`)).length;

  it(`closes a connection past ${MAX_CONNECTS_PER_CONNECTION} requests to connect, to any namespace, checking no more than that; a few retries are served`, async () => {
    const user = await register(t);
    // A client retrying with an expired token, then with a fresh one: served as before.
    const retrying = await rawConnection();
    for (let i = 0; i < 3; i++) retrying.engine.send('0/chat,{"token":"expired"}');
    retrying.engine.send(`0/chat,${JSON.stringify({ token: user.accessToken })}`);
    await vi.waitFor(() => expect(retrying.packets.some((packet) => packet.startsWith('0/chat,{"sid"'))).toBe(true));
    expect(refusals(retrying.packets, '/chat,')).toBe(3);

    // Connected to /chat, then left it: the connection stays, with no socket and so no event budget,
    // and asks for namespaces it is refused, again and again: the default one, one that does not exist.
    const leaving = await rawConnection();
    leaving.engine.send(`0/chat,${JSON.stringify({ token: user.accessToken })}`);
    await vi.waitFor(() => expect(leaving.packets.some((packet) => packet.startsWith('0/chat,{"sid"'))).toBe(true));
    leaving.engine.send('1/chat,');
    const elsewhere = await rawConnection();
    // And one that only ever presents a bad token: each one is checked.
    const guessing = await rawConnection();
    const checks = vi.spyOn(t.app.get(AccessTokenService), 'authenticate');
    for (let i = 0; i < 200; i++) {
      leaving.engine.send('0');
      elsewhere.engine.send(`0/${'x'.repeat(1000)},`);
      // The parser reads a blank type as 0 too.
      guessing.engine.send(`${i % 2 ? ' ' : '0'}/chat,{"token":"guess"}`);
    }
    for (const [flooding, namespace] of [[leaving, '{'], [elsewhere, '/x'], [guessing, '/chat,']] as const) {
      await vi.waitFor(() => expect(flooding.state.closed).toBe(true));
      expect(flooding.served()).toBe(false);
      // Those still queued when it closed go unanswered.
      expect(refusals(flooding.packets, namespace)).toBeLessThanOrEqual(MAX_CONNECTS_PER_CONNECTION);
    }
    expect(checks.mock.calls.filter(([token]) => token === 'guess').length).toBeLessThanOrEqual(MAX_CONNECTS_PER_CONNECTION);
    expect(retrying.served()).toBe(true);
    retrying.close();
  });
});

describe('Socket.IO gateway and a client that stops reading', () => {
  let t: TestApp;
  let reader: Registered;
  let bystander: Registered;
  let big: string;
  let busy: string;
  const sockets: Socket[] = [];

  async function connect(user: Registered): Promise<RecordingClient> {
    const client = await connectClient(t.baseUrl, user.accessToken, 30_000);
    sockets.push(client.socket);
    return client;
  }

  /** The client's TCP socket: paused, it reads nothing more, as a stalled or hostile client would. */
  const tcpOf = (client: RecordingClient) =>
    (client.socket.io as unknown as { engine: { transport: { ws: Record<string, { pause(): void; resume(): void }> } } }).engine.transport.ws['_socket']!;

  /** The server's side of a client's socket (the same id on both ends). */
  const serverSocketOf = (client: RecordingClient) =>
    (t.app.get(ChatGateway) as unknown as { server: Namespace }).server.sockets.get(client.socket.id!);

  /** Samples the bytes waiting on the server for this socket until stopped, and once more then; returns the largest. */
  function watchBacklog(client: RecordingClient): { stop(): number } {
    const server = serverSocketOf(client)!;
    let largest = 0;
    const sample = () => (largest = Math.max(largest, outgoingBacklog(server.conn)));
    const timer = setInterval(sample, 10);
    return {
      stop: () => {
        clearInterval(timer);
        return sample();
      },
    };
  }

  /** How many joins the server has answered (or refused) from now on; their acknowledgements are written by then. */
  function countAnswers(): () => number {
    const recovery = t.app.get(JoinRecovery);
    const answer = recovery.answer.bind(recovery);
    let answered = 0;
    // The dispatcher writes the acknowledgement once the handler returns, by the next turn of the event loop.
    const settled = () => setImmediate(() => answered++);
    vi.spyOn(recovery, 'answer').mockImplementation((...args) => answer(...args).finally(settled));
    return () => answered;
  }

  beforeAll(async () => {
    // Room for many pages and sends: here only the bytes waiting for the reader may hold them back.
    t = await startTestApp({ WS_EVENT_RATE: '1000', WS_EVENT_BURST: '1000', MESSAGE_RATE_LIMIT: '100000', WS_MAX_BACKLOG_BYTES: String(4 * 1024 * 1024) });
    [reader, bystander] = await Promise.all([register(t), register(t)]);
    const create = async (participantIds: string[]) =>
      (await t.http(`${API}/conversations`, { method: 'POST', token: reader.accessToken, json: { participantIds, agent: { mode: 'off' } } })).body.id as string;
    [big, busy] = await Promise.all([create([]), create([bystander.id])]);
    const messages = t.app.get(MessagesRepository);
    for (let i = 1; i <= 150; i++) await messages.append({ conversationId: big, role: 'user', authorId: reader.id, content: contentOf(i) });
  }, 120_000);
  afterEach(() => {
    vi.restoreAllMocks();
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reads no more recovery pages while earlier ones wait to be written: RATE_LIMITED, reason CLIENT_BACKLOG', async () => {
    const client = await connect(reader);
    const backlog = watchBacklog(client);
    tcpOf(client).pause();
    const answered = countAnswers();
    const acks: Promise<any>[] = [];
    // 30 pages of 2 MB asked for, each once the one before is answered; unchecked, each one waits
    // in the server's memory.
    for (let i = 0; i < 30; i++) {
      acks.push(client.emit('conversation:join', { conversationId: big, afterVersion: 0 }));
      await vi.waitFor(() => expect(answered()).toBe(i + 1), { timeout: 10_000, interval: 5 });
    }
    const largest = backlog.stop();
    expect(serverSocketOf(client)?.connected).toBe(true);
    tcpOf(client).resume();
    const answers = await Promise.all(acks);
    const refused = answers.filter((ack) => !ack.ok);
    expect(answers.filter((ack) => ack.ok).length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(15);
    for (const ack of refused) {
      expect(ack.error).toEqual({ code: 'RATE_LIMITED', message: expect.any(String), details: { retryAfterSeconds: 1, reason: 'CLIENT_BACKLOG' } });
    }
    // The threshold, then one page; unchecked, this was ~60 MB.
    expect(largest).toBeLessThan(1024 * 1024 + MAX_PAGE_BYTES + 64 * 1024);
  });

  it('disconnects a socket whose backlog of live events passes WS_MAX_BACKLOG_BYTES; the others in its room are served throughout', async () => {
    const [stalled, sender, watcher] = await Promise.all([connect(reader), connect(bystander), connect(bystander)]);
    for (const client of [stalled, sender, watcher]) expect((await client.emit('conversation:join', { conversationId: busy })).ok).toBe(true);
    const server = serverSocketOf(stalled)!;
    const backlog = watchBacklog(stalled);
    // What the guard saw when it cut the connection off (the peak, which sampling may miss).
    const warn = vi.spyOn(Logger.prototype, 'warn');
    tcpOf(stalled).pause();
    const sent: string[] = [];
    // Each message reaches the stalled socket too: 16 KB more waiting for it every time.
    while (server.connected && sent.length < 2000) {
      const acks = await Promise.all(Array.from({ length: 10 }, (_, i) => sender.emit('message:send', { conversationId: busy, content: contentOf(sent.length + i) })));
      for (const ack of acks) {
        expect(ack.ok).toBe(true);
        sent.push(ack.data.message.id);
      }
    }
    const largest = backlog.stop();
    expect(server.connected).toBe(false);
    // Once cut off, nothing waits for it any more.
    await vi.waitFor(() => expect(outgoingBacklog(server.conn)).toBe(0));
    // Past the cap by a quarter of it and what one turn encodes (ten sends: their events and
    // their acknowledgements) at most.
    const connectionId = (server.conn as unknown as { id: string }).id;
    const cut = warn.mock.calls.map(([message]) => /^Disconnecting connection (\S+): (\d+) bytes/.exec(String(message))).find((match) => match?.[1] === connectionId);
    expect(Number(cut?.[2])).toBeGreaterThan(4 * 1024 * 1024);
    expect(Number(cut?.[2])).toBeLessThan(1.25 * 4 * 1024 * 1024 + 10 * 2 * 17_000);
    expect(largest).toBeLessThanOrEqual(Number(cut?.[2]));
    const last = await sender.emit('message:send', { conversationId: busy, content: 'still here' });
    expect(last.ok).toBe(true);
    await watcher.waitFor('message:created', (p) => p.message.id === last.data.message.id);
    // Sent ten at a time, so they were stored (and delivered) in an order of their own.
    expect(watcher.of('message:created').map((p) => p.message.id).sort()).toEqual([...sent, last.data.message.id].sort());
    expect(watcher.socket.connected && sender.socket.connected).toBe(true);
  });
});

describe('Socket.IO gateway and the sockets one user holds open', () => {
  let t: TestApp;
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await t?.close();
  });

  it('refuses sockets beyond WS_MAX_SOCKETS_PER_USER with "too_many_connections", however many handshakes race, and frees a place on disconnect', async () => {
    t = await startTestApp({ WS_MAX_SOCKETS_PER_USER: '3' });
    const [hoarder, other] = await Promise.all([register(t), register(t)]);
    const open = async (user: Registered) => {
      const outcome = await attemptConnect(t, user, { close: false });
      if (outcome.connected) sockets.push(outcome.socket);
      return outcome;
    };
    // All at once: each handshake must see the ones admitted before it.
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => open(hoarder)));
    const connected = outcomes.filter((outcome) => outcome.connected);
    expect(connected).toHaveLength(3);
    for (const refused of outcomes.filter((outcome) => !outcome.connected)) {
      expect(refused).toEqual({ connected: false, message: 'too_many_connections', data: { limit: 3 } });
    }
    expect((await open(other)).connected).toBe(true);

    (connected[0] as { socket: Socket }).socket.close();
    await vi.waitFor(async () => expect((await open(hoarder)).connected).toBe(true), { timeout: 5000, interval: 100 });
    expect(await open(hoarder)).toMatchObject({ connected: false, message: 'too_many_connections' });
  });
});
