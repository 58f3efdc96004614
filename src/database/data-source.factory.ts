import { existsSync } from 'node:fs';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { DatabaseSettings } from '../config/database.config.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations.js';
import { schemaTemplateFile } from './pglite-template.js';
import { useFastTimestamps } from './timestamps.js';

// Every Date the driver reads for the application (pg's type parsers are process-wide).
useFastTimestamps();

/** Arbitrary constant: serialises migration runs of instances that start at the same time. */
const MIGRATION_LOCK_KEY = 727_001;

export interface DataSourceTarget {
  settings: DatabaseSettings;
  /** Where the embedded database lives when no DATABASE_URL is set; undefined means in memory. */
  embeddedDataDir: string | undefined;
  applicationName?: string;
  /** The template a new embedded database starts from; default: the build's with the schema, if there is one. */
  template?: string;
}

/** The build's template with the schema (see pglite-template.ts) when there is one; else the bare template's default. */
function withSchema(template: string | undefined): { template?: string } {
  const file = template ?? schemaTemplateFile();
  return file && existsSync(file) ? { template: file } : {};
}

export function dataSourceOptions(url: string, settings: Pick<DatabaseSettings, 'poolSize' | 'connectTimeoutMs'>, applicationName: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    // gen_random_uuid() is built into PostgreSQL 13+, so no extension has to be installed.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    applicationName,
    extra: {
      max: settings.poolSize,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
    },
  };
}

/**
 * A DataSource that also owns the embedded database it talks to, so that whoever destroys the
 * DataSource (the app on shutdown, the TypeORM CLI after a command) stops PGlite cleanly too.
 */
export class AppDataSource extends DataSource {
  private embedded: EmbeddedPostgres | undefined;
  /** Whether runStatement may prepare statements by name on this database's connections. */
  preparesStatements = false;

  static async create({ settings, embeddedDataDir, applicationName = 'agent-chat', template }: DataSourceTarget): Promise<AppDataSource> {
    const embedded = settings.url
      ? undefined
      : await EmbeddedPostgres.start({ dataDir: embeddedDataDir, ...withSchema(template) });
    const dataSource = new AppDataSource(dataSourceOptions(settings.url ?? embedded!.url, settings, applicationName));
    dataSource.embedded = embedded;
    // The embedded database's wire server keeps each connection's prepared statements apart.
    dataSource.preparesStatements = settings.preparedStatements;
    return dataSource;
  }

  get isEmbedded(): boolean {
    return this.embedded !== undefined;
  }

  /** Runs pending migrations under an advisory lock, so concurrent instances apply them once. */
  async migrate(): Promise<void> {
    const lock = this.createQueryRunner();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await this.runMigrations({ transaction: 'each' });
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      await lock.release();
    }
  }

  override async destroy(): Promise<void> {
    try {
      if (this.isInitialized) await super.destroy();
    } finally {
      const embedded = this.embedded;
      this.embedded = undefined;
      await embedded?.stop();
    }
  }
}
