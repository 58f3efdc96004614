import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../data-source.factory.js';
import { acquireLock, CONNECTION_FILE, EmbeddedPostgres, embeddedDatabaseHolder, readEmbeddedConnection } from '../embedded-postgres.js';
import { BackupError, readBackupLines, writeBackupFile } from './backup-file.js';
import { dumpLines } from './dump.js';
import { loadRows, parseHeader } from './load.js';

const PGDATA = 'pgdata';
const JWT_SECRET_FILE = 'jwt-secret';
const CONNECT_TIMEOUT_MS = 10_000;

export interface BackupSummary {
  /** Whether a running server served the snapshot (else this process opened the database). */
  online: boolean;
  rows: Record<string, number>;
  bytes: number;
}

function readJwtSecret(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, JWT_SECRET_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Runs work with a client of dataDir's database: the running server's, or one opened here. */
async function withEmbeddedClient<T>(dataDir: string, work: (client: Client, online: boolean) => Promise<T>): Promise<T> {
  const holder = embeddedDatabaseHolder(dataDir);
  const connection = holder === undefined ? undefined : readEmbeddedConnection(dataDir, holder);
  if (holder !== undefined && !connection) {
    throw new BackupError(`The embedded database in ${dataDir} is in use by process ${holder}, which published no ${CONNECTION_FILE} (an older release?): stop it, then back up`);
  }
  const embedded = connection ? undefined : await EmbeddedPostgres.start({ dataDir });
  const client = new Client({ connectionString: connection?.url ?? embedded!.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'agent-chat-backup' });
  try {
    await client.connect();
    return await work(client, connection !== undefined);
  } finally {
    await client.end().catch(() => undefined);
    await embedded?.stop();
  }
}

/** Backs up dataDir's embedded database to file, while its server runs or not. */
export async function backupEmbedded(dataDir: string, file: string, overwrite: boolean): Promise<BackupSummary> {
  if (!existsSync(join(dataDir, PGDATA)) || readdirSync(join(dataDir, PGDATA)).length === 0) {
    throw new BackupError(`No embedded database in ${dataDir}`);
  }
  if (!overwrite && existsSync(file)) throw new BackupError(`${file} exists (--force replaces it)`);
  return withEmbeddedClient(dataDir, async (client, online) => {
    let rows: Record<string, number> = {};
    const lines = dumpLines(client, readJwtSecret(dataDir));
    async function* noted(): AsyncGenerator<string> {
      for await (const line of lines) {
        if (line.startsWith('{"end":true')) rows = (JSON.parse(line) as { rows: Record<string, number> }).rows;
        yield line;
      }
    }
    const bytes = await writeBackupFile(file, noted(), overwrite);
    return { online, rows, bytes };
  });
}

/** What may be in a DATA_DIR that restore treats as empty: leftovers of a process that is gone. */
const LEFTOVERS = new Set(['pgdata.lock', CONNECTION_FILE]);

function prepareTarget(dataDir: string, force: boolean): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const holder = embeddedDatabaseHolder(dataDir);
  if (holder !== undefined) throw new BackupError(`The embedded database in ${dataDir} is in use by process ${holder}: stop the server first`);
  const contents = readdirSync(dataDir).filter((name) => !LEFTOVERS.has(name) && !name.startsWith('.restore-'));
  if (contents.length > 0 && !force) {
    throw new BackupError(`${dataDir} is not empty (${contents.slice(0, 3).join(', ')}${contents.length > 3 ? ', …' : ''}): restore into a new directory, or add --force to replace its database`);
  }
}

type BackupLines = AsyncGenerator<string>;

/** A fresh database in staging, migrated to the backup's schema and loaded with its rows. */
async function restoreInto(staging: string, backup: ReturnType<typeof parseHeader>, lines: BackupLines): Promise<Record<string, number>> {
  const embedded = await EmbeddedPostgres.start({ dataDir: staging });
  try {
    const options = dataSourceOptions(embedded.url, { poolSize: 2, connectTimeoutMs: CONNECT_TIMEOUT_MS }, 'agent-chat-restore');
    const dataSource = new DataSource({ ...options, migrations: backup.migrations });
    await dataSource.initialize();
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await dataSource.destroy();
    }
    const client = new Client({ connectionString: embedded.url, application_name: 'agent-chat-restore' });
    await client.connect();
    try {
      return await loadRows(client, backup.header, lines);
    } finally {
      await client.end().catch(() => undefined);
    }
  } finally {
    await embedded.stop();
  }
}

/** Puts the restored database (and secret) in place of dataDir's, keeping the old ones in staging. */
function swapIn(staging: string, dataDir: string): void {
  const replaced = join(staging, 'replaced');
  mkdirSync(replaced);
  for (const name of [PGDATA, JWT_SECRET_FILE]) {
    if (!existsSync(join(staging, name))) continue;
    if (existsSync(join(dataDir, name))) renameSync(join(dataDir, name), join(replaced, name));
    renameSync(join(staging, name), join(dataDir, name));
  }
}

/**
 * Restores file into dataDir: refused while a server holds it, and unless it is empty or force is
 * set. The database is built beside the old one and moved in only once complete.
 */
export async function restoreEmbedded(file: string, dataDir: string, force: boolean): Promise<Record<string, number>> {
  const lines = readBackupLines(file);
  try {
    const first = await lines.next();
    const backup = parseHeader(first.done ? undefined : first.value, file);
    prepareTarget(dataDir, force);
    const lock = acquireLock(dataDir);
    // Under the lock no other restore runs: earlier ones' directories are leftovers of a crash.
    for (const name of readdirSync(dataDir)) if (name.startsWith('.restore-')) rmSync(join(dataDir, name), { recursive: true, force: true });
    const staging = join(dataDir, `.restore-${process.pid}`);
    try {
      const rows = await restoreInto(staging, backup, lines);
      if (backup.header.jwtSecret !== undefined) writeFileSync(join(staging, JWT_SECRET_FILE), `${backup.header.jwtSecret}\n`, { mode: 0o600 });
      try {
        swapIn(staging, dataDir);
      } catch (error) {
        throw new BackupError(`Cannot move the restored database into ${dataDir} (${(error as NodeJS.ErrnoException).code ?? 'error'}): it is in ${staging}, with what it replaced in ${join(staging, 'replaced')}`, { cause: error });
      }
      rmSync(staging, { recursive: true, force: true });
      return rows;
    } catch (error) {
      if (!(error instanceof BackupError && error.message.startsWith('Cannot move'))) rmSync(staging, { recursive: true, force: true });
      throw error;
    } finally {
      rmSync(lock, { force: true });
    }
  } finally {
    await lines.return(undefined);
  }
}
