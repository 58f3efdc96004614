/**
 * Build step (`npm run build`, after tsc): writes the templates new embedded databases start from,
 * for the installed PGlite release and this build's migrations, unless they are there already.
 * See pglite-template.ts.
 */
import { existsSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source.factory.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { ensureDefaultTemplate, removeOtherTemplates, schemaTemplateFile, writeTemplateFile } from './pglite-template.js';

let started = Date.now();
const { file, written } = await ensureDefaultTemplate();
if (written) process.stdout.write(`Wrote ${file} in ${Date.now() - started} ms\n`);

/** In memory, from the bare template: the migrations as the server would run them, then dumped. */
async function writeSchemaTemplate(schema: string): Promise<void> {
  const embedded = await EmbeddedPostgres.start({ dataDir: undefined, template: file });
  try {
    const dataSource = new DataSource(dataSourceOptions(embedded.url, { poolSize: 1, connectTimeoutMs: 10_000 }, 'agent-chat-build'));
    await dataSource.initialize();
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await dataSource.destroy();
    }
    await writeTemplateFile(schema, await embedded.dumpTemplate());
  } finally {
    await embedded.stop();
  }
}

const schema = schemaTemplateFile()!;
removeOtherTemplates([file, schema]);
if (!existsSync(schema)) {
  started = Date.now();
  try {
    await writeSchemaTemplate(schema);
    process.stdout.write(`Wrote ${schema} in ${Date.now() - started} ms\n`);
  } catch (error) {
    // Not fatal: new databases then start from the bare template and run the migrations themselves
    // (where a migration fails, the server says so at start-up).
    process.stderr.write(`Could not write the schema template (${error instanceof Error ? error.message : String(error)}); new embedded databases will run the migrations at start-up\n`);
  }
}
