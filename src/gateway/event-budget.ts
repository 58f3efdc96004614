import { RateLimitedError } from '../common/errors.js';

export interface EventBudgetSettings {
  /** Tokens regained per second. */
  ratePerSecond: number;
  /** Tokens of a quiet socket: the largest burst it may send at once. */
  burst: number;
  /** Refused events, net of the refill, after which the socket counts as flooding; 0 never. */
  floodLimit: number;
}

export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number; flooding: boolean };

/**
 * One socket's allowance of client events: a token bucket where every event costs a token and
 * costly work (a recovery page) also pays for its size once that is known. Refused events cost
 * nothing — a client slightly over the rate still gets the rate — but they are tallied, draining
 * at the same rate, so only a socket that keeps sending far past its limit counts as flooding.
 */
export class EventBudget {
  private static readonly bySocket = new WeakMap<object, EventBudget>();

  /** Gives a socket its budget; the dispatcher does this before the socket's first event. */
  static attach(socket: object, settings: EventBudgetSettings): EventBudget {
    const budget = new EventBudget(settings);
    EventBudget.bySocket.set(socket, budget);
    return budget;
  }

  static of(socket: object): EventBudget {
    const budget = EventBudget.bySocket.get(socket);
    if (!budget) throw new Error('The socket has no event budget');
    return budget;
  }

  private tokens: number;
  private refused = 0;
  private updatedAt: number;
  private metering: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly settings: EventBudgetSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = settings.burst;
    this.updatedAt = now();
  }

  admit(): Admission {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { admitted: true };
    }
    this.refused++;
    const { floodLimit } = this.settings;
    return { admitted: false, retryAfterSeconds: this.secondsUntil(1), flooding: floodLimit > 0 && this.refused > floodLimit };
  }

  /**
   * Runs costly work one at a time for this socket and charges its cost afterwards (the bucket may
   * go into debt). While in debt, work is refused with RATE_LIMITED. One at a time bounds what a
   * socket holds in memory to one piece of work, however many it asks for at once.
   */
  metered<T>(work: () => Promise<{ value: T; cost: number }>): Promise<T> {
    const run = this.metering.then(async () => {
      this.refill();
      if (this.tokens < 0) throw new RateLimitedError('Too many events, slow down', this.secondsUntil(0));
      const { value, cost } = await work();
      this.tokens -= cost;
      return value;
    });
    this.metering = run.catch(() => undefined);
    return run;
  }

  private refill(): void {
    const now = this.now();
    const gained = (Math.max(0, now - this.updatedAt) / 1000) * this.settings.ratePerSecond;
    this.updatedAt = now;
    this.tokens = Math.min(this.settings.burst, this.tokens + gained);
    this.refused = Math.max(0, this.refused - gained);
  }

  private secondsUntil(tokens: number): number {
    return Math.max(1, Math.ceil((tokens - this.tokens) / this.settings.ratePerSecond));
  }
}
