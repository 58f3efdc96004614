import { Injectable } from '@nestjs/common';
import { RateLimitedError } from '../common/errors.js';
import type { RedisConnection } from './redis.connection.js';

export interface RateLimitDecision {
  allowed: boolean;
  /** Seconds until the next attempt may succeed (0 when allowed). */
  retryAfterSeconds: number;
}

/** Counts events per key in fixed windows; shared by the REST and Socket.IO send paths. */
export abstract class RateLimiter {
  abstract consume(key: string, limit: number, windowMs: number): Promise<RateLimitDecision>;
  /** Counts one event against `limit`; past it, a 429 (RateLimitedError) saying `message` and when to try again. */
  async take(key: string, limit: number, windowMs: number, message: string): Promise<void> {
    const decision = await this.consume(key, limit, windowMs);
    if (!decision.allowed) throw new RateLimitedError(message, decision.retryAfterSeconds);
  }
  /** Gives back one event consumed in the current window (the attempt turned out to add nothing). */
  abstract refund(key: string): Promise<void>;
}

@Injectable()
export class InMemoryRateLimiter extends RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private lastSweep = Date.now();

  async consume(key: string, limit: number, windowMs: number): Promise<RateLimitDecision> {
    const now = Date.now();
    this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    if (window.count >= limit) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.resetAt - now) / 1000)) };
    }
    window.count++;
    return { allowed: true, retryAfterSeconds: 0 };
  }

  async refund(key: string): Promise<void> {
    const window = this.windows.get(key);
    if (window && window.resetAt > Date.now() && window.count > 0) window.count--;
  }

  /** Drops expired windows now and then, so idle keys do not accumulate. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

const REFUND = `if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then return redis.call('DECR', KEYS[1]) end return 0`;

/**
 * Counters shared by all instances (fixed windows in Redis). While Redis is unreachable each
 * instance falls back to its own counters rather than refusing or waving everything through.
 */
export class RedisRateLimiter extends RateLimiter {
  private readonly fallback = new InMemoryRateLimiter();

  constructor(private readonly redis: RedisConnection) {
    super();
  }

  async consume(key: string, limit: number, windowMs: number): Promise<RateLimitDecision> {
    const client = this.redis.client;
    if (!client?.isReady) return this.fallback.consume(key, limit, windowMs);
    try {
      const redisKey = `agentchat:rate:${key}`;
      const [count, , ttl] = (await client.multi().incr(redisKey).pExpire(redisKey, windowMs, 'NX').pTTL(redisKey).exec()) as unknown as [
        number,
        unknown,
        number,
      ];
      if (count > limit) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(ttl, 0) / 1000)) };
      return { allowed: true, retryAfterSeconds: 0 };
    } catch {
      return this.fallback.consume(key, limit, windowMs);
    }
  }

  async refund(key: string): Promise<void> {
    const client = this.redis.client;
    if (!client?.isReady) return this.fallback.refund(key);
    try {
      // Only within a live window: a DECR on an expired key would start a counter that never expires.
      await client.eval(REFUND, { keys: [`agentchat:rate:${key}`] });
    } catch {
      await this.fallback.refund(key);
    }
  }
}
