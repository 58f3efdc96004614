/**
 * Idle connections: opens `count` sockets (`concurrency` at a time, spread over several
 * 127.0.0.x addresses), each joining one room, and measures handshake latency and connect rate.
 * Holds them while the orchestrator reads the server's heap, then closes them.
 */
import { io, type Socket } from 'socket.io-client';
import { params, percentile } from '../lib.js';

interface Params {
  mode: 'ours' | 'baseline';
  port: number;
  token: string;
  room: string;
  count: number;
  concurrency: number;
  heapUrl: string;
}

const p = params<Params>();
const ours = p.mode === 'ours';
const sockets: Socket[] = [];
const handshakes: number[] = [];
let failures = 0;

async function heap(): Promise<number> {
  const response = await fetch(p.heapUrl, { signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  if (ours) return Number(text.match(/^nodejs_heap_size_used_bytes (\S+)$/m)?.[1]);
  return (JSON.parse(text) as { heapUsed: number }).heapUsed;
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
    handshakes.push(performance.now() - started);
    if (ours) await socket.timeout(20_000).emitWithAck('conversation:join', { conversationId: p.room });
    else await socket.timeout(20_000).emitWithAck('join', { room: p.room });
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
await Promise.all(
  Array.from({ length: p.concurrency }, async () => {
    while (next < p.count) await open(next++);
  }),
);
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
    heapPerSocket: (heapAfter - heapBefore) / Math.max(1, sockets.length),
  }),
);
process.exit(0);
