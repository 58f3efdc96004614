import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Logger } from '@nestjs/common';
import { defaultTemplateFile, dumpTemplate, extractTar, PGLITE_EXTENSIONS, readTemplate } from './pglite-template.js';
import { PGliteWireServer } from './pglite-wire-server.js';

const logger = new Logger('Database');

/** Longest path a unix socket address can hold on Linux, minus the terminating NUL. */
const MAX_UNIX_SOCKET_PATH = 107;
const SOCKET_NAME = '.s.PGSQL.5432';
/** Followed by the pid of the process that made the directory. */
const SOCKET_DIR_PREFIX = 'agentchat-pg-';
const LOCK_FILE = 'pgdata.lock';
/**
 * How to reach the running server, for `npm run backup`: its pid and URL (with the password), mode
 * 0600 in DATA_DIR. Whoever can read DATA_DIR can read the database files anyway, and the URL
 * leads to a socket in a directory only this user can enter.
 */
export const CONNECTION_FILE = 'pgdata.connection.json';

export interface EmbeddedConnection {
  pid: number;
  url: string;
}

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
    /** Carries the password: never log it. */
    readonly url: string,
    private readonly lockFile: string | undefined,
    private readonly socketDir: string | undefined,
  ) {}

  static async start({ dataDir, template = defaultTemplateFile() }: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    let lockFile: string | undefined;
    let db: PGlite;
    if (dataDir) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      lockFile = acquireLock(dataDir);
      db = await openOnDisk(join(dataDir, 'pgdata'), template);
    } else {
      db =
        (await fromTemplate(template, (tar) => PGlite.create({ loadDataDir: new Blob([tar]), extensions: PGLITE_EXTENSIONS }))) ??
        (await PGlite.create({ extensions: PGLITE_EXTENSIONS }));
    }

    // PGlite lets whoever connects in as a superuser, so the database is served only to this
    // process: a unix socket in a directory only this user can enter, and a password made now and
    // kept in memory, so neither other users nor other processes of this user get in. Loopback
    // TCP (still password-protected) is the fallback where no short socket path can be made.
    const password = randomBytes(24).toString('base64url');
    const socketDir = privateSocketDir();
    const server = new PGliteWireServer(db, password);
    let address: string;
    try {
      address = await server.listen(socketDir ? { path: join(socketDir, SOCKET_NAME) } : { host: '127.0.0.1', port: 0 });
    } catch (error) {
      await db.close();
      if (socketDir) rmSync(socketDir, { recursive: true, force: true });
      if (lockFile) rmSync(lockFile, { force: true });
      throw error;
    }
    const url = socketDir
      ? `postgres://postgres:${password}@localhost/postgres?host=${encodeURIComponent(socketDir)}`
      : `postgres://postgres:${password}@${address}/postgres`;
    if (dataDir) {
      // Older versions put a socket in DATA_DIR; nothing listens there any more.
      rmSync(join(dataDir, SOCKET_NAME), { force: true });
      writePrivateFile(join(dataDir, CONNECTION_FILE), JSON.stringify({ pid: process.pid, url } satisfies EmbeddedConnection));
    }
    return new EmbeddedPostgres(db, server, url, lockFile, socketDir);
  }

  /** The database as a template (see pglite-template.ts), for the build. */
  dumpTemplate(): Promise<Blob> {
    return dumpTemplate(this.db);
  }

  async stop(): Promise<void> {
    await this.server.close();
    await this.db.close();
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
    if (this.lockFile) {
      rmSync(join(dirname(this.lockFile), CONNECTION_FILE), { force: true });
      rmSync(this.lockFile, { force: true });
    }
  }
}

/** The live process holding dataDir's embedded database, if any. */
export function embeddedDatabaseHolder(dataDir: string): number | undefined {
  let holder: number;
  try {
    holder = Number(readFileSync(join(dataDir, LOCK_FILE), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder) ? holder : undefined;
}

/** How to reach the server that holds dataDir (see CONNECTION_FILE); undefined if that server wrote none. */
export function readEmbeddedConnection(dataDir: string, pid: number): EmbeddedConnection | undefined {
  try {
    const connection = JSON.parse(readFileSync(join(dataDir, CONNECTION_FILE), 'utf8')) as EmbeddedConnection;
    return connection.pid === pid && typeof connection.url === 'string' ? connection : undefined;
  } catch {
    return undefined;
  }
}

/** Written whole or not at all, readable by the owner alone. */
function writePrivateFile(file: string, content: string): void {
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, content, { mode: 0o600 });
  renameSync(partial, file);
}

/**
 * A new directory with mode 0700 (mkdtemp's) whose socket path fits a unix socket address;
 * undefined when neither the temporary directory nor /tmp gives one.
 */
function privateSocketDir(): string | undefined {
  for (const parent of new Set([tmpdir(), '/tmp'])) {
    const prefix = `${SOCKET_DIR_PREFIX}${process.pid}-`;
    if (join(parent, `${prefix}XXXXXX`, SOCKET_NAME).length > MAX_UNIX_SOCKET_PATH) continue;
    try {
      removeAbandonedSocketDirs(parent);
      return mkdtempSync(join(parent, prefix));
    } catch {
      // Not writable: try the next one.
    }
  }
  return undefined;
}

/** Directories left by processes that were killed before they could remove theirs. */
function removeAbandonedSocketDirs(parent: string): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(SOCKET_DIR_PREFIX)) continue;
    const pid = Number.parseInt(name.slice(SOCKET_DIR_PREFIX.length), 10);
    if (!(pid > 0) || isAlive(pid)) continue;
    try {
      rmSync(join(parent, name), { recursive: true, force: true });
    } catch {
      // Another user's: it cannot be removed here, and need not be.
    }
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
        return await PGlite.create(pgdata, { extensions: PGLITE_EXTENSIONS });
      } catch (error) {
        // Nothing but the template is in there yet: clear it for initdb.
        rmSync(pgdata, { recursive: true, force: true });
        throw error;
      }
    });
    if (db) return db;
  }
  return PGlite.create(pgdata, { extensions: PGLITE_EXTENSIONS });
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

/**
 * PGlite is single-process: a second process on the same files would corrupt them. Returns the
 * lock file, to be removed when done; throws if a live process holds it.
 */
export function acquireLock(dataDir: string): string {
  const file = join(dataDir, LOCK_FILE);
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
    return file;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number(readFileSync(file, 'utf8'));
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new Error(`The embedded database in ${dataDir} is in use by process ${holder}`);
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
