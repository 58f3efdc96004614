/**
 * `npm run backup -- <file>` and `npm run restore -- <file>`: the embedded database under DATA_DIR
 * (or --data-dir) to and from a file. Every failure is one line on stderr and exit code 1.
 */
import 'reflect-metadata';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readDataDir } from '../../config/app.config.js';
import { ConfigError } from '../../config/env.js';
import { BackupError } from './backup-file.js';
import { backupEmbedded, restoreEmbedded } from './embedded-backup.js';

const USAGE = 'usage: npm run backup -- <file> [--data-dir <dir>] [--force]\n       npm run restore -- <file> [--data-dir <dir>] [--force]';

function total(rows: Record<string, number>): string {
  const count = Object.values(rows).reduce((sum, n) => sum + n, 0);
  const shown = ['users', 'conversations', 'messages'].filter((table) => table in rows).map((table) => `${rows[table]} ${table}`);
  return `${count} rows in ${Object.keys(rows).length} tables (${shown.join(', ')})`;
}

/** One line, with any connection URL (which carries a password) cut out. */
export function describeError(error: unknown, file: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && (error as NodeJS.ErrnoException).path === file) return `${file} does not exist`;
  if (code === 'EACCES' || code === 'EPERM') return `Permission denied: ${(error as NodeJS.ErrnoException).path ?? file}`;
  if (code === 'ENOSPC') return 'No space left on the device';
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n')[0]!.replace(/postgres(ql)?:\/\/\S*/g, '<database url>');
  return error instanceof BackupError || error instanceof ConfigError ? line : `${error instanceof Error ? error.name : 'Error'}: ${line}`;
}

function options(argv: string[]): { command: string; file: string; dataDir: string; force: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, force: { type: 'boolean', default: false } }, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`, { cause: error });
  }
  const { values, positionals } = parsed;
  const [command, file, ...extra] = positionals;
  if (!command || !['backup', 'restore'].includes(command) || !file || extra.length > 0) throw new UsageError(USAGE);
  if (process.env.DATABASE_URL && values['data-dir'] === undefined) {
    throw new BackupError('DATABASE_URL is set: this backs up the embedded database only; for PostgreSQL use pg_dump (README, Operations), or pass --data-dir');
  }
  const dataDir = values['data-dir'] === undefined ? readDataDir(process.env) : resolve(values['data-dir']);
  if (dataDir === undefined) throw new BackupError('DATA_DIR is memory://: there is no embedded database on disk');
  return { command, file: resolve(file), dataDir, force: values.force };
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let file = '';
  try {
    const parsed = options(argv);
    file = parsed.file;
    const started = Date.now();
    if (parsed.command === 'backup') {
      const summary = await backupEmbedded(parsed.dataDir, parsed.file, parsed.force);
      const mode = summary.online ? 'while the server ran' : 'with no server running';
      process.stdout.write(`Backed up ${total(summary.rows)} from ${parsed.dataDir} ${mode} to ${parsed.file} (${summary.bytes} bytes, ${Date.now() - started} ms)\n`);
    } else {
      const rows = await restoreEmbedded(parsed.file, parsed.dataDir, parsed.force);
      process.stdout.write(`Restored ${total(rows)} from ${parsed.file} into ${parsed.dataDir} (${Date.now() - started} ms); start the server on it\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`${error instanceof UsageError ? error.message : describeError(error, file)}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
