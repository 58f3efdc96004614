interface Pending<In, Out> {
  input: In;
  resolve(output: Out): void;
  reject(error: unknown): void;
}

export interface GroupCommitLimits {
  /** The most inputs committed together. */
  maxBatch: number;
  /** The most commits under way at once; inputs arriving meanwhile wait and go together. */
  maxInFlight: number;
}

/**
 * Group commit: inputs submitted while the database is busy are committed together. An input
 * goes out at once when fewer than `maxInFlight` commits are under way (no added wait at low
 * load); otherwise it waits for one to end and goes with everything that waited. Each submitter
 * is answered only after the commit that holds its input. A batch that fails is tried again one
 * input at a time, in order, so that a bad input fails alone.
 */
export class GroupCommit<In, Out> {
  private readonly queue: Pending<In, Out>[] = [];
  private inFlight = 0;

  constructor(
    private readonly commitMany: (inputs: In[]) => Promise<Out[]>,
    private readonly commitOne: (input: In) => Promise<Out>,
    private readonly limits: GroupCommitLimits,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.limits.maxInFlight && this.queue.length) {
      const batch = this.queue.splice(0, this.limits.maxBatch);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async commit(batch: Pending<In, Out>[]): Promise<void> {
    if (batch.length > 1) {
      let outputs: Out[] | undefined;
      try {
        outputs = await this.commitMany(batch.map((pending) => pending.input));
      } catch {
        // Retried one at a time below: only the inputs at fault fail.
      }
      if (outputs) {
        batch.forEach((pending, index) => pending.resolve(outputs[index]!));
        return;
      }
    }
    // One after another: in the order submitted, and within this commit's share of the database.
    for (const pending of batch) await this.commitOne(pending.input).then(pending.resolve, pending.reject);
  }
}
