import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { RedisConnection } from '../realtime/redis.connection.js';
import { ReadinessService } from './readiness.service.js';

const CHECK_TIMEOUT_MS = 2000;

@Injectable()
export class HealthIndicators {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
    private readonly redis: RedisConnection,
    private readonly readiness: ReadinessService,
  ) {}

  get redisEnabled(): boolean {
    return this.redis.enabled;
  }

  database() {
    return this.indicators
      .check('database')
      .attempt(async () => {
        await this.dataSource.query('SELECT 1');
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  redisPing() {
    return this.indicators
      .check('redis')
      .attempt(() => this.redis.ping())
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  acceptingTraffic() {
    const session = this.indicators.check('shutdown');
    return this.readiness.isShuttingDown ? session.down({ message: 'shutting down' }) : session.up();
  }
}
