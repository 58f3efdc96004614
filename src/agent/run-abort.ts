/** Why a run executing here was stopped: the first reason given is the one it ends with. */
export type AbortReason = 'cancelled' | 'timeout' | 'idle' | 'shutdown';

/**
 * How one run executing here stops: a cancel, shutdown, or one of its deadlines — the whole run's
 * (AGENT_RUN_TIMEOUT_MS) and the provider's silence (AGENT_IDLE_TIMEOUT_MS) — aborts its signal.
 */
export class RunAbort {
  private readonly controller = new AbortController();
  private runTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleTimeoutMs = 0;
  reason: AbortReason | undefined;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: AbortReason): void {
    this.reason ??= reason;
    this.controller.abort(reason);
  }

  /** Starts the run's deadline; the idle one starts with the first `touch`. */
  startDeadlines({ runTimeoutMs, idleTimeoutMs }: { runTimeoutMs: number; idleTimeoutMs: number }): void {
    this.idleTimeoutMs = idleTimeoutMs;
    this.runTimer = setTimeout(() => this.abort('timeout'), runTimeoutMs);
  }

  /** The provider did something: its idle deadline starts over. */
  touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.abort('idle'), this.idleTimeoutMs);
  }

  /**
   * Whatever of the provider call is still open ends with the run — also a request started early
   * whose stream was never read because the bookkeeping in between failed. No reason is recorded.
   */
  end(): void {
    clearTimeout(this.runTimer);
    clearTimeout(this.idleTimer);
    this.controller.abort('finished');
  }
}
