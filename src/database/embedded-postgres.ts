import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Logger } from '@nestjs/common';
import { defaultTemplateFile, extractTar, readTemplate } from './pglite-template.js';
import { PGliteWireServer } from './pglite-wire-server.js';

const logger = new Logger('Database');

/** Longest path a unix socket address can hold on Linux, minus the terminating NUL. */
const MAX_UNIX_SOCKET_PATH = 107;

export interface EmbeddedPostgresOptions {
  /** Directory for the database files; undefined keeps everything in memory (tests). */
  dataDir: string | undefined;
  /** Template a new database starts from (see pglite-template.ts); defaults to the build's. */
  template?: string;
}

/**
 * PGlite (PostgreSQL compiled to WebAssembly) served over the PostgreSQL wire protocol, so the
 * app talks to it through the ordinary `pg` driver exactly as it talks to a real server.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGliteWireServer,
    readonly url: string,
    private readonly lockFile: string | undefined,
  ) {}

  static async start({ dataDir, template = defaultTemplateFile() }: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    let lockFile: string | undefined;
    let db: PGlite;
    if (dataDir) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      lockFile = acquireLock(join(dataDir, 'pgdata.lock'));
      db = await openOnDisk(join(dataDir, 'pgdata'), template);
    } else {
      db = (await fromTemplate(template, (tar) => PGlite.create({ loadDataDir: new Blob([tar]) }))) ?? (await PGlite.create());
    }

    // A unix socket inside DATA_DIR keeps the database private to this user; a loopback port is
    // the fallback when the path is too long for a socket address (or there is no DATA_DIR).
    const socketPath = dataDir ? join(dataDir, '.s.PGSQL.5432') : undefined;
    const useSocket = socketPath !== undefined && socketPath.length <= MAX_UNIX_SOCKET_PATH;
    if (useSocket) rmSync(socketPath, { force: true });
    const server = new PGliteWireServer(db);
    let address: string;
    try {
      address = await server.listen(useSocket ? { path: socketPath } : { host: '127.0.0.1', port: 0 });
    } catch (error) {
      await db.close();
      if (lockFile) rmSync(lockFile, { force: true });
      throw error;
    }
    const url = useSocket
      ? `postgres://postgres@localhost/postgres?host=${encodeURIComponent(dataDir!)}`
      : `postgres://postgres@${address}/postgres`;
    return new EmbeddedPostgres(db, server, url, lockFile);
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.db.close();
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }
}

/** An existing database is opened as it is; a new one starts from the template, or else runs initdb. */
async function openOnDisk(pgdata: string, template: string): Promise<PGlite> {
  if (isEmptyDir(pgdata)) {
    const db = await fromTemplate(template, async (tar) => {
      // Unpacked beside pgdata and renamed into place, so a crash half-way leaves no half a database.
      const staging = `${pgdata}.new`;
      rmSync(staging, { recursive: true, force: true });
      try {
        extractTar(tar, staging);
        if (!existsSync(join(staging, 'PG_VERSION'))) throw new Error('not a PostgreSQL data directory');
        if (existsSync(pgdata)) rmdirSync(pgdata);
        renameSync(staging, pgdata);
      } catch (error) {
        rmSync(staging, { recursive: true, force: true });
        throw error;
      }
      try {
        return await PGlite.create(pgdata);
      } catch (error) {
        // Nothing but the template is in there yet: clear it for initdb.
        rmSync(pgdata, { recursive: true, force: true });
        throw error;
      }
    });
    if (db) return db;
  }
  return PGlite.create(pgdata);
}

/** Opens a database from the template, or undefined (initdb then) if there is none or it does not work. */
async function fromTemplate(file: string, open: (tar: Buffer) => Promise<PGlite>): Promise<PGlite | undefined> {
  let tar: Buffer;
  try {
    tar = readTemplate(file);
  } catch (error) {
    // No template (running unbuilt, or a different PGlite release): initdb, as without one.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    logger.warn(`Cannot read the database template ${file} (${String(error)}); running initdb instead`);
    return undefined;
  }
  try {
    return await open(tar);
  } catch (error) {
    logger.warn(`Cannot start a database from the template ${file} (${String(error)}); running initdb instead`);
    return undefined;
  }
}

function isEmptyDir(path: string): boolean {
  try {
    return readdirSync(path).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

/** PGlite is single-process: a second process on the same files would corrupt them. */
function acquireLock(file: string): string {
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
    return file;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number(readFileSync(file, 'utf8'));
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new Error(`The embedded database in ${file.replace(/\/pgdata\.lock$/, '')} is in use by process ${holder}`);
  }
  writeFileSync(file, String(process.pid), { mode: 0o600 });
  return file;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
