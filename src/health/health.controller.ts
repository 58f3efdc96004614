import { Controller, Get, Header, UseFilters, UseGuards } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { Public } from '../common/decorators/public.decorator.js';
import { MetricsTokenGuard } from '../metrics/metrics-token.guard.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { HealthCheckFilter } from './health-check.filter.js';
import { HealthIndicators } from './health.indicators.js';

@ApiTags('health')
@Public()
@UseFilters(HealthCheckFilter)
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicators,
    private readonly metrics: MetricsService,
  ) {}

  @Get('health/live')
  @HealthCheck()
  @ApiOperation({
    operationId: 'checkLiveness',
    summary: 'Liveness: the process is up and serving HTTP',
    description: 'Checks nothing else: a failing database does not make the process unhealthy. Not under /api/v1.',
  })
  live() {
    return this.health.check([]);
  }

  @Get('health/ready')
  @HealthCheck()
  @ApiOperation({
    operationId: 'checkReadiness',
    summary: 'Readiness: the database (and Redis, when configured) answer and no shutdown is under way',
    description:
      'In the @nestjs/terminus format. Load balancers route here only while it answers 200. Not under /api/v1. ' +
      'MCP servers, when configured, only degrade it: `details.mcp.servers` shows each one\'s state, transport, tools, ' +
      'failures in a row and nextAttemptAt, never its errors (they go to the log).',
  })
  @ApiServiceUnavailableResponse({ description: 'Not ready; the body says which check failed' })
  ready() {
    return this.health.check([
      () => this.indicators.acceptingTraffic(),
      () => this.indicators.database(),
      ...(this.indicators.redisEnabled ? [() => this.indicators.redisPing()] : []),
      ...(this.indicators.mcpConfigured ? [() => this.indicators.mcpServers()] : []),
    ]);
  }

  @Get('metrics')
  @UseGuards(MetricsTokenGuard)
  @ApiExcludeEndpoint()
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ description: 'Prometheus text exposition format' })
  async prometheus(): Promise<string> {
    return this.metrics.render();
  }
}
