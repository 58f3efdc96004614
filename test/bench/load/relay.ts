/**
 * Agent relay: `conversations.length` concurrent replies streamed by the fake model at a fixed
 * token rate, `waves` times in a row (each wave starts once the previous one has ended).
 * `ours` sends one message per conversation over Socket.IO and times the first run:delta;
 * `direct` asks the fake model itself and times its first content chunk.
 */
import { io, type Socket } from 'socket.io-client';
import { params, percentile } from '../lib.js';

interface Params {
  mode: 'ours' | 'direct';
  url: string;
  fakeUrl: string;
  token: string;
  conversations: string[];
  waves?: number;
}

const p = params<Params>();
const ttft: number[] = [];
const framesPerSecond: number[] = [];
let identical = 0;
let completed = 0;

async function directWave(): Promise<void> {
  await Promise.all(
    p.conversations.map(async () => {
      const started = performance.now();
      const response = await fetch(`${p.fakeUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fake', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      let first = true;
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        if (first && decoder.decode(chunk).includes('"content":"t')) {
          ttft.push(performance.now() - started);
          first = false;
        }
      }
      completed++;
    }),
  );
}

interface RunState {
  sentAt: number;
  first?: number;
  /** When the last delta so far came. */
  last?: number;
  frames: number;
  text: string;
}

/**
 * Deltas of runs whose send is not acknowledged yet (the acknowledgement and the first delta race
 * under load): kept until the acknowledgement names their run, so that no first token is missed.
 */
const early = new Map<string, { at: number; last: number; frames: number; text: string }>();
/** Final texts of runs that ended before their send's acknowledgement came. */
const endedEarly = new Map<string, string>();

/** The run's delta rate: the frames after the first over the time from the first to the last (the first goes out at once). */
function recordRate(state: RunState): void {
  const seconds = ((state.last ?? 0) - (state.first ?? 0)) / 1000;
  if (state.frames > 1 && seconds > 0) framesPerSecond.push((state.frames - 1) / seconds);
}

/** Follows the runs of every wave on one socket: deltas time the first token, completions end the wave. */
function follow(socket: Socket, runs: Map<string, RunState>, onCompleted: () => void): void {
  socket.on('run:delta', ({ runId, text }: { runId: string; text: string }) => {
    const run = runs.get(runId);
    const now = performance.now();
    if (!run) {
      const seen = early.get(runId) ?? { at: now, last: now, frames: 0, text: '' };
      early.set(runId, { ...seen, last: now, frames: seen.frames + 1, text: seen.text + text });
      return;
    }
    if (run.first === undefined) {
      run.first = now;
      ttft.push(now - run.sentAt);
    }
    run.last = now;
    run.frames++;
    run.text += text;
  });
  socket.on('run:completed', ({ run, message }: { run: { id: string }; message: { content: string } }) => {
    const state = runs.get(run.id);
    if (!state) {
      // Ended before its send's acknowledgement came (a very short reply under load): counted then.
      endedEarly.set(run.id, message.content);
      return;
    }
    completed++;
    if (state.text === message.content) identical++;
    recordRate(state);
    onCompleted();
  });
}

async function oursWaves(waves: number): Promise<void> {
  const socket = io(`${p.url}/chat`, { auth: { token: p.token }, transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  for (const conversationId of p.conversations) await socket.timeout(10_000).emitWithAck('conversation:join', { conversationId });
  const runs = new Map<string, RunState>();
  let waiting: { count: number; resolve: () => void } | undefined;
  follow(socket, runs, () => {
    if (waiting && --waiting.count === 0) waiting.resolve();
  });
  for (let wave = 0; wave < waves; wave++) {
    const done = new Promise<void>((resolve) => (waiting = { count: p.conversations.length, resolve }));
    await Promise.all(
      p.conversations.map(async (conversationId) => {
        const state: RunState = { sentAt: performance.now(), frames: 0, text: '' };
        const ack = await socket.timeout(20_000).emitWithAck('message:send', { conversationId, content: 'stream please' });
        const runId: string = ack.data.run.id;
        const seen = early.get(runId);
        if (seen) {
          early.delete(runId);
          Object.assign(state, { first: seen.at, last: seen.last, frames: seen.frames, text: seen.text });
          ttft.push(seen.at - state.sentAt);
        }
        runs.set(runId, state);
        const final = endedEarly.get(runId);
        if (final !== undefined) {
          endedEarly.delete(runId);
          completed++;
          if (state.text === final) identical++;
          recordRate(state);
          if (waiting && --waiting.count === 0) waiting.resolve();
        }
      }),
    );
    await Promise.race([done, new Promise((r) => setTimeout(r, 120_000))]);
  }
  socket.close();
}

if (p.mode === 'direct') for (let wave = 0; wave < (p.waves ?? 1); wave++) await directWave();
else await oursWaves(p.waves ?? 1);
console.log(
  JSON.stringify({
    completed,
    identical,
    ttftP50: percentile(ttft, 50),
    ttftP99: percentile(ttft, 99),
    framesPerSecondMax: framesPerSecond.length ? Math.max(...framesPerSecond) : 0,
  }),
);
process.exit(0);
