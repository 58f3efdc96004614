import { APICallError } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { describeProviderError, isRetryable } from './provider-errors.js';
import { ModelUnavailableError } from './providers/model.factory.js';
import { failureOutcome, RunFailure } from './run-outcome.js';

const LIMITS = { runTimeoutMs: 180_000, idleTimeoutMs: 60_000 };
const http = (statusCode: number, retryable = false) =>
  new APICallError({ message: 'no', url: 'http://provider', requestBodyValues: {}, statusCode, isRetryable: retryable });

describe('provider errors', () => {
  it('are retryable when the provider says so or the network failed', () => {
    expect(isRetryable(http(503, true))).toBe(true);
    expect(isRetryable(http(400))).toBe(false);
    expect(isRetryable(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(new TypeError('fetch failed'))).toBe(true);
    expect(isRetryable(new Error('bad'))).toBe(false);
  });

  it.each([
    [http(401), 'PROVIDER_AUTH'],
    [http(403), 'PROVIDER_AUTH'],
    [http(404), 'MODEL_NOT_FOUND'],
    [http(429, true), 'PROVIDER_RATE_LIMITED'],
    [http(500, true), 'PROVIDER_ERROR'],
    [new TypeError('fetch failed'), 'PROVIDER_UNAVAILABLE'],
    [new Error('bad'), 'PROVIDER_ERROR'],
    [new ModelUnavailableError('PROVIDER_NOT_CONFIGURED', 'not here'), 'PROVIDER_NOT_CONFIGURED'],
  ])('are described with a stable code: %s → %s', (error, code) => {
    expect(describeProviderError(error, 'openai').code).toBe(code);
  });
});

describe('failureOutcome', () => {
  const failure = new RunFailure({ code: 'STREAM_INTERRUPTED', message: 'broke off' });

  it('ends a run by why it was stopped before what it threw', () => {
    expect(failureOutcome(failure, 'cancelled', 'openai', LIMITS)).toEqual({ status: 'cancelled' });
    expect(failureOutcome(failure, 'shutdown', 'openai', LIMITS)).toMatchObject({ status: 'interrupted', error: { code: 'SHUTDOWN' } });
    expect(failureOutcome(failure, 'timeout', 'openai', LIMITS)).toMatchObject({ status: 'failed', error: { code: 'RUN_TIMEOUT' } });
    expect(failureOutcome(failure, 'idle', 'openai', LIMITS)).toMatchObject({ status: 'failed', error: { code: 'IDLE_TIMEOUT' } });
  });

  it('fails with a described failure, or with an unavailable model, and knows nothing of other errors', () => {
    expect(failureOutcome(failure, undefined, 'openai', LIMITS)).toEqual({ status: 'failed', error: failure.error });
    const unavailable = new ModelUnavailableError('MODEL_NOT_ALLOWED', 'not allowed');
    expect(failureOutcome(unavailable, undefined, 'openai', LIMITS)).toEqual({ status: 'failed', error: { code: 'MODEL_NOT_ALLOWED', message: 'not allowed' } });
    expect(failureOutcome(new Error('bug'), undefined, 'openai', LIMITS)).toBeUndefined();
  });
});
