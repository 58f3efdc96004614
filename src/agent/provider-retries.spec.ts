import { APICallError } from '@ai-sdk/provider';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readWithRetries, type RetryOptions } from './provider-retries.js';
import { RunFailure } from './run-outcome.js';

const unreachable = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
const rejected = (statusCode: number) => new APICallError({ message: 'no', url: 'http://provider', requestBodyValues: {}, statusCode, isRetryable: false });

async function* failing(error: unknown): AsyncGenerator<string> {
  yield* [];
  throw error;
}

async function* answer(...parts: string[]): AsyncGenerator<string> {
  yield* parts;
}

describe('readWithRetries', () => {
  let read: string[];
  let sent: boolean;
  let retries: [number, number][];
  let signal: AbortController;

  beforeEach(() => {
    vi.useFakeTimers();
    read = [];
    sent = false;
    retries = [];
    signal = new AbortController();
  });
  afterEach(() => vi.useRealTimers());

  function options(attempts: AsyncIterable<string>[]): RetryOptions<string> {
    return {
      restart: () => attempts.shift()!,
      consume: async (parts) => {
        for await (const part of parts) read.push(part);
      },
      nothingSent: () => !sent,
      signal: signal.signal,
      settings: { maxRetries: 3, retryBaseMs: 100 },
      provider: 'openai',
      onRetry: (delay, attempt) => retries.push([delay, attempt]),
    };
  }

  async function settled(promise: Promise<void>): Promise<unknown> {
    const outcome = promise.then(() => 'done', (error: unknown) => error);
    await vi.runAllTimersAsync();
    return outcome;
  }

  it('tries a failure before the first token again, with an exponential backoff', async () => {
    const result = settled(readWithRetries(failing(unreachable()), options([failing(unreachable()), answer('Hi')])));
    expect(await result).toBe('done');
    expect(read).toEqual(['Hi']);
    expect(retries).toEqual([
      [100, 1],
      [200, 2],
    ]);
  });

  it('gives up after AGENT_MAX_RETRIES, describing what failed', async () => {
    const attempts = [failing(unreachable()), failing(unreachable()), failing(unreachable())];
    const error = await settled(readWithRetries(failing(unreachable()), options(attempts)));
    expect(error).toBeInstanceOf(RunFailure);
    expect((error as RunFailure).error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(retries).toHaveLength(3);
  });

  it('does not try again what the provider says will not work', async () => {
    const error = await settled(readWithRetries(failing(rejected(401)), options([])));
    expect((error as RunFailure).error.code).toBe('PROVIDER_AUTH');
    expect(retries).toEqual([]);
  });

  it('does not try again once part of the reply went out: the partial text is kept', async () => {
    sent = true;
    const error = await settled(readWithRetries(failing(unreachable()), options([])));
    expect((error as RunFailure).error.code).toBe('STREAM_INTERRUPTED');
    expect(retries).toEqual([]);
  });

  it('rethrows an abort as it is', async () => {
    const abort = new Error('aborted: cancelled');
    signal.abort('cancelled');
    expect(await settled(readWithRetries(failing(abort), options([])))).toBe(abort);
  });
});
