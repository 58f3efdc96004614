import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { AppDataSource } from './data-source.factory.js';
import { MIGRATIONS } from './migrations.js';
import { defaultTemplateFile } from './pglite-template.js';

const SETTINGS = { url: undefined, poolSize: 2, migrationsRun: true, connectTimeoutMs: 10_000, preparedStatements: true };

/** What a schema is made of, read from the catalogs (whatever a migration can create). */
async function catalog(dataSource: DataSource): Promise<Record<string, unknown[]>> {
  const read = (sql: string) => dataSource.query(sql) as Promise<unknown[]>;
  return {
    columns: await read(`SELECT table_name, column_name, data_type, column_default, is_nullable, is_generated, generation_expression
                         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`),
    indexes: await read(`SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`),
    constraints: await read(`SELECT conrelid::regclass::text AS relation, pg_get_constraintdef(oid) AS def FROM pg_constraint
                             WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`),
    functions: await read(`SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f' ORDER BY 1`),
    triggers: await read(`SELECT tgrelid::regclass::text AS relation, tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`),
    extensions: await read(`SELECT extname, extversion FROM pg_extension ORDER BY 1`),
    migrations: await read(`SELECT timestamp, name FROM migrations ORDER BY 1`),
  };
}

/** The build ships the schema in a template (npm run build): a new embedded database has no migration left to run. */
describe('a new embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'schema-template-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("starts with every one of this build's migrations applied, and the schema they make from a bare database", async () => {
    const fromSchema = await AppDataSource.create({ settings: SETTINGS, embeddedDataDir: dataDir });
    await fromSchema.initialize();
    // The bare template, migrated here as a database without the schema template would be.
    const migrated = await AppDataSource.create({ settings: SETTINGS, embeddedDataDir: undefined, template: defaultTemplateFile() });
    await migrated.initialize();
    try {
      expect(await fromSchema.showMigrations()).toBe(false);
      expect(await migrated.showMigrations()).toBe(true);
      await migrated.migrate();
      const [shipped, made] = [await catalog(fromSchema), await catalog(migrated)];
      expect(shipped.migrations.map((row) => (row as { name: string }).name).toSorted()).toEqual(MIGRATIONS.map((migration) => migration.name).toSorted());
      expect(shipped).toEqual(made);
    } finally {
      await fromSchema.destroy();
      await migrated.destroy();
    }
  });
});
