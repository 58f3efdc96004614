import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { PresenceService } from './presence.service.js';
import { InMemoryRateLimiter, RateLimiter, RedisRateLimiter } from './rate-limiter.js';
import { InProcessRealtimeBus, RealtimeBus } from './realtime-bus.js';
import { busPublishFailures, RedisRealtimeBus } from './redis-realtime-bus.js';
import { RedisConnection } from './redis.connection.js';
import { SessionWatch } from './session-watch.js';

/** Shared ephemeral state: the event bus, rate-limit counters, presence, watched sessions and the Redis connection. */
@Global()
@Module({
  providers: [
    { provide: RedisConnection, inject: [AppConfig], useFactory: (config: AppConfig) => RedisConnection.create(config.redis) },
    {
      provide: RealtimeBus,
      inject: [RedisConnection, MetricsService],
      useFactory: (redis: RedisConnection, metrics: MetricsService) => {
        const failures = busPublishFailures(metrics);
        return redis.enabled ? new RedisRealtimeBus(redis, failures) : new InProcessRealtimeBus();
      },
    },
    {
      provide: RateLimiter,
      inject: [RedisConnection],
      useFactory: (redis: RedisConnection) => (redis.enabled ? new RedisRateLimiter(redis) : new InMemoryRateLimiter()),
    },
    PresenceService,
    SessionWatch,
  ],
  exports: [RedisConnection, RealtimeBus, RateLimiter, PresenceService, SessionWatch],
})
export class RealtimeModule {}
