import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { inject } from 'vitest';

export function testDatabaseServerUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || undefined;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function adminQuery(sql: string, url = testDatabaseServerUrl()): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  /** undefined: the embedded PGlite database (in memory) of the app under test. */
  url: string | undefined;
  drop(): Promise<void>;
}

/**
 * An isolated database for one test file: a clone of the migrated template on PostgreSQL
 * (TEST_DATABASE_URL), or nothing at all on the embedded backend, where each app gets a fresh
 * in-memory PGlite of its own.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const server = testDatabaseServerUrl();
  if (!server) return { url: undefined, drop: async () => undefined };
  const name = `agentchat_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}" TEMPLATE "${inject('templateDatabase')}"`);
  const url = withDatabase(server, name);
  // TypeORM records generated columns under the database's name; the clone has a new one.
  await adminQuery(`UPDATE typeorm_metadata SET database = current_database()`, url);
  return {
    url,
    drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}
