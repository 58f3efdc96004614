import type { AgentSettings } from '../config/agent.config.js';
import { describeProviderError } from './provider-errors.js';
import { ModelUnavailableError } from './providers/model.factory.js';
import type { AbortReason } from './run-abort.js';
import type { RunError } from './run.entity.js';

/** How a run ends, with the error its reply shows when it did not complete. */
export type RunOutcome = { status: 'completed' } | { status: 'cancelled' | 'failed' | 'interrupted'; error?: RunError };

/** A failure already described for the user (a provider error, a stream that broke off). */
export class RunFailure extends Error {
  constructor(readonly error: RunError) {
    super(error.message);
  }
}

/**
 * How a run that threw ends: why it was stopped comes first (a cancel keeps the reply as
 * cancelled, whatever the provider call threw on its way out), then what failed. Undefined for an
 * error nothing here explains.
 */
export function failureOutcome(
  error: unknown,
  reason: AbortReason | undefined,
  provider: string,
  limits: Pick<AgentSettings, 'runTimeoutMs' | 'idleTimeoutMs'>,
): RunOutcome | undefined {
  switch (reason) {
    case 'cancelled':
      return { status: 'cancelled' };
    case 'shutdown':
      return { status: 'interrupted', error: { code: 'SHUTDOWN', message: 'The server shut down during the run' } };
    case 'timeout':
      return { status: 'failed', error: { code: 'RUN_TIMEOUT', message: `The run took longer than ${limits.runTimeoutMs} ms` } };
    case 'idle':
      return { status: 'failed', error: { code: 'IDLE_TIMEOUT', message: `The provider sent nothing for ${limits.idleTimeoutMs} ms` } };
  }
  if (error instanceof RunFailure) return { status: 'failed', error: error.error };
  if (error instanceof ModelUnavailableError) return { status: 'failed', error: describeProviderError(error, provider) };
  return undefined;
}
