import { ExtractionAborted, type ExtractionLimits, ExtractionProcess, type ExtractionResult } from './extraction-runner.js';

export interface ExtractionPoolOptions {
  /** Processes at most, busy or idle. */
  size: number;
  /** Jobs a process runs before it is replaced: whatever a parser leaks stays bounded. */
  maxJobs?: number;
  /** How long a process waits for work before it ends: an idle server holds none. */
  idleMs?: number;
}

const MAX_JOBS = 100;
const IDLE_MS = 30_000;

interface Waiter {
  memoryMb: number;
  give(worker: ExtractionProcess): void;
  cancel(error: Error): void;
}

/**
 * Worker processes for extraction, reused: starting Node and loading the parsers costs far more
 * than extracting a typical document. A process runs one job at a time. After a successful job
 * (or a file that is simply unreadable) it waits for the next; after a timeout, an abort, a crash,
 * running out of memory or an unexpected error it is killed and a fresh one takes its place.
 */
export class ExtractionPool {
  private readonly processes = new Set<ExtractionProcess>();
  /** Waiting for work, the most recently used last: it is taken first, the others idle out. */
  private readonly idle: { worker: ExtractionProcess; timer: NodeJS.Timeout }[] = [];
  private readonly waiting: Waiter[] = [];
  private readonly maxJobs: number;
  private readonly idleMs: number;
  private closed = false;

  constructor(private readonly options: ExtractionPoolOptions) {
    this.maxJobs = options.maxJobs ?? MAX_JOBS;
    this.idleMs = options.idleMs ?? IDLE_MS;
  }

  /** The ids of the processes alive now, busy or idle. */
  get pids(): number[] {
    return [...this.processes].flatMap((worker) => (worker.pid === undefined ? [] : [worker.pid]));
  }

  /** Extracts and chunks a document in a worker process, waiting for one if all are busy. */
  async run(mediaType: string, bytes: Buffer, limits: ExtractionLimits, signal: AbortSignal): Promise<ExtractionResult> {
    const worker = await this.acquire(limits.memoryMb, signal);
    try {
      return await worker.run({ mediaType, bytes, maxChars: limits.maxChars, chunking: limits.chunking }, limits.timeoutMs, signal);
    } finally {
      this.release(worker);
    }
  }

  /** Kills every process (jobs under way fail as aborted) and resolves once they have all ended. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.cancel(new ExtractionAborted());
    for (const { timer } of this.idle.splice(0)) clearTimeout(timer);
    for (const worker of this.processes) worker.kill();
    await Promise.all([...this.processes].map((worker) => worker.exited));
  }

  private acquire(memoryMb: number, signal: AbortSignal): Promise<ExtractionProcess> {
    if (this.closed || signal.aborted) return Promise.reject(new ExtractionAborted());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        memoryMb,
        give: (worker) => (signal.removeEventListener('abort', abort), resolve(worker)),
        cancel: (error) => (signal.removeEventListener('abort', abort), reject(error)),
      };
      const abort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        waiter.cancel(new ExtractionAborted());
      };
      signal.addEventListener('abort', abort, { once: true });
      this.waiting.push(waiter);
      this.dispatch();
    });
  }

  /** Gives processes to waiting jobs, first come first served, while there are any to give. */
  private dispatch(): void {
    while (!this.closed && this.waiting.length) {
      const worker = this.take(this.waiting[0]!.memoryMb);
      if (!worker) return;
      this.waiting.shift()!.give(worker);
    }
  }

  /** An idle process with this heap limit, a new one if there is room, or none yet. */
  private take(memoryMb: number): ExtractionProcess | undefined {
    const at = this.idle.findLastIndex(({ worker }) => worker.reusable && worker.memoryMb === memoryMb);
    if (at >= 0) {
      const [{ worker, timer }] = this.idle.splice(at, 1) as [(typeof this.idle)[number]];
      clearTimeout(timer);
      return worker;
    }
    if (this.processes.size < this.options.size) return this.spawn(memoryMb);
    // Full of processes with another heap limit (the limits changed): the oldest idle one makes room.
    this.idle.shift()?.worker.kill();
    return undefined;
  }

  private spawn(memoryMb: number): ExtractionProcess {
    const worker = new ExtractionProcess(memoryMb);
    this.processes.add(worker);
    void worker.exited.then(() => this.ended(worker));
    return worker;
  }

  /** A process ended (killed, crashed or idle too long): its slot is free for the next job. */
  private ended(worker: ExtractionProcess): void {
    this.processes.delete(worker);
    this.leaveIdle(worker);
    this.dispatch();
  }

  private release(worker: ExtractionProcess): void {
    if (this.closed || !worker.reusable || worker.jobs >= this.maxJobs) worker.kill();
    else {
      // Idle too long: out of the idle list at once, so no job is given a process on its way out.
      const timer = setTimeout(() => (this.leaveIdle(worker), worker.kill()), this.idleMs);
      timer.unref();
      this.idle.push({ worker, timer });
    }
    this.dispatch();
  }

  private leaveIdle(worker: ExtractionProcess): void {
    const at = this.idle.findIndex((entry) => entry.worker === worker);
    if (at >= 0) clearTimeout(this.idle.splice(at, 1)[0]!.timer);
  }
}
