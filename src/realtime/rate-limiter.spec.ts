import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InMemoryRateLimiter, RedisRateLimiter } from './rate-limiter.js';
import { RedisConnection } from './redis.connection.js';

describe('RateLimiter.refund', () => {
  it('gives back an event of the current window in memory, and never below zero', async () => {
    const limiter = new InMemoryRateLimiter();
    const key = `spec:${randomUUID()}`;
    expect((await limiter.consume(key, 1, 60_000)).allowed).toBe(true);
    expect((await limiter.consume(key, 1, 60_000)).allowed).toBe(false);
    await limiter.refund(key);
    expect((await limiter.consume(key, 1, 60_000)).allowed).toBe(true);
    await limiter.refund(key);
    await limiter.refund(key);
    await limiter.refund('spec:never-used');
    expect((await limiter.consume(key, 1, 60_000)).allowed).toBe(true);
    expect((await limiter.consume(key, 1, 60_000)).allowed).toBe(false);
  });

  it.runIf(process.env.TEST_REDIS_URL)('gives back an event of the current window in Redis, and leaves no key without expiry', async () => {
    const redis = await RedisConnection.create({ url: process.env.TEST_REDIS_URL! });
    try {
      if (!redis.client!.isReady) await new Promise<void>((resolve) => redis.client!.once('ready', () => resolve()));
      const limiter = new RedisRateLimiter(redis);
      const key = `spec:${randomUUID()}`;
      expect((await limiter.consume(key, 1, 60_000)).allowed).toBe(true);
      await limiter.refund(key);
      expect((await limiter.consume(key, 1, 60_000)).allowed).toBe(true);
      expect((await limiter.consume(key, 1, 60_000)).allowed).toBe(false);
      const missing = `spec:${randomUUID()}`;
      await limiter.refund(missing);
      expect(await redis.client!.exists(`agentchat:rate:${missing}`)).toBe(0);
    } finally {
      await redis.onApplicationShutdown();
    }
  });
});
