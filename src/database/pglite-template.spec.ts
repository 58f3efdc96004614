import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { extractTar } from './pglite-template.js';

/** One ustar entry (header + padded data), as dumpDataDir() writes them. */
function entry(name: string, data = '', type = '0'): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write(`${Buffer.byteLength(data).toString(8).padStart(11, '0')}\0`, 124);
  header.write(type, 156);
  header.write('ustar\0', 257);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(Math.ceil(Buffer.byteLength(data) / 512) * 512);
  body.write(data);
  return Buffer.concat([header, body]);
}
const tar = (...entries: Buffer[]) => Buffer.concat([...entries, Buffer.alloc(1024)]);

describe('extractTar', () => {
  const dirs: string[] = [];
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-spec-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('unpacks directories and files', () => {
    const root = scratch();
    extractTar(tar(entry('base/', '', '5'), entry('base/PG_VERSION', '17\n')), join(root, 'out'));
    expect(readFileSync(join(root, 'out', 'base', 'PG_VERSION'), 'utf8')).toBe('17\n');
  });

  it('refuses entries that would land outside the directory', () => {
    const root = scratch();
    expect(() => extractTar(tar(entry('../escaped', 'x')), join(root, 'out'))).toThrow(/outside the directory/);
    expect(() => extractTar(tar(entry('a/../../escaped', 'x')), join(root, 'out'))).toThrow(/outside the directory/);
    expect(existsSync(join(root, 'escaped'))).toBe(false);
  });

  it('refuses links, damaged headers and truncated data', () => {
    const root = scratch();
    expect(() => extractTar(tar(entry('link', '', '2')), join(root, 'a'))).toThrow(/Unsupported tar entry/);
    const damaged = entry('file', 'data');
    damaged[0] = 'X'.charCodeAt(0);
    expect(() => extractTar(tar(damaged), join(root, 'b'))).toThrow(/Corrupt tar header/);
    expect(() => extractTar(entry('file', 'x'.repeat(2000)).subarray(0, 1024), join(root, 'c'))).toThrow(/Truncated tar/);
  });
});
