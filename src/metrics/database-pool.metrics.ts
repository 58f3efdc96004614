import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from './metrics.service.js';

/** The counters node-postgres keeps on its pool. */
interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * The connection pool behind the DataSource, read when /metrics is scraped: connections open,
 * idle, and queries waiting for one (a pool at its maximum with requests waiting is the database
 * being the bottleneck).
 */
@Injectable()
export class DatabasePoolMetrics {
  constructor(metrics: MetricsService, dataSource: DataSource, config: AppConfig) {
    const registers = [metrics.registry];
    // The PostgreSQL driver's pool (embedded PGlite is served over the same wire protocol); undefined once closed.
    const pool = () => (dataSource.driver as { master?: PoolCounts }).master;
    const gauge = (name: string, help: string, read: (counts: PoolCounts) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const counts = pool();
          this.set(counts ? read(counts) : 0);
        },
      });
    gauge('db_pool_size', 'Connections the database pool holds open (idle and in use)', (counts) => counts.totalCount);
    gauge('db_pool_idle', 'Open connections of the database pool not in use', (counts) => counts.idleCount);
    gauge('db_pool_waiting', 'Queries waiting for a connection of the database pool', (counts) => counts.waitingCount);
    new Gauge({ name: 'db_pool_max', help: 'The most connections the database pool opens (DATABASE_POOL_SIZE)', registers }).set(config.database.poolSize);
  }
}
