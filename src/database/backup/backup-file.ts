import { createReadStream, createWriteStream, linkSync, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip } from 'node:zlib';

/**
 * A backup of the embedded database is gzip-compressed JSON lines: a header, then for each table
 * a line naming it and its columns followed by lines of rows (`row_to_json` of each), and a last
 * line with the row count of every table, so a truncated file is recognised as one.
 */
export const BACKUP_FORMAT = 'agent-chat-embedded-backup';
export const BACKUP_VERSION = 1;

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  createdAt: string;
  /** server_version of the database it was taken from. */
  postgres: string;
  /** Applied migrations, in order: the restore applies exactly these before loading rows. */
  migrations: string[];
  /** Sequences of the schema and their last values (null: never used). */
  sequences: { name: string; lastValue: string | null }[];
  /** DATA_DIR/jwt-secret, when the server generated one: tokens issued before stay valid. */
  jwtSecret?: string;
}

export type TableLine = { table: string; columns: string[] };
export type EndLine = { end: true; rows: Record<string, number> };

/** A failure the operator can act on; its message is one line without secrets. */
export class BackupError extends Error {
  override readonly name = 'BackupError';
}

/** Row batches are written as `{"rows":[…]}`: the restore hands the array to PostgreSQL as it is. */
export const ROWS_PREFIX = '{"rows":';

/**
 * Writes the lines to file, compressed, with owner-only permissions, and returns its size. The
 * file appears only when complete: until then it is file.partial, removed on failure. An
 * existing file is replaced only when overwrite is set.
 */
export async function writeBackupFile(file: string, lines: AsyncIterable<string>, overwrite: boolean): Promise<number> {
  const partial = `${file}.partial`;
  let bytes = 0;
  let created = false;
  const out = createWriteStream(partial, { flags: 'wx', mode: 0o600 }).once('open', () => (created = true));
  try {
    await pipeline(
      Readable.from(terminated(lines)),
      createGzip(),
      async function* counted(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          yield chunk;
        }
      },
      out,
    );
    // link() refuses to replace an existing file, so a file that appeared meanwhile is kept too.
    if (overwrite) renameSync(partial, file);
    else {
      linkSync(partial, file);
      rmSync(partial);
    }
    return bytes;
  } catch (error) {
    // Another backup's partial file (or an interrupted one's) is not ours to remove.
    if (created) rmSync(partial, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new BackupError(created ? `${file} exists (--force replaces it)` : `${partial} exists: another backup to ${file} is under way, or one was interrupted (remove it)`, { cause: error });
    }
    throw error;
  }
}

async function* terminated(lines: AsyncIterable<string>): AsyncGenerator<string> {
  for await (const line of lines) yield `${line}\n`;
}

/** The file's lines, decompressed; a damaged or truncated file fails with a BackupError. */
export async function* readBackupLines(file: string): AsyncGenerator<string> {
  const gunzip = createGunzip();
  const source = createReadStream(file);
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let pending = '';
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      const lines = (pending + decoder.write(chunk)).split('\n');
      pending = lines.pop()!;
      yield* lines;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw error;
    throw new BackupError(`${file} is not a complete backup (${code === 'Z_BUF_ERROR' ? 'truncated' : 'not gzip, or damaged'})`, { cause: error });
  } finally {
    source.destroy();
  }
  pending += decoder.end();
  if (pending) yield pending;
}
