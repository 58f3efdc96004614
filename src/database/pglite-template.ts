import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
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

/** Imports of compiled modules, followed to find the code the migrations run. */
const RELATIVE_IMPORT = /(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g;

let schemaKey: string | null | undefined;

/** The version of an installed package: the package.json above its entry point. */
function packageVersion(name: string): string {
  for (let dir = dirname(createRequire(import.meta.url).resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (manifest.name === name) return manifest.version ?? 'unknown';
  }
  return 'unknown';
}

/**
 * What the schema of a migrated database depends on: the built migrations and every module they
 * import (their code, not only their names), TypeORM and pgvector. Null without a build.
 */
function computeSchemaKey(): string | null {
  const hash = createHash('sha256');
  for (const name of ['typeorm', '@electric-sql/pglite-pgvector']) hash.update(`${name}@${packageVersion(name)}\n`);
  const seen = new Set<string>();
  const queue = [join(DIST, 'src/database/migrations.js')];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.has(file)) continue;
    seen.add(file);
    let code: string;
    try {
      code = readFileSync(file, 'utf8');
    } catch {
      return null;
    }
    hash.update(`${relative(DIST, file)}\n${code}\n`);
    for (const [, specifier] of code.matchAll(RELATIVE_IMPORT)) queue.push(resolve(dirname(file), specifier!));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Where the build puts the template with the schema too, named after what the schema depends on
 * (computed once per process from dist/), so that one made by other migrations is never used.
 * Undefined without a build.
 */
export function schemaTemplateFile(): string | undefined {
  if (schemaKey === undefined) schemaKey = computeSchemaKey();
  return schemaKey === null ? undefined : join(DIST, `${PREFIX}${pgliteVersion()}-schema-${schemaKey}.tar.gz`);
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

/** Writes a template atomically: never a partial file (and a build running meanwhile writes its own). */
export async function writeTemplateFile(file: string, dump: Blob): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, new Uint8Array(await dump.arrayBuffer()));
  renameSync(partial, file);
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

/** Removes the templates in dist/ other than `keep` (other PGlite releases', other schemas'); files being written stay. */
export function removeOtherTemplates(keep: string[]): void {
  const directory = dirname(defaultTemplateFile());
  if (!existsSync(directory)) return;
  for (const name of readdirSync(directory)) {
    if (name.startsWith(PREFIX) && name.endsWith('.tar.gz') && !keep.includes(join(directory, name))) rmSync(join(directory, name), { force: true });
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
