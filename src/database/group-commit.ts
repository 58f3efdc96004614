import { isDatabaseUnavailable } from './database-errors.js';

interface Pending<In, Out> {
  input: In;
  /** distinctBy(input), worked out once when submitted. */
  key: string;
  resolve(output: Out): void;
  reject(error: unknown): void;
}

export interface GroupCommitLimits<In = unknown> {
  /** The most inputs committed together. */
  maxBatch: number;
  /** The most commits under way at once; inputs arriving meanwhile wait and go together. */
  maxInFlight: number;
  /**
   * Whether a failed batch is certain to have changed nothing and may be tried again one input at
   * a time (the database refused a value or a constraint). Any other failure — a connection lost,
   * perhaps after the commit — fails the whole batch: retrying could store its inputs twice.
   */
  retryAlone: (error: unknown) => boolean;
  /**
   * Inputs with the same key never go in one commit, nor in two under way at once: the later ones
   * wait for the next commit after, in order (for statements that take one input per row they lock).
   */
  distinctBy?: (input: In) => string;
}

/**
 * Group commit: inputs submitted while the database is busy are committed together. An input
 * goes out at the end of the event loop's turn when fewer than `maxInFlight` commits are under way
 * (with the others of that turn); otherwise it waits for one to end and goes with everything that
 * waited. Each submitter
 * is answered only after the commit that holds its input. A batch the database refused is tried
 * again one input at a time, in order, so that a bad input fails alone (see `retryAlone`).
 */
export class GroupCommit<In, Out> {
  private queue: Pending<In, Out>[] = [];
  /** The keys of the inputs in commits under way (with distinctBy). */
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private drainScheduled = false;

  constructor(
    private readonly commitMany: (inputs: In[]) => Promise<Out[]>,
    private readonly commitOne: (input: In) => Promise<Out>,
    private readonly limits: GroupCommitLimits<In>,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      // A distinctBy that throws fails this submit alone (the executor's throw rejects it).
      this.queue.push({ input, key: this.limits.distinctBy?.(input) ?? '', resolve, reject });
      // Inputs submitted in the same turn of the event loop (a burst of events read from the
      // sockets together) go in one commit, not the first few each in its own: draining waits
      // for the I/O callbacks of this turn (setImmediate), which costs an idle server nothing.
      if (this.drainScheduled) return;
      this.drainScheduled = true;
      setImmediate(() => {
        this.drainScheduled = false;
        this.drain();
      });
    });
  }

  private drain(): void {
    while (this.inFlight < this.limits.maxInFlight && this.queue.length) {
      const batch = this.take();
      if (!batch.length) return;
      const keys = this.limits.distinctBy ? batch.map((pending) => pending.key) : [];
      for (const key of keys) this.busy.add(key);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        for (const key of keys) this.busy.delete(key);
        this.inFlight--;
        this.drain();
      });
    }
  }

  /**
   * The next batch: the oldest inputs, up to maxBatch, the same key at most once and none whose
   * key a commit under way holds (it waits for that commit: keys are committed in order, and a
   * batch never waits on another's lock while later inputs could go).
   */
  private take(): Pending<In, Out>[] {
    const { maxBatch, distinctBy } = this.limits;
    if (!distinctBy) return this.queue.splice(0, maxBatch);
    const keys = new Set(this.busy);
    const batch: Pending<In, Out>[] = [];
    const later: Pending<In, Out>[] = [];
    for (const pending of this.queue) {
      if (batch.length < maxBatch && !keys.has(pending.key)) batch.push(pending);
      else later.push(pending);
      keys.add(pending.key);
    }
    this.queue = later;
    return batch;
  }

  private async commit(batch: Pending<In, Out>[]): Promise<void> {
    if (batch.length > 1) {
      let outputs: Out[];
      try {
        outputs = await this.commitMany(batch.map((pending) => pending.input));
      } catch (error) {
        if (!this.limits.retryAlone(error)) return batch.forEach((pending) => pending.reject(error));
        // Retried one at a time below: only the inputs at fault fail.
        return this.commitEach(batch);
      }
      return batch.forEach((pending, index) => pending.resolve(outputs[index]!));
    }
    return this.commitEach(batch);
  }

  /** One after another: in the order submitted, and within this commit's share of the database. */
  private async commitEach(batch: Pending<In, Out>[]): Promise<void> {
    for (const pending of batch) await this.commitOne(pending.input).then(pending.resolve, pending.reject);
  }
}

/** The most inputs committed (or read) in one statement. */
export const MAX_BATCH = 200;
/**
 * Statements under way at once on PostgreSQL (inputs arriving meanwhile go together in the next);
 * the embedded database executes one statement at a time, so there one is enough.
 */
const MAX_IN_FLIGHT = 4;

/** How many statements of one GroupCommit may be under way on this database at once. */
export function statementsInFlight(dataSource: object): number {
  // AppDataSource tells (not imported: the client package compiles files that use this without the migrations).
  return (dataSource as { isEmbedded?: boolean }).isEmbedded === true ? 1 : MAX_IN_FLIGHT;
}

/**
 * Reads that start while others of their kind are under way go together in one statement; a read
 * changes nothing, so a batch the database refused is read again one input at a time. Every input is
 * read by a statement that starts after it was submitted: a caller that acted before reading
 * (joined a room, say) sees everything committed before its read began.
 */
export function batchedRead<In, Out>(dataSource: object, readMany: (inputs: In[]) => Promise<Out[]>): GroupCommit<In, Out> {
  return new GroupCommit(readMany, async (input) => (await readMany([input]))[0]!, {
    maxBatch: MAX_BATCH,
    maxInFlight: statementsInFlight(dataSource),
    // Not while the database cannot be reached: each read alone would wait out the connect timeout in turn.
    retryAlone: (error) => !isDatabaseUnavailable(error),
  });
}
