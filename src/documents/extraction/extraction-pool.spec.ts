import { afterEach, describe, expect, it } from 'vitest';
import { buildPdf } from '../../../test/fixtures/documents/index.js';
import { waitUntil } from '../../../test/support/conditions.js';
import { DEFAULT_CHUNKING } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';
import { ExtractionPool, type ExtractionPoolOptions } from './extraction-pool.js';
import { ExtractionAborted, type ExtractionLimits } from './extraction-runner.js';

const limits: ExtractionLimits = { timeoutMs: 30_000, memoryMb: 256, maxChars: 2_000_000, chunking: DEFAULT_CHUNKING };
const never = new AbortController().signal;
/** Seconds of chunking: a job still running when the test acts on it. */
const SLOW = Buffer.alloc(8_000_000, 'word. ');

const text = (words: string) => Buffer.from(words);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('extraction succeeded');
    },
    (error: unknown) => error,
  );

describe('ExtractionPool', () => {
  const pools: ExtractionPool[] = [];
  const open = (options: ExtractionPoolOptions) => {
    const pool = new ExtractionPool(options);
    pools.push(pool);
    return pool;
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close()));
  });

  it('runs successive documents in the same process', async () => {
    const pool = open({ size: 1 });
    const first = await pool.run('text/plain', text('Harbour dues are paid monthly.'), limits, never);
    const [pid] = pool.pids;
    const second = await pool.run('text/plain', text('Moorings are assigned by the harbour master.'), limits, never);
    expect(first.chunks[0]!.content).toBe('Harbour dues are paid monthly.');
    expect(second.chunks[0]!.content).toBe('Moorings are assigned by the harbour master.');
    expect(pool.pids).toEqual([pid]);
  });

  it('keeps the process after a file that is merely unreadable', async () => {
    const pool = open({ size: 1 });
    await pool.run('text/plain', text('first'), limits, never);
    const [pid] = pool.pids;
    const error = await failure(pool.run('application/pdf', buildPdf([[{ text: 'x' }]], { encrypted: true }), limits, never));
    expect(error).toBeInstanceOf(ExtractionError);
    expect(pool.pids).toEqual([pid]);
  });

  it('never runs more processes than its size, and finishes every job', async () => {
    const pool = open({ size: 2 });
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, pool.pids.length)), 1);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.run('text/plain', text(`Document number ${i}.`), limits, never)));
    clearInterval(watch);
    expect(results.map((result) => result.chunks[0]!.content)).toEqual(Array.from({ length: 8 }, (_, i) => `Document number ${i}.`));
    expect(most).toBeLessThanOrEqual(2);
    expect(pool.pids.length).toBeLessThanOrEqual(2);
  });

  it('replaces a process killed past its time', async () => {
    const pool = open({ size: 1 });
    await pool.run('text/plain', text('warm'), limits, never);
    const [pid] = pool.pids;
    const error = await failure(pool.run('text/plain', SLOW, { ...limits, timeoutMs: 200 }, never));
    expect((error as Error).message).toBe('Extracting the text took too long (over 0.2 s); try a smaller document');
    expect((await pool.run('text/plain', text('after'), limits, never)).chunks[0]!.content).toBe('after');
    expect(pool.pids).not.toContain(pid);
    expect(alive(pid!)).toBe(false);
  });

  it('replaces a process that ran out of memory, failing only its document', async () => {
    const pool = open({ size: 1 });
    const small = { ...limits, memoryMb: 64, maxChars: 100_000_000 };
    await pool.run('text/plain', text('warm'), small, never);
    const [pid] = pool.pids;
    const error = await failure(pool.run('text/html', Buffer.from(`<p>${'a'.repeat(60_000_000)}</p>`), small, never));
    expect((error as Error).message).toBe('The document needs more memory to process than this server allows');
    expect((await pool.run('text/plain', text('after'), small, never)).chunks[0]!.content).toBe('after');
    expect(pool.pids).not.toContain(pid);
  });

  it('replaces a process after its share of jobs', async () => {
    const pool = open({ size: 1, maxJobs: 2 });
    await pool.run('text/plain', text('one'), limits, never);
    const [pid] = pool.pids;
    await pool.run('text/plain', text('two'), limits, never);
    await waitUntil(() => !alive(pid!), 'the used process to end');
    await pool.run('text/plain', text('three'), limits, never);
    expect(pool.pids).toHaveLength(1);
    expect(pool.pids).not.toContain(pid);
  });

  it('lets idle processes end', async () => {
    const pool = open({ size: 2, idleMs: 100 });
    const jobs = [pool.run('text/plain', text('one'), limits, never), pool.run('text/plain', text('two'), limits, never)];
    // Started at once, one for each job.
    const pids = pool.pids;
    expect(pids).toHaveLength(2);
    await Promise.all(jobs);
    await waitUntil(() => pool.pids.length === 0 && !pids.some(alive), 'idle processes to end');
    expect((await pool.run('text/plain', text('later'), limits, never)).chunks[0]!.content).toBe('later');
  });

  it('gives a new process the heap limit it is asked for', async () => {
    const pool = open({ size: 1 });
    await pool.run('text/plain', text('one'), limits, never);
    const [pid] = pool.pids;
    await pool.run('text/plain', text('two'), { ...limits, memoryMb: 128 }, never);
    expect(pool.pids).toHaveLength(1);
    expect(pool.pids).not.toContain(pid);
  });

  it('stops a job at once when aborted, running or waiting for a process', async () => {
    const pool = open({ size: 1 });
    const running = new AbortController();
    const waiting = new AbortController();
    const first = failure(pool.run('text/plain', SLOW, limits, running.signal));
    const second = failure(pool.run('text/plain', text('queued'), limits, waiting.signal));
    waiting.abort();
    expect(await second).toBeInstanceOf(ExtractionAborted);
    const [pid] = await waitUntil(() => (pool.pids.length > 0 ? pool.pids : undefined), 'the process to start');
    running.abort();
    expect(await first).toBeInstanceOf(ExtractionAborted);
    await waitUntil(() => !alive(pid!), 'the aborted process to end');
    expect((await pool.run('text/plain', text('after'), limits, never)).chunks[0]!.content).toBe('after');
  });

  it('kills every process on close, busy or idle, and takes no more jobs', async () => {
    const pool = open({ size: 2 });
    await Promise.all([pool.run('text/plain', text('one'), limits, never), pool.run('text/plain', text('two'), limits, never)]);
    const busy = failure(pool.run('text/plain', SLOW, limits, never));
    const pids = await waitUntil(() => (pool.pids.length === 2 ? pool.pids : undefined), 'two processes');
    await pool.close();
    expect(await busy).toBeInstanceOf(ExtractionAborted);
    expect(pids.filter(alive)).toEqual([]);
    expect(pool.pids).toEqual([]);
    expect(await failure(pool.run('text/plain', text('too late'), limits, never))).toBeInstanceOf(ExtractionAborted);
  });
});
