import type { Client } from 'pg';
import type { MigrationInterface } from 'typeorm';
import { MIGRATIONS } from '../migrations.js';
import { BACKUP_FORMAT, BACKUP_VERSION, BackupError, type BackupHeader, type EndLine, ROWS_PREFIX, type TableLine } from './backup-file.js';
import { listColumns, listTables, quoteIdent } from './dump.js';

type MigrationClass = (typeof MIGRATIONS)[number];

/** The name TypeORM records for a migration: its `name`, else the class name. */
function migrationName(migration: MigrationClass): string {
  return (new migration() as MigrationInterface).name ?? migration.name;
}

/** Checks the header and returns the migrations to apply before loading: exactly the backup's. */
export function parseHeader(line: string | undefined, file: string): { header: BackupHeader; migrations: MigrationClass[] } {
  let header: BackupHeader | undefined;
  try {
    header = line === undefined ? undefined : (JSON.parse(line) as BackupHeader);
  } catch {
    header = undefined;
  }
  if (header?.format !== BACKUP_FORMAT || !Array.isArray(header.migrations) || !Array.isArray(header.sequences)) {
    throw new BackupError(`${file} is not a backup made by npm run backup`);
  }
  if (header.version !== BACKUP_VERSION) throw new BackupError(`${file} has backup format ${String(header.version)}; this release reads format ${BACKUP_VERSION}`);
  if (header.jwtSecret !== undefined && (typeof header.jwtSecret !== 'string' || !/^\S{32,}$/.test(header.jwtSecret))) {
    throw new BackupError(`${file} holds an unusable jwt-secret`);
  }
  const known = new Map(MIGRATIONS.map((migration) => [migrationName(migration), migration]));
  const unknown = header.migrations.find((name) => !known.has(name));
  if (unknown !== undefined) {
    throw new BackupError(`${file} was made by a newer release (its migration ${unknown} is unknown here): restore it with that release or a later one`);
  }
  return { header, migrations: MIGRATIONS.filter((migration) => header.migrations.includes(migrationName(migration))) };
}

interface LoadState {
  tables: Set<string>;
  table?: { name: string; insert: string };
  counts: Record<string, number>;
  end?: EndLine;
}

/** A table line: the table must exist here with every column the backup has. */
async function startTable(client: Client, line: TableLine, state: LoadState): Promise<void> {
  if (typeof line.table !== 'string' || !Array.isArray(line.columns) || !state.tables.has(line.table)) {
    throw new BackupError(`The backup has a table ${JSON.stringify(line.table)} that this database does not have`);
  }
  const here = new Set(await listColumns(client, line.table));
  const missing = line.columns.find((column) => !here.has(column));
  if (missing !== undefined) throw new BackupError(`The backup has a column ${line.table}.${missing} that this database does not have`);
  const table = quoteIdent(line.table);
  const columns = line.columns.map(quoteIdent).join(', ');
  state.table = {
    name: line.table,
    insert: `INSERT INTO ${table} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM json_populate_recordset(NULL::${table}, $1::json)`,
  };
  state.counts[line.table] = 0;
}

async function loadLine(client: Client, line: string, state: LoadState): Promise<void> {
  if (state.end) throw new BackupError('The backup has data after its end');
  if (line.startsWith(ROWS_PREFIX) && line.endsWith(']}') && state.table) {
    // The array goes to PostgreSQL as it is: it parses it anyway, and a line may hold megabytes.
    const result = await client.query(state.table.insert, [line.slice(ROWS_PREFIX.length, -1)]);
    state.counts[state.table.name]! += result.rowCount ?? 0;
    return;
  }
  const parsed = JSON.parse(line) as Partial<TableLine & EndLine>;
  if (parsed.end === true) state.end = parsed as EndLine;
  else await startTable(client, parsed as TableLine, state);
}

/** Every table's row count must match what the backup says it holds. */
function checkComplete(state: LoadState): void {
  if (!state.end) throw new BackupError('The backup is truncated (no end line): nothing was restored');
  for (const [table, rows] of Object.entries(state.end.rows)) {
    if ((state.counts[table] ?? 0) !== rows) {
      throw new BackupError(`The backup holds ${state.counts[table] ?? 0} rows of ${table} where it should hold ${rows}: nothing was restored`);
    }
  }
}

/**
 * Loads the rows after the header into a database migrated to the backup's schema, in one
 * transaction (all or nothing), with triggers and foreign-key checks off while loading: the rows
 * come from one consistent snapshot. Returns the rows per table.
 */
export async function loadRows(client: Client, header: BackupHeader, lines: AsyncIterator<string>): Promise<Record<string, number>> {
  const state: LoadState = { tables: new Set(await listTables(client)), counts: {} };
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL session_replication_role = replica');
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      if (next.value === '') continue;
      try {
        await loadLine(client, next.value, state);
      } catch (error) {
        if (error instanceof SyntaxError) throw new BackupError('The backup has a damaged line: nothing was restored', { cause: error });
        throw error;
      }
    }
    checkComplete(state);
    for (const { name, lastValue } of header.sequences) {
      if (lastValue !== null) await client.query('SELECT setval(quote_ident($1)::regclass, $2::bigint)', [name, lastValue]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await client.query('ANALYZE');
  return state.counts;
}
