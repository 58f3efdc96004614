import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

/*
 * A template is a freshly initialised PGlite data directory, as a gzipped tar (the format of
 * PGlite's dumpDataDir()). initdb takes seconds; unpacking the template takes a fraction of one,
 * so the build writes one and a new embedded database starts from it. It holds no schema and
 * depends on the PGlite release alone. A second one (migratedTemplateFile) holds the schema of the
 * build's migrations too, so that a new data directory skips them (about a second); whatever
 * starts from a given set of migrations (a restore) uses the first.
 */

/** The build writes into dist/; running from source (the tests) finds the last build's template there. */
const DIST = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/' : '../../', import.meta.url));
const PREFIX = 'pglite-template-';

let version: string | undefined;

/**
 * Loaded into every PGlite instance: a data directory whose schema uses an extension cannot be
 * opened without it (pgvector for the embeddings of document chunks).
 */
export const PGLITE_EXTENSIONS = { vector };

/** The installed PGlite release: a data directory is only known to work with the release that made it. */
export function pgliteVersion(): string {
  if (version === undefined) {
    // The package exports no package.json; it sits next to dist/, where the entry points are.
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    version = (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  }
  return version;
}

/** Where the build puts the template; the name carries the PGlite release, so a stale one is never picked up. */
export function defaultTemplateFile(): string {
  return join(DIST, `${PREFIX}${pgliteVersion()}.tar.gz`);
}

/**
 * Where the build puts the template with the schema too: `migrations`, the names of every
 * migration, are in its name, so one made for another set of migrations is never picked up.
 */
export function migratedTemplateFile(migrations: string[]): string {
  const set = createHash('sha256').update(migrations.join('\n')).digest('hex').slice(0, 16);
  return join(DIST, `${PREFIX}${pgliteVersion()}-schema-${set}.tar.gz`);
}

/**
 * A running database's data directory as a template: the dump is of a running server, so a copy
 * starts with crash recovery (as PGlite's own clone() does); after a checkpoint that recovery has
 * next to no WAL to replay.
 */
export async function dumpTemplate(db: PGlite): Promise<Blob> {
  await db.exec('CHECKPOINT');
  return db.dumpDataDir('gzip');
}

/** Writes a template atomically: never a partial file. */
export async function writeTemplateFile(file: string, dump: Blob): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, new Uint8Array(await dump.arrayBuffer()));
  renameSync(`${file}.tmp`, file);
}

/** Initialises a database in memory and writes it out as a template. */
export async function writeTemplate(file: string): Promise<void> {
  const db = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
  let dump: Blob;
  try {
    dump = await dumpTemplate(db);
  } finally {
    await db.close();
  }
  await writeTemplateFile(file, dump);
}

/** Removes the templates in dist/ other than `keep` (other PGlite releases', other migration sets'). */
export function removeOtherTemplates(keep: string[]): void {
  const directory = dirname(defaultTemplateFile());
  if (!existsSync(directory)) return;
  for (const name of readdirSync(directory)) {
    if (name.startsWith(PREFIX) && !keep.includes(join(directory, name))) rmSync(join(directory, name), { force: true });
  }
}

/** Writes the template for the installed PGlite unless it is there already. */
export async function ensureDefaultTemplate(): Promise<{ file: string; written: boolean }> {
  const file = defaultTemplateFile();
  if (existsSync(file)) return { file, written: false };
  await writeTemplate(file);
  return { file, written: true };
}

/** The uncompressed tar of a template; gzip's checksum catches a damaged or truncated file. */
export function readTemplate(file: string): Buffer {
  return gunzipSync(readFileSync(file));
}

const BLOCK = 512;

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function octal(header: Buffer, start: number, length: number): number {
  const value = Number.parseInt(field(header, start, length).trim() || '0', 8);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error('Corrupt tar header');
  return value;
}

/** The header checksum: the sum of its bytes, with the checksum field itself counted as spaces. */
function checksumMatches(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === octal(header, 148, 8);
}

/**
 * Unpacks a tar of plain files and directories (all dumpDataDir() writes) into dir. Written
 * natively rather than through PGlite's loadDataDir, which copies file by file through its
 * emulated file system and takes several times as long on disk.
 */
export function extractTar(tar: Buffer, dir: string): void {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  let offset = 0;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) return;
    if (!checksumMatches(header)) throw new Error('Corrupt tar header');
    const prefix = field(header, 345, 155);
    const name = prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);
    const target = resolve(root, `.${sep}${name}`);
    if (!target.startsWith(root + sep)) throw new Error(`Tar entry outside the directory: ${name}`);
    const mode = octal(header, 100, 8) & 0o777;
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    offset += BLOCK;
    if (offset + size > tar.length) throw new Error('Truncated tar');
    if (type === '5') {
      mkdirSync(target, { recursive: true, mode: mode | 0o700 });
    } else if (type === '0' || type === '\0') {
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      writeFileSync(target, tar.subarray(offset, offset + size), { mode: mode | 0o600 });
    } else {
      throw new Error(`Unsupported tar entry type "${type}" for ${name}`);
    }
    offset += Math.ceil(size / BLOCK) * BLOCK;
  }
}
