/**
 * Persisted fan-out load: `members` sockets join every room; messages are sent at a fixed rate,
 * round robin over rooms and senders, each carrying its send time. Measures delivery latency
 * (send → every member received) and how many were acknowledged.
 */
import { io, type Socket } from 'socket.io-client';
import { params, percentile } from '../lib.js';

interface Params {
  mode: 'ours' | 'baseline';
  url: string;
  tokens: string[];
  rooms: string[];
  members: number;
  rate: number;
  durationMs: number;
}

const p = params<Params>();
const ours = p.mode === 'ours';
const sockets: Socket[] = [];
const latencies: number[] = [];
const ackLatencies: number[] = [];
let delivered = 0;

for (let i = 0; i < p.members; i++) {
  const socket = io(ours ? `${p.url}/chat` : p.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(ours && { auth: { token: p.tokens[i % p.tokens.length] } }),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const onMessage = (content: string) => {
    const sentAt = Number(content.split('|')[1]);
    latencies.push(Date.now() - sentAt);
    delivered++;
  };
  if (ours) {
    socket.on('message:created', (payload: { message: { content: string } }) => onMessage(payload.message.content));
    for (const conversationId of p.rooms) await socket.timeout(10_000).emitWithAck('conversation:join', { conversationId });
  } else {
    socket.on('message', (payload: { content: string }) => onMessage(payload.content));
    await socket.timeout(10_000).emitWithAck('join', { rooms: p.rooms });
  }
  sockets.push(socket);
}

let sent = 0;
let acked = 0;
let failed = 0;

async function settle(request: Promise<{ ok: boolean }>, at: number): Promise<void> {
  try {
    if ((await request).ok) {
      acked++;
      ackLatencies.push(Date.now() - at);
    } else failed++;
  } catch {
    failed++;
  }
}

const settled = () => acked + failed >= sent;
const started = Date.now();
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = Date.now() - started;
    if (elapsed >= p.durationMs) {
      clearInterval(timer);
      resolve();
      return;
    }
    const due = Math.floor((elapsed / 1000) * p.rate);
    while (sent < due) {
      const index = sent++;
      const room = p.rooms[index % p.rooms.length]!;
      const socket = sockets[index % sockets.length]!;
      const at = Date.now();
      const content = `m${index}|${at}`;
      const request = ours
        ? socket.timeout(10_000).emitWithAck('message:send', { conversationId: room, content })
        : socket.timeout(10_000).emitWithAck('send', { room, content });
      void settle(request, at);
    }
  }, 5);
});
// Let deliveries in flight arrive.
const expected = () => acked * p.members;
const drainStarted = Date.now();
while ((delivered < expected() || !settled()) && Date.now() - drainStarted < 10_000) await new Promise((r) => setTimeout(r, 50));
for (const socket of sockets) socket.close();
console.log(
  JSON.stringify({
    sent,
    acked,
    failed,
    delivered,
    expectedDeliveries: expected(),
    ratePerSecond: acked / (p.durationMs / 1000),
    deliveryP50: percentile(latencies, 50),
    deliveryP99: percentile(latencies, 99),
    ackP50: percentile(ackLatencies, 50),
    ackP99: percentile(ackLatencies, 99),
  }),
);
process.exit(0);
