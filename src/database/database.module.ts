import { Global, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { IN_MEMORY } from '../config/app.config.js';
import { AppConfig } from '../config/app-config.js';
import { AppDataSource } from './data-source.factory.js';

async function openDataSource(config: AppConfig): Promise<AppDataSource> {
  const logger = new Logger('Database');
  const dataSource = await AppDataSource.create({
    settings: config.database,
    embeddedDataDir: config.app.dataDir === IN_MEMORY ? undefined : config.app.dataDir,
  });
  try {
    await dataSource.initialize();
    if (config.database.migrationsRun) await dataSource.migrate();
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  logger.log(dataSource.isEmbedded ? `Embedded PostgreSQL (PGlite) in ${config.app.dataDir}` : 'Connected to PostgreSQL');
  return dataSource;
}

/** Owns the single DataSource: opened (and migrated) at start-up, closed last on shutdown. */
@Global()
@Module({
  providers: [
    { provide: AppDataSource, inject: [AppConfig], useFactory: openDataSource },
    { provide: DataSource, useExisting: AppDataSource },
  ],
  exports: [DataSource, AppDataSource],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(private readonly dataSource: AppDataSource) {}

  async onApplicationShutdown(): Promise<void> {
    await this.dataSource.destroy();
  }
}
