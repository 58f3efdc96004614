import { createInflateRaw } from 'node:zlib';

/** What a ZIP archive may unpack to before it is read. */
export interface UnpackLimits {
  /** Bytes all entries together may unpack to. */
  maxBytes: number;
  maxEntries: number;
}

/** Why an archive was refused: damaged (or not a ZIP), too large unpacked, or too many entries. */
export type ZipRefusal = { reason: 'damaged' } | { reason: 'too-large'; maxBytes: number } | { reason: 'too-many-entries'; maxEntries: number };

export class ZipRefused extends Error {
  override readonly name = 'ZipRefused';
  constructor(readonly refusal: ZipRefusal) {
    super(`ZIP archive refused: ${refusal.reason}`);
  }
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const MAX16 = 0xffff;
const MAX32 = 0xffffffff;
const STORED = 0;
const DEFLATED = 8;
const signature = (value: number) => Buffer.from(Uint32Array.of(value).buffer);

interface Entry {
  method: number;
  flags: number;
  compressedSize: number;
  localOffset: number;
}

const damaged = () => new ZipRefused({ reason: 'damaged' });

/** Reads a little-endian integer, refusing one past the end of the archive. */
function u(bytes: Buffer, at: number, width: 2 | 4 | 8): number {
  if (at < 0 || at + width > bytes.length) throw damaged();
  if (width === 8) {
    const value = bytes.readBigUInt64LE(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw damaged();
    return Number(value);
  }
  return width === 2 ? bytes.readUInt16LE(at) : bytes.readUInt32LE(at);
}

/**
 * Where the central directory is, found as JSZip (which mammoth reads Word documents with) finds
 * it: the last end record, and the ZIP64 records when that one's fields are full. An archive whose
 * directory is not right before its end record is refused, where JSZip would shift every offset.
 */
function centralDirectory(bytes: Buffer): { offset: number; size: number } {
  const end = bytes.lastIndexOf(signature(EOCD));
  if (end < 0) throw damaged();
  let records = u(bytes, end + 10, 2);
  let size = u(bytes, end + 12, 4);
  let offset = u(bytes, end + 16, 4);
  let expectedEnd = offset + size;
  const fields = [u(bytes, end + 4, 2), u(bytes, end + 6, 2), u(bytes, end + 8, 2), records];
  if (fields.includes(MAX16) || size === MAX32 || offset === MAX32) {
    const locator = bytes.lastIndexOf(signature(ZIP64_LOCATOR));
    if (locator < 0) throw damaged();
    const zip64End = u(bytes, locator + 8, 8);
    if (u(bytes, zip64End, 4) !== ZIP64_EOCD) throw damaged();
    records = u(bytes, zip64End + 32, 8);
    size = u(bytes, zip64End + 40, 8);
    offset = u(bytes, zip64End + 48, 8);
    expectedEnd = offset + size + 20 + 12 + u(bytes, zip64End + 4, 8);
  }
  if (expectedEnd !== end || records === 0) throw damaged();
  return { offset, size };
}

/** The sizes and offset of a central directory header, with its ZIP64 extra field applied. */
function entryAt(bytes: Buffer, at: number): { entry: Entry; next: number } {
  const nameLength = u(bytes, at + 28, 2);
  const extraEnd = at + 46 + nameLength + u(bytes, at + 30, 2);
  const entry: Entry = { flags: u(bytes, at + 8, 2), method: u(bytes, at + 10, 2), compressedSize: u(bytes, at + 20, 4), localOffset: u(bytes, at + 42, 4) };
  // JSZip applies the last ZIP64 field, reading field headers while four bytes remain before the end.
  let zip64: { start: number; end: number } | undefined;
  for (let field = at + 46 + nameLength; field + 4 < extraEnd; field += 4 + u(bytes, field + 2, 2)) {
    if (u(bytes, field, 2) === 1) zip64 = { start: field + 4, end: field + 4 + u(bytes, field + 2, 2) };
  }
  if (zip64) {
    const read = () => {
      if (zip64.start + 8 > zip64.end) throw damaged();
      return u(bytes, (zip64.start += 8) - 8, 8);
    };
    if (u(bytes, at + 24, 4) === MAX32) read();
    if (entry.compressedSize === MAX32) entry.compressedSize = read();
    if (entry.localOffset === MAX32) entry.localOffset = read();
  }
  return { entry, next: extraEnd + u(bytes, at + 32, 2) };
}

/** The central directory's entries, read while their signature holds, as JSZip reads them. */
function entries(bytes: Buffer, maxEntries: number): Entry[] {
  const found: Entry[] = [];
  for (let at = centralDirectory(bytes).offset; at + 4 <= bytes.length && bytes.readUInt32LE(at) === CENTRAL_HEADER; ) {
    if (found.length === maxEntries) throw new ZipRefused({ reason: 'too-many-entries', maxEntries });
    const { entry, next } = entryAt(bytes, at);
    found.push(entry);
    at = next;
  }
  if (!found.length) throw damaged();
  return found;
}

/** An entry's packed bytes, found through its local header as JSZip finds them. */
function packedData(bytes: Buffer, entry: Entry): Buffer {
  if (entry.flags & 1 || (entry.method !== STORED && entry.method !== DEFLATED)) throw damaged();
  if (u(bytes, entry.localOffset, 4) !== LOCAL_HEADER) throw damaged();
  const start = entry.localOffset + 30 + u(bytes, entry.localOffset + 26, 2) + u(bytes, entry.localOffset + 28, 2);
  if (start + entry.compressedSize > bytes.length) throw damaged();
  return bytes.subarray(start, start + entry.compressedSize);
}

/**
 * How many bytes deflated data unpacks to, counted as it streams and never kept, stopping as soon
 * as it passes `limit` (then the count returned is over the limit, not the full size).
 */
function inflatedSize(data: Buffer, limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const inflate = createInflateRaw({ chunkSize: 64 * 1024 });
    let size = 0;
    inflate.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return;
      inflate.destroy();
      resolve(size);
    });
    inflate.once('end', () => resolve(size));
    inflate.once('error', () => reject(damaged()));
    inflate.end(data);
  });
}

/**
 * Checks, before a library unpacks it whole, that a ZIP archive unpacks within the limits: every
 * entry is really inflated (the sizes its headers declare can be forged), all of them within one
 * budget. Entries are only stored or deflated, as Office writes them. Throws a ZipRefused.
 */
export async function checkUnpackedSize(bytes: Buffer, limits: UnpackLimits): Promise<void> {
  let total = 0;
  for (const entry of entries(bytes, limits.maxEntries)) {
    const data = packedData(bytes, entry);
    total += entry.method === STORED ? data.length : await inflatedSize(data, limits.maxBytes - total);
    if (total > limits.maxBytes) throw new ZipRefused({ reason: 'too-large', maxBytes: limits.maxBytes });
  }
}
