import { type ChildProcess, fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Chunk, ChunkOptions } from '../chunker.js';
import { ExtractionError } from './extraction-error.js';
import { MEMORY_EXCEEDED } from './watchdog.js';

/** What the worker process is given: one document. */
export interface ExtractionJob {
  mediaType: string;
  bytes: Uint8Array;
  maxChars: number;
  chunking: ChunkOptions;
  /** The worker ends itself past this (and a little more), should the server be unable to. */
  timeoutMs?: number;
}

export interface ExtractionResult {
  chunks: Chunk[];
  /** Only the first `maxChars` characters of the text were read. */
  truncated: boolean;
}

/** What a worker answers; `readable` errors are meant for users, the others for the log. */
export type ExtractionOutcome = ({ ok: true } & ExtractionResult) | { ok: false; error: string; readable: boolean };

export interface ExtractionLimits {
  timeoutMs: number;
  memoryMb: number;
  maxChars: number;
  chunking: ChunkOptions;
}

/** The extraction was stopped from outside (the server is stopping): the document stays to process. */
export class ExtractionAborted extends Error {
  override readonly name = 'ExtractionAborted';
}

/** Running from source (the tests), the worker is the last build's: Node cannot run TypeScript. */
const WORKER = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../../dist/src/documents/extraction/extraction.worker.js' : './extraction.worker.js', import.meta.url));
/** What the worker printed last (a crash report), for the log. */
const STDERR_KEPT = 4096;

type Settle = { resolve(result: ExtractionResult): void; reject(error: Error): void };

/**
 * One worker process that extracts and chunks documents one at a time, so parsing never blocks
 * the event loop and a crafted file can fail its own document, never the server: past its time
 * the process is killed, and past its heap V8 aborts that process alone. (A worker thread's
 * resourceLimits do not hold: a large allocation in a worker still aborts the whole process.)
 * It inherits no environment: no secret of the server is within a parser's reach.
 */
export class ExtractionProcess {
  /** Resolves once the process has ended and its output is read. */
  readonly exited: Promise<void>;
  /** Jobs given to this process so far. */
  jobs = 0;
  private readonly child: ChildProcess;
  private stderr = '';
  private current: Settle | undefined;
  /** Killed, or answered in a way that leaves its state in doubt: it takes no more jobs. */
  private retired = false;

  constructor(readonly memoryMb: number) {
    this.child = fork(WORKER, [], {
      execArgv: [`--max-old-space-size=${memoryMb}`],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {},
    });
    this.child.stderr?.on('data', (data: Buffer) => (this.stderr = (this.stderr + data.toString()).slice(-STDERR_KEPT)));
    this.child.on('message', (outcome: ExtractionOutcome) => this.answered(outcome));
    this.child.on('error', (error) => {
      this.fail(error);
      if (!this.retired) this.kill();
    });
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': the crash report on stderr has been read by then.
      this.child.once('close', (code, signal) => {
        this.retired = true;
        this.fail(exitError(code, signal, this.stderr));
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Alive and in a known state: it can take another job. */
  get reusable(): boolean {
    return !this.retired;
  }

  /** Runs one job; the process is killed if it overruns `timeoutMs` or `signal` aborts. */
  run(job: ExtractionJob, timeoutMs: number, signal: AbortSignal): Promise<ExtractionResult> {
    if (this.current) throw new Error('An extraction process runs one job at a time');
    if (signal.aborted || this.retired) return Promise.reject(new ExtractionAborted());
    this.jobs++;
    this.stderr = '';
    this.hold(true);
    return new Promise<ExtractionResult>((resolve, reject) => {
      const stop = (error: Error) => {
        this.fail(error);
        this.kill();
      };
      const abort = () => stop(new ExtractionAborted());
      const timer = setTimeout(() => stop(new ExtractionError(`Extracting the text took too long (over ${seconds(timeoutMs)} s); try a smaller document`)), timeoutMs);
      signal.addEventListener('abort', abort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', abort);
        this.current = undefined;
        this.hold(false);
      };
      this.current = {
        resolve: (result) => (done(), resolve(result)),
        reject: (error) => (done(), reject(error)),
      };
      // The worker holds the job to its time as well, should this process be gone.
      this.child.send({ ...job, timeoutMs } satisfies ExtractionJob, (error) => error && stop(error));
    });
  }

  /** Ends the process at once; a job under way fails as aborted. */
  kill(): void {
    this.retired = true;
    this.fail(new ExtractionAborted());
    this.child.kill('SIGKILL');
  }

  private answered(outcome: ExtractionOutcome): void {
    if (outcome.ok) return this.current?.resolve({ chunks: outcome.chunks, truncated: outcome.truncated });
    // An unexpected error may leave the parser in any state: the next document gets a fresh process.
    if (!outcome.readable) this.retired = true;
    this.current?.reject(outcome.readable ? new ExtractionError(outcome.error) : new Error(outcome.error));
  }

  private fail(error: Error): void {
    this.current?.reject(error);
  }

  /**
   * Whether this process keeps the server's own process alive: only while it works. An idle
   * worker never stands in the way of a normal exit.
   */
  private hold(working: boolean): void {
    const handles: { ref(): unknown; unref(): unknown }[] = [this.child];
    if (this.child.channel) handles.push(this.child.channel);
    if (this.child.stderr) handles.push(this.child.stderr as Socket);
    for (const handle of handles) {
      if (working) handle.ref();
      else handle.unref();
    }
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 });
}

/** Why the worker ended without answering: out of memory is the document's doing, anything else the server's. */
function exitError(code: number | null, signal: NodeJS.Signals | null, stderr: string): Error {
  if (/heap out of memory|Allocation failed/.test(stderr) || stderr.includes(MEMORY_EXCEEDED)) return new ExtractionError('The document needs more memory to process than this server allows');
  return new Error(`The extraction worker stopped (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' ')}`);
}
