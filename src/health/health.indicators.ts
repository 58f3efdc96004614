import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { McpClients } from '../mcp/mcp-clients.service.js';
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
    private readonly mcp: McpClients,
  ) {}

  get mcpConfigured(): boolean {
    return this.mcp.configured;
  }

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

  /** MCP servers only degrade the service (their tools are missing): never down, each server's state in the details. */
  mcpServers() {
    const servers = this.mcp.status();
    const session = this.indicators.check('mcp');
    return Object.values(servers).every((server) => server.state === 'ready') ? session.up({ servers }) : session.degraded({ servers });
  }

  acceptingTraffic() {
    const session = this.indicators.check('shutdown');
    return this.readiness.isShuttingDown ? session.down({ message: 'shutting down' }) : session.up();
  }
}
