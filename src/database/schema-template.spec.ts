import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppDataSource } from './data-source.factory.js';
import { MIGRATIONS } from './migrations.js';

/** The build ships the schema in a template (npm run build): a new embedded database has no migration left to run. */
describe('a new embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'schema-template-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("starts with every one of this build's migrations applied, and the schema they make", async () => {
    const dataSource = await AppDataSource.create({ settings: { url: undefined, poolSize: 2, migrationsRun: true, connectTimeoutMs: 10_000 }, embeddedDataDir: dataDir });
    await dataSource.initialize();
    try {
      expect(await dataSource.showMigrations()).toBe(false);
      const applied: { name: string }[] = await dataSource.query('SELECT name FROM migrations');
      expect(applied.map((row) => row.name).toSorted()).toEqual(MIGRATIONS.map((migration) => migration.name).toSorted());
      // The tables the entities map are there, with the columns they map.
      for (const entity of dataSource.entityMetadatas) {
        const columns: { column_name: string }[] = await dataSource.query('SELECT column_name FROM information_schema.columns WHERE table_name = $1', [entity.tableName]);
        expect(columns.map((column) => column.column_name)).toEqual(expect.arrayContaining(entity.columns.map((column) => column.databaseName)));
      }
    } finally {
      await dataSource.destroy();
    }
  });
});
