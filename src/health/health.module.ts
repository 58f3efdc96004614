import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { McpModule } from '../mcp/mcp.module.js';
import { RealtimeModule } from '../realtime/realtime.module.js';
import { HealthController } from './health.controller.js';
import { HealthIndicators } from './health.indicators.js';
import { ReadinessService } from './readiness.service.js';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), RealtimeModule, McpModule],
  controllers: [HealthController],
  providers: [HealthIndicators, ReadinessService],
  exports: [ReadinessService],
})
export class HealthModule {}
