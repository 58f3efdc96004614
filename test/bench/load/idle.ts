/**
 * Idle connections: opens `count` sockets at `rate` connects per second (arrivals on a schedule,
 * not a fixed number in flight, so the handshake time is the server's and not a queue of our own
 * making), spread over several 127.0.0.x addresses, each joining one room. Measures handshake and
 * join latency and the connect rate; holds the sockets while the server's heap is read, then closes
 * them. Runs as its own process: the server and this client each need a descriptor per socket.
 */
import { io, type Socket } from 'socket.io-client';
import { params, percentile } from '../lib.js';

interface Params {
  mode: 'ours' | 'baseline';
  port: number;
  token: string;
  room: string;
  count: number;
  /** Connects started per second. */
  rate: number;
  heapUrl: string;
}

/** Opening pauses while this many handshakes and joins are unanswered: a server that falls behind shows as a lower rate. */
const MAX_IN_FLIGHT = 250;
const TICK_MS = 10;

const p = params<Params>();
const ours = p.mode === 'ours';
const sockets: Socket[] = [];
const handshakes: number[] = [];
const joins: number[] = [];
let failures = 0;
let inFlight = 0;

/** The server's heap after a full collection (servers/heap-probe.ts). */
async function heap(): Promise<number> {
  const response = await fetch(p.heapUrl, { signal: AbortSignal.timeout(30_000) });
  return ((await response.json()) as { heapUsed: number }).heapUsed;
}

async function open(index: number): Promise<void> {
  const host = `127.0.0.${1 + (index % 8)}`;
  const started = performance.now();
  const socket = io(ours ? `http://${host}:${p.port}/chat` : `http://${host}:${p.port}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(ours && { auth: { token: p.token } }),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const connected = performance.now();
    handshakes.push(connected - started);
    if (ours) await socket.timeout(20_000).emitWithAck('conversation:join', { conversationId: p.room });
    else await socket.timeout(20_000).emitWithAck('join', { room: p.room });
    joins.push(performance.now() - connected);
    sockets.push(socket);
  } catch {
    failures++;
    socket.close();
  }
}

await new Promise((r) => setTimeout(r, 1000));
const heapBefore = await heap();
const started = performance.now();
let next = 0;
const opened: Promise<void>[] = [];
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const due = Math.min(p.count, Math.floor(((performance.now() - started) / 1000) * p.rate) + 1);
    while (next < due && inFlight < MAX_IN_FLIGHT) {
      inFlight++;
      opened.push(open(next++).finally(() => inFlight--));
    }
    if (next >= p.count) {
      clearInterval(timer);
      resolve();
    }
  }, TICK_MS);
});
await Promise.all(opened);
const seconds = (performance.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 3000));
const heapAfter = await heap().catch(() => Number.NaN);
for (const socket of sockets) socket.close();
console.log(
  JSON.stringify({
    connected: sockets.length,
    failures,
    connectRate: sockets.length / seconds,
    handshakeP50: percentile(handshakes, 50),
    handshakeP99: percentile(handshakes, 99),
    joinP99: percentile(joins, 99),
    heapPerSocket: (heapAfter - heapBefore) / Math.max(1, sockets.length),
  }),
);
process.exit(0);
