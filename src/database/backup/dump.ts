import type { Client } from 'pg';
import { BACKUP_FORMAT, BACKUP_VERSION, type BackupHeader, type EndLine, ROWS_PREFIX, type TableLine } from './backup-file.js';

/** Tables the migrations fill themselves: restored by running them, not copied. */
export const MIGRATION_TABLES = ['migrations', 'typeorm_metadata'];
/** Rows per batch adapt to their size so one line stays near this many characters. */
const BATCH_CHARS = 4 * 1024 * 1024;
const MAX_BATCH_ROWS = 1000;

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Tables of the schema the app uses, in name order. */
export async function listTables(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> ALL($1)
     ORDER BY 1`,
    [MIGRATION_TABLES],
  );
  return rows.map((row) => row.name);
}

/** Columns that hold data: generated ones are computed again on restore. */
export async function listColumns(client: Client, table: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute
     WHERE attrelid = to_regclass(quote_ident($1)) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
     ORDER BY attnum`,
    [table],
  );
  return rows.map((row) => row.name);
}

async function readHeader(client: Client, jwtSecret: string | undefined): Promise<BackupHeader> {
  const version = await client.query<{ server_version: string }>('SHOW server_version');
  const migrations = await client.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
  const sequences = await client.query<{ name: string; lastValue: string | null }>(
    `SELECT sequencename AS name, last_value::text AS "lastValue" FROM pg_sequences WHERE schemaname = current_schema() ORDER BY 1`,
  );
  return {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: new Date().toISOString(),
    postgres: version.rows[0]!.server_version,
    migrations: migrations.rows.map((row) => row.name),
    sequences: sequences.rows,
    ...(jwtSecret === undefined ? {} : { jwtSecret }),
  };
}

/** One table's rows through a cursor, in batches; returns how many. */
async function* tableRows(client: Client, table: string, columns: string[]): AsyncGenerator<string, number> {
  await client.query(
    `DECLARE backup_rows NO SCROLL CURSOR FOR SELECT row_to_json(r)::text AS json FROM (SELECT ${columns.map(quoteIdent).join(', ')} FROM ${quoteIdent(table)}) r`,
  );
  let batch = 100;
  let count = 0;
  for (;;) {
    const { rows } = await client.query<{ json: string }>(`FETCH ${batch} FROM backup_rows`);
    if (rows.length === 0) break;
    count += rows.length;
    const json = rows.map((row) => row.json);
    const chars = json.reduce((sum, text) => sum + text.length, 0);
    yield `${ROWS_PREFIX}[${json.join(',')}]}`;
    batch = Math.max(1, Math.min(MAX_BATCH_ROWS, Math.floor(BATCH_CHARS / (chars / rows.length))));
  }
  await client.query('CLOSE backup_rows');
  return count;
}

/**
 * The backup's lines, read in one REPEATABLE READ transaction: one snapshot of every table. On
 * the embedded database that transaction also holds its single session, so the server's own
 * queries wait until the dump is read (seconds for a typical database).
 */
export async function* dumpLines(client: Client, jwtSecret: string | undefined): AsyncGenerator<string> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  let done = false;
  try {
    yield JSON.stringify(await readHeader(client, jwtSecret));
    const counts: Record<string, number> = {};
    for (const table of await listTables(client)) {
      const columns = await listColumns(client, table);
      yield JSON.stringify({ table, columns } satisfies TableLine);
      counts[table] = yield* tableRows(client, table, columns);
    }
    yield JSON.stringify({ end: true, rows: counts } satisfies EndLine);
    await client.query('COMMIT');
    done = true;
  } finally {
    // Also when the file could not be written: the server's queries are waiting.
    if (!done) await client.query('ROLLBACK').catch(() => undefined);
  }
}
