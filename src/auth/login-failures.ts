import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { RateLimiter } from '../realtime/rate-limiter.js';

/** LOGIN_FAILURES_PER_IP counts within this window. */
export const LOGIN_FAILURE_WINDOW_MS = 15 * 60_000;

/**
 * Failed sign-ins per client address. The per-email limit (rate-limit.guard.ts) lets an address
 * try one email after another, each failure an audit event; past LOGIN_FAILURES_PER_IP failures
 * in the window, every sign-in from the address is refused (429) before its password is checked
 * or anything is recorded. Counted on every instance alike when Redis is configured.
 */
@Injectable()
export class LoginFailureLimit {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  /**
   * Runs the sign-in if the address may still fail. The attempt counts as a failure from the
   * start, so that attempts made at once cannot all slip in under the limit; it is given back
   * unless it failed on its credentials.
   */
  async attempt<T>(ip: string | null, signIn: () => Promise<T>): Promise<T> {
    const key = `login-failures:${ip ?? 'unknown'}`;
    await this.limiter.take(key, this.config.auth.loginFailuresPerIp, LOGIN_FAILURE_WINDOW_MS, 'Too many failed sign-ins from this address, try again later');
    let failed = false;
    try {
      return await signIn();
    } catch (error) {
      failed = error instanceof AppError && error.code === 'INVALID_CREDENTIALS';
      throw error;
    } finally {
      if (!failed) await this.limiter.refund(key);
    }
  }
}
