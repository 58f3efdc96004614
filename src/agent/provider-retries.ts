import type { AgentSettings } from '../config/agent.config.js';
import { describeProviderError, isRetryable } from './provider-errors.js';
import { RunFailure } from './run-outcome.js';
import type { RunError } from './run.entity.js';

export interface RetryOptions<T> {
  /** The same provider request made again, for another attempt. */
  restart: () => AsyncIterable<T>;
  /** Reads one attempt's stream to its end. */
  consume: (parts: AsyncIterable<T>) => Promise<void>;
  /** True while nothing of the reply has gone out: no text published, none pending, no tool called. */
  nothingSent: () => boolean;
  signal: AbortSignal;
  settings: Pick<AgentSettings, 'maxRetries' | 'retryBaseMs'>;
  provider: string;
  /** Told of each retry, with the error that caused it. */
  onRetry: (delayMs: number, attempt: number, error: RunError) => void;
}

/**
 * Reads the provider's stream, starting with the request already made (`first`). A retryable
 * failure before anything was sent is tried again, after an exponential backoff
 * (AGENT_RETRY_BASE_MS · 2^attempt, at most AGENT_MAX_RETRIES times); once the reply has started
 * it is not, since the provider would answer differently. An abort is rethrown as it is; any
 * other failure as a RunFailure.
 */
export async function readWithRetries<T>(first: AsyncIterable<T>, options: RetryOptions<T>): Promise<void> {
  const { restart, consume, nothingSent, signal, settings, provider, onRetry } = options;
  for (let attempt = 0, parts = first; ; attempt++, parts = restart()) {
    try {
      return await consume(parts);
    } catch (error) {
      if (signal.aborted) throw error;
      const fresh = nothingSent();
      if (!fresh || attempt >= settings.maxRetries || !isRetryable(error)) throw failure(error, fresh, provider);
      const delay = settings.retryBaseMs * 2 ** attempt;
      onRetry(delay, attempt + 1, describeProviderError(error, provider));
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function failure(error: unknown, nothingSent: boolean, provider: string): RunFailure {
  if (nothingSent) return new RunFailure(describeProviderError(error, provider));
  return new RunFailure({
    code: 'STREAM_INTERRUPTED',
    message: `The ${provider} stream broke off after the reply had started; the partial text is kept`,
  });
}
