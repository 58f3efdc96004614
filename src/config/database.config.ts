import { type Env, readBool, readInt, readUrl } from './env.js';

export interface DatabaseSettings {
  /** A PostgreSQL URL, or undefined for the embedded PGlite database under DATA_DIR. */
  url: string | undefined;
  poolSize: number;
  migrationsRun: boolean;
  connectTimeoutMs: number;
  /** Hot statements are prepared once per connection (see runStatement); off for a pooler in transaction mode before PgBouncer 1.21. */
  preparedStatements: boolean;
}

export function parseDatabaseSettings(env: Env): DatabaseSettings {
  return {
    url: readUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    poolSize: readInt(env, 'DATABASE_POOL_SIZE', 10, { min: 1, max: 500 }),
    migrationsRun: readBool(env, 'MIGRATIONS_RUN', true),
    connectTimeoutMs: readInt(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5000, { min: 100, max: 120_000 }),
    preparedStatements: readBool(env, 'DATABASE_PREPARED_STATEMENTS', true),
  };
}
