import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGliteWireServer } from './pglite-wire-server.js';

/** Longest path a unix socket address can hold on Linux, minus the terminating NUL. */
const MAX_UNIX_SOCKET_PATH = 107;

export interface EmbeddedPostgresOptions {
  /** Directory for the database files; undefined keeps everything in memory (tests). */
  dataDir: string | undefined;
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

  static async start({ dataDir }: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    let lockFile: string | undefined;
    let db: PGlite;
    if (dataDir) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      lockFile = acquireLock(join(dataDir, 'pgdata.lock'));
      db = await PGlite.create(join(dataDir, 'pgdata'));
    } else {
      db = await PGlite.create();
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
