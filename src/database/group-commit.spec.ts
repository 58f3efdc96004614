import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchedRead, GroupCommit } from './group-commit.js';

/**
 * A stand-in store: a commit of several inputs fails as a whole when any is bad (as one SQL
 * statement does); it records what each commit held and when it completed.
 */
/** What the stand-in store throws for a bad input: a refusal, so the batch is tried input by input. */
const refused = (error: unknown) => error instanceof Error && error.message.startsWith('bad input');

/** The end of this turn of the event loop, when a GroupCommit sends what was submitted in it. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

class Store {
  readonly committed = new Set<number>();
  readonly batches: number[][] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly delays: () => number) {}

  private async write(inputs: number[]): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.delays()));
      const bad = inputs.find((input) => input < 0);
      if (bad !== undefined) throw new Error(`bad input ${bad}`);
      for (const input of inputs) this.committed.add(input);
    } finally {
      this.inFlight--;
    }
  }

  many = async (inputs: number[]): Promise<string[]> => {
    this.batches.push(inputs);
    await this.write(inputs);
    return inputs.map((input) => `stored ${input}`);
  };

  one = async (input: number): Promise<string> => {
    this.batches.push([input]);
    await this.write([input]);
    return `stored ${input}`;
  };
}

describe('GroupCommit', () => {
  it('answers every submitter with its own result, only after the commit holding it; a bad input fails alone', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -3, max: 1000 }), { minLength: 1, maxLength: 60 }).map((inputs) => [...new Set(inputs)]),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 8 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 3 })),
        async (inputs, maxInFlight, maxBatch, delays) => {
          const store = new Store(() => delays.next().value);
          const commits = new GroupCommit(store.many, store.one, { maxBatch, maxInFlight, retryAlone: refused });
          const answers = await Promise.all(
            inputs.map((input) =>
              commits.submit(input).then(
                (output) => ({ input, output, committedFirst: store.committed.has(input) }),
                (error: Error) => ({ input, error: error.message }),
              ),
            ),
          );
          const expected = (input: number) =>
            input < 0 ? { input, error: `bad input ${input}` } : { input, output: `stored ${input}`, committedFirst: true };
          expect(answers).toEqual(inputs.map(expected));
          expect(store.maxInFlight).toBeLessThanOrEqual(maxInFlight);
          expect(Math.max(...store.batches.map((batch) => batch.length))).toBeLessThanOrEqual(maxBatch);
        },
      ),
      { numRuns: 60, seed: 20_261_202 },
    );
  });

  it('sends the inputs of one turn of the event loop together at its end while commits are free, and groups those that arrive while none is', async () => {
    const store = new Store(() => 1);
    const commits = new GroupCommit(store.many, store.one, { maxBatch: 10, maxInFlight: 1, retryAlone: refused });
    const first = [1, 2].map((input) => commits.submit(input));
    expect(store.batches).toEqual([]);
    await turn();
    expect(store.batches).toEqual([[1, 2]]);
    const rest = [3, 4, 5].map((input) => commits.submit(input));
    await turn();
    // The commit under way holds the only slot: these wait for it, and go together.
    expect(store.batches).toEqual([[1, 2]]);
    await Promise.all([...first, ...rest]);
    expect(store.batches).toEqual([[1, 2], [3, 4, 5]]);
  });

  it('sends an input alone on an idle store without waiting for a timer', async () => {
    const store = new Store(() => 0);
    const commits = new GroupCommit(store.many, store.one, { maxBatch: 10, maxInFlight: 4, retryAlone: refused });
    const answer = commits.submit(7);
    await turn();
    expect(store.batches).toEqual([[7]]);
    await expect(answer).resolves.toBe('stored 7');
  });

  it('fails only the submit whose key cannot be worked out, and commits the others', async () => {
    const store = new Store(() => 0);
    const key = (input: number) => {
      if (input === 13) throw new Error('no key for 13');
      return String(input);
    };
    const commits = new GroupCommit(store.many, store.one, { maxBatch: 10, maxInFlight: 1, retryAlone: refused, distinctBy: key });
    const answers = await Promise.allSettled([12, 13, 14].map((input) => commits.submit(input)));
    expect(answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : (answer.reason as Error).message))).toEqual(['stored 12', 'no key for 13', 'stored 14']);
    expect(store.batches).toEqual([[12, 14]]);
  });

  it('keeps the order of submission within a commit', async () => {
    const store = new Store(() => 0);
    const commits = new GroupCommit(store.many, store.one, { maxBatch: 3, maxInFlight: 1, retryAlone: refused });
    await Promise.all([10, 11, 12, 13, 14, 15, 16].map((input) => commits.submit(input)));
    expect(store.batches).toEqual([[10, 11, 12], [13, 14, 15], [16]]);
  });

  it('fails a whole batch, without trying its inputs again, when the failure is not a refusal', async () => {
    const store = new Store(() => 1);
    let lost = true;
    const many = async (inputs: number[]) => {
      if (lost && inputs.length > 1) {
        lost = false;
        await store.many(inputs);
        throw new Error('Connection terminated unexpectedly');
      }
      return store.many(inputs);
    };
    const commits = new GroupCommit(many, store.one, { maxBatch: 10, maxInFlight: 1, retryAlone: refused });
    const first = commits.submit(1);
    await turn();
    const batch = [2, 3, 4].map((input) => commits.submit(input));
    await expect(first).resolves.toBe('stored 1');
    const settled = await Promise.allSettled(batch);
    expect(settled.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected']);
    // Committed once (the connection was lost after the commit), never a second time one by one.
    expect(store.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('never puts two inputs of one key in a commit: the later ones go in the next commits, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 60 }).map((inputs) => [...new Set(inputs)]),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        async (inputs, keys, maxBatch) => {
          const store = new Store(() => 0);
          const key = (input: number) => String(input % keys);
          const commits = new GroupCommit(store.many, store.one, { maxBatch, maxInFlight: 1, retryAlone: refused, distinctBy: key });
          const answers = await Promise.all(inputs.map((input) => commits.submit(input)));
          expect(answers).toEqual(inputs.map((input) => `stored ${input}`));
          for (const batch of store.batches) {
            expect(batch.length).toBeLessThanOrEqual(maxBatch);
            expect(new Set(batch.map(key)).size).toBe(batch.length);
          }
          // One commit at a time: each key's inputs are committed in the order submitted.
          const order = store.batches.flat();
          for (let k = 0; k < keys; k++) {
            expect(order.filter((input) => key(input) === String(k))).toEqual(inputs.filter((input) => key(input) === String(k)));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps a key out of every commit while one under way holds it, whatever order commits end in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 60 }).map((inputs) => [...new Set(inputs)]),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 2, max: 4 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 5 })),
        async (inputs, keys, maxInFlight, delays) => {
          const key = (input: number) => String(input % keys);
          const holding = new Set<string>();
          const order: number[] = [];
          const store = async (batch: number[]) => {
            for (const input of batch) {
              // The same key in two commits at once would be two statements waiting on one lock.
              expect(holding.has(key(input))).toBe(false);
              holding.add(key(input));
            }
            await new Promise((resolve) => setTimeout(resolve, delays.next().value));
            for (const input of batch) holding.delete(key(input));
            order.push(...batch);
            return batch.map((input) => `stored ${input}`);
          };
          const commits = new GroupCommit(store, async (input: number) => (await store([input]))[0]!, { maxBatch: 4, maxInFlight, retryAlone: refused, distinctBy: key });
          const answers = await Promise.all(inputs.map((input) => commits.submit(input)));
          expect(answers).toEqual(inputs.map((input) => `stored ${input}`));
          for (let k = 0; k < keys; k++) {
            expect(order.filter((input) => key(input) === String(k))).toEqual(inputs.filter((input) => key(input) === String(k)));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});


describe('batchedRead', () => {
  const sqlError = (code: string) => Object.assign(new Error(`SQLSTATE ${code}`), { code });

  it('reads again one at a time a batch the database refused, so that only the bad input fails', async () => {
    const statements: number[][] = [];
    // One statement at a time, as on the embedded database: the reads that wait go together.
    const reads = batchedRead({ isEmbedded: true }, async (inputs: number[]) => {
      statements.push(inputs);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (inputs.some((input) => input < 0)) throw sqlError('22P02');
      return inputs.map((input) => input * 2);
    });
    const first = reads.submit(1);
    await turn();
    const answers = await Promise.allSettled([first, ...[2, -3, 4].map((input) => reads.submit(input))]);
    expect(answers.map((answer) => (answer.status === 'fulfilled' ? answer.value : 'refused'))).toEqual([2, 4, 'refused', 8]);
    expect(statements).toEqual([[1], [2, -3, 4], [2], [-3], [4]]);
  });

  it('fails a whole batch at once while the database cannot be reached, instead of trying each read in turn', async () => {
    const statements: number[][] = [];
    const reads = batchedRead({ isEmbedded: true }, async (inputs: number[]) => {
      statements.push(inputs);
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw Object.assign(new Error('timeout exceeded when trying to connect'), {});
    });
    const first = reads.submit(0);
    await turn();
    const answers = await Promise.allSettled([first, ...Array.from({ length: 9 }, (_, input) => reads.submit(input + 1))]);
    expect(answers.every((answer) => answer.status === 'rejected')).toBe(true);
    expect(statements).toEqual([[0], [1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  });
});
