import { applyDecorators, type ExecutionContext, Injectable, UseGuards } from '@nestjs/common';
import { SkipThrottle, ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerModuleOptions } from '@nestjs/throttler';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { RateLimitedError } from '../common/errors.js';
import type { AppConfig } from '../config/app-config.js';
import { normaliseEmail } from './dto/auth.dto.js';

const MINUTE_MS = 60_000;
const RATE_LIMITS = ['login', 'register'] as const;
type RateLimitName = (typeof RATE_LIMITS)[number];

/** Login attempts count per client IP and target email; registrations per client IP. */
export function authRateLimits(config: AppConfig): ThrottlerModuleOptions {
  return {
    throttlers: [
      {
        name: 'login',
        ttl: MINUTE_MS,
        limit: config.auth.loginRateLimitPerMinute,
        getTracker: (req: Record<string, unknown>) =>
          `${String(req.ip)}|${normaliseEmail((req.body as { email?: unknown } | undefined)?.email)}`,
      },
      {
        name: 'register',
        ttl: MINUTE_MS,
        limit: config.auth.registerRateLimitPerMinute,
        getTracker: (req: Record<string, unknown>) => String(req.ip),
      },
    ],
  };
}

/** Answers 429 in the common error shape with a plain Retry-After header. */
@Injectable()
class AuthRateLimitGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new RateLimitedError('Too many attempts, try again later', Math.max(1, Math.ceil(detail.timeToBlockExpire)));
  }

  /** Throttler's own per-name headers are replaced by the standard Retry-After above. */
  protected override setResponseHeader(): void {}

}

/** Applies one named limit to a route (and none of the others). */
export const RateLimit = (name: RateLimitName) =>
  applyDecorators(
    UseGuards(AuthRateLimitGuard),
    SkipThrottle(Object.fromEntries(RATE_LIMITS.filter((other) => other !== name).map((other) => [other, true]))),
    ApiErrors(429),
  );
