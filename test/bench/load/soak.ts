/**
 * Soak: mixed load for a fixed time — messages sent with acks into conversations whose agent
 * streams a reply from the fake model, sockets connecting, joining and leaving in a loop, SSE
 * streams opened and closed, history pages read — while the server's heap (after a full
 * collection) and RSS are sampled. Reports the growth after warm-up and every error (a refused or unanswered ack,
 * a failed run, a refused connection or stream, a non-2xx page).
 */
import { io, type Socket } from 'socket.io-client';
import { params, percentile } from '../lib.js';

interface Params {
  url: string;
  /** The server's heap after a full collection, and its RSS (servers/heap-probe.ts). */
  heapUrl: string;
  tokens: string[];
  /** Conversations whose agent answers every message (all users take part in each). */
  agentConversations: string[];
  /** Conversations with the agent off, for churn and history. */
  quietConversations: string[];
  durationSeconds: number;
  warmupSeconds: number;
  sampleMs: number;
  sendsPerSecond: number;
  reconnectsPerSecond: number;
  sseStreams: number;
  pagesPerSecond: number;
}

interface Sample {
  at: number;
  heap: number;
  rss: number;
}

const ACK_TIMEOUT_MS = 20_000;
const p = params<Params>();
const errors = new Map<string, number>();
const counts = { sent: 0, acked: 0, repliesCompleted: 0, reconnects: 0, sseOpened: 0, pages: 0 };
/** Runs started and not yet seen to finish (every sender socket sees each run: ids, not events). */
const unfinished = new Set<string>();
const finished = new Set<string>();
const ackLatencies: number[] = [];
const samples: Sample[] = [];
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
let stopped = false;
const running = () => !stopped && elapsed() < p.durationSeconds;

function fail(kind: string, detail?: unknown): void {
  errors.set(kind, (errors.get(kind) ?? 0) + 1);
  if ((errors.get(kind) ?? 0) <= 3) process.stderr.write(`[soak] ${kind}: ${detail instanceof Error ? detail.message : JSON.stringify(detail ?? '')}\n`);
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connect(token: string): Promise<Socket> {
  const socket = io(`${p.url}/chat`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

async function ack(socket: Socket, event: string, payload: object): Promise<unknown> {
  const answer = (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload)) as { ok: boolean; data?: unknown; error?: unknown };
  if (!answer.ok) throw Object.assign(new Error(`${event} refused`), { answer: answer.error });
  return answer.data;
}

/** Calls `task` `perSecond` times a second (not waiting for it) until the run ends. */
async function every(perSecond: number, task: () => Promise<void>): Promise<void> {
  const pending = new Set<Promise<void>>();
  for (let n = 0; running(); n++) {
    const due = started + (n * 1000) / perSecond;
    if (due > performance.now()) await sleep(due - performance.now());
    if (!running()) break;
    const run = task().finally(() => pending.delete(run));
    pending.add(run);
  }
  await Promise.all(pending);
}

/** One socket per user, in every agent conversation; sends round-robin and counts the replies. */
async function senders(): Promise<void> {
  const sockets = await Promise.all(p.tokens.map((token) => connect(token)));
  for (const socket of sockets) {
    socket.on('run:started', ({ run }: { run: { id: string } }) => {
      if (!finished.has(run.id)) unfinished.add(run.id);
    });
    socket.on('run:completed', ({ run }: { run: { id: string } }) => {
      if (!finished.has(run.id)) counts.repliesCompleted++;
      finished.add(run.id);
      unfinished.delete(run.id);
    });
    socket.on('run:failed', ({ run, error }: { run: { id: string }; error: unknown }) => {
      if (!finished.has(run.id)) fail('run failed', error);
      finished.add(run.id);
      unfinished.delete(run.id);
    });
    socket.on('disconnect', (reason) => running() && fail('sender disconnected', reason));
    for (const conversationId of p.agentConversations) await ack(socket, 'conversation:join', { conversationId });
  }
  let n = 0;
  await every(p.sendsPerSecond, async () => {
    const index = n++;
    const socket = sockets[index % sockets.length]!;
    const conversationId = p.agentConversations[index % p.agentConversations.length]!;
    const sentAt = performance.now();
    counts.sent++;
    try {
      await ack(socket, 'message:send', { conversationId, content: `soak message ${index}`, clientMessageId: `soak-${index}` });
      counts.acked++;
      ackLatencies.push(performance.now() - sentAt);
    } catch (error) {
      fail('send', error);
    }
  });
  // Replies to the last messages may still be streaming.
  for (let waited = 0; unfinished.size && waited < ACK_TIMEOUT_MS; waited += 100) await sleep(100);
  for (const socket of sockets) socket.close();
}

/** Sockets that connect, join, stay a moment and leave. */
async function churn(): Promise<void> {
  await every(p.reconnectsPerSecond, async () => {
    let socket: Socket | undefined;
    try {
      socket = await connect(pick(p.tokens));
      await ack(socket, 'conversation:join', { conversationId: pick([...p.agentConversations, ...p.quietConversations]) });
      await sleep(200 + Math.random() * 800);
      counts.reconnects++;
    } catch (error) {
      fail('reconnect', error);
    } finally {
      socket?.close();
    }
  });
}

/** SSE streams of the agent conversations, each read for a few seconds and then dropped. */
async function sse(): Promise<void> {
  await Promise.all(
    Array.from({ length: p.sseStreams }, async () => {
      while (running()) {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), 2000 + Math.random() * 3000);
        try {
          const response = await fetch(`${p.url}/api/v1/conversations/${pick(p.agentConversations)}/events`, {
            headers: { authorization: `Bearer ${pick(p.tokens)}`, accept: 'text/event-stream' },
            signal: controller.signal,
          });
          if (response.status !== 200) fail('sse status', response.status);
          else counts.sseOpened++;
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) if (!chunk.length || !running()) break;
        } catch (error) {
          if (!controller.signal.aborted) fail('sse', error);
        } finally {
          clearTimeout(timer);
        }
      }
    }),
  );
}

async function pages(): Promise<void> {
  await every(p.pagesPerSecond, async () => {
    const response = await fetch(`${p.url}/api/v1/conversations/${pick(p.agentConversations)}/messages?limit=50`, {
      headers: { authorization: `Bearer ${pick(p.tokens)}` },
    }).catch((error: unknown) => error as Error);
    if (response instanceof Error || response.status !== 200) fail('history page', response instanceof Error ? response : response.status);
    else counts.pages++;
    if (!(response instanceof Error)) await response.arrayBuffer().catch(() => undefined);
  });
}

async function sample(): Promise<void> {
  while (running()) {
    try {
      const { heapUsed, rss } = (await (await fetch(p.heapUrl, { signal: AbortSignal.timeout(10_000) })).json()) as { heapUsed: number; rss: number };
      samples.push({ at: elapsed(), heap: heapUsed, rss });
    } catch (error) {
      fail('heap probe', error);
    }
    await sleep(p.sampleMs);
  }
}

/** Growth between the first and the last fifth of the samples after warm-up: heap by each window's lowest sample, RSS by median. */
function growth(after: Sample[]) {
  const size = Math.max(2, Math.floor(after.length / 5));
  const first = after.slice(0, size);
  const last = after.slice(-size);
  const low = (window: Sample[]) => Math.min(...window.map((s) => s.heap));
  const median = (window: Sample[]) => percentile(window.map((s) => s.rss), 50);
  return {
    heapStart: low(first),
    heapEnd: low(last),
    heapGrowth: low(last) / low(first) - 1,
    rssStart: median(first),
    rssEnd: median(last),
    rssGrowth: median(last) / median(first) - 1,
  };
}

await Promise.all([senders(), churn(), sse(), pages(), sample()]).catch((error: unknown) => {
  fail('harness', error);
  stopped = true;
});
if (unfinished.size) fail('runs unfinished', { runs: unfinished.size });
if (!counts.repliesCompleted) fail('no reply streamed');
const after = samples.filter((s) => s.at >= p.warmupSeconds);
console.log(
  JSON.stringify({
    seconds: elapsed(),
    ...counts,
    ackP50: percentile(ackLatencies, 50),
    ackP99: percentile(ackLatencies, 99),
    errors: Object.fromEntries(errors),
    errorCount: [...errors.values()].reduce((sum, n) => sum + n, 0),
    samples: samples.length,
    ...growth(after.length >= 4 ? after : samples),
  }),
);
process.exit(0);
