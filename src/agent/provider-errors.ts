import { APICallError } from '@ai-sdk/provider';
import { ModelUnavailableError } from './providers/model.factory.js';
import type { RunError } from './run.entity.js';

/**
 * The codes of a run's error that mean the provider failed (rather than a limit of ours, a tool
 * or the server): what describeProviderError gives, a stream that broke off, a provider gone silent.
 */
export const PROVIDER_ERROR_CODES: ReadonlySet<string> = new Set([
  'PROVIDER_AUTH',
  'MODEL_NOT_FOUND',
  'PROVIDER_RATE_LIMITED',
  'PROVIDER_UNAVAILABLE',
  'PROVIDER_ERROR',
  'STREAM_INTERRUPTED',
  'IDLE_TIMEOUT',
]);

const NETWORK_ERROR_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'];

/** A provider error worth another try: the provider says so, or the network failed on the way. */
export function isRetryable(error: unknown): boolean {
  if (APICallError.isInstance(error)) return error.isRetryable;
  const code = (error as { code?: string; cause?: { code?: string } })?.cause?.code ?? (error as { code?: string })?.code;
  return NETWORK_ERROR_CODES.includes(code ?? '') || (error instanceof TypeError && /fetch failed/i.test(error.message));
}

/** A provider error as the run's error: a stable code, and a message that says what to check. */
export function describeProviderError(error: unknown, provider: string): RunError {
  if (error instanceof ModelUnavailableError) return { code: error.code, message: error.message };
  if (APICallError.isInstance(error)) return describeHttpError(error, provider);
  if (isRetryable(error)) return { code: 'PROVIDER_UNAVAILABLE', message: `The ${provider} provider cannot be reached; check OPENAI_BASE_URL / network` };
  return { code: 'PROVIDER_ERROR', message: `The ${provider} provider failed: ${error instanceof Error ? error.message.slice(0, 200) : 'unknown error'}` };
}

function describeHttpError(error: APICallError, provider: string): RunError {
  if (error.statusCode === 401 || error.statusCode === 403) {
    return { code: 'PROVIDER_AUTH', message: `The ${provider} provider rejected the credentials (HTTP ${error.statusCode}); check the API key` };
  }
  if (error.statusCode === 404) return { code: 'MODEL_NOT_FOUND', message: `The ${provider} provider does not know this model (HTTP 404); check AGENT_MODEL` };
  if (error.statusCode === 429) return { code: 'PROVIDER_RATE_LIMITED', message: `The ${provider} provider is rate limiting requests (HTTP 429)` };
  return { code: 'PROVIDER_ERROR', message: `The ${provider} provider answered HTTP ${error.statusCode ?? '?'}` };
}
