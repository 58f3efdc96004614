import { Global, Module } from '@nestjs/common';
import { DatabasePoolMetrics } from './database-pool.metrics.js';
import { MetricsService } from './metrics.service.js';

@Global()
@Module({ providers: [MetricsService, DatabasePoolMetrics], exports: [MetricsService] })
export class MetricsModule {}
