import { extname } from 'node:path';
import { fileTypeFromBuffer } from 'file-type';

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const BINARY_TYPES: ReadonlySet<string> = new Set(['application/pdf', DOCX, ...IMAGE_TYPES]);
/** Every media type a document may have. */
export const DOCUMENT_TYPES = ['text/plain', 'text/markdown', 'text/html', 'text/csv', 'application/json', ...BINARY_TYPES] as const;
const TEXT_BY_EXTENSION: Record<string, string> = { '.md': 'text/markdown', '.markdown': 'text/markdown', '.csv': 'text/csv' };
const HTML_START = /^\s*(<!doctype html|<html[\s>])/i;

export function isImage(mediaType: string): boolean {
  return (IMAGE_TYPES as readonly string[]).includes(mediaType);
}

/**
 * The media type of an upload, from its bytes: binary formats by their signature, anything else
 * only if it is UTF-8 text. The name only picks among text types (Markdown, CSV), which are all
 * served and read alike. Undefined: a type that is not accepted.
 */
export async function sniffMediaType(content: Buffer, filename: string): Promise<string | undefined> {
  const detected = await fileTypeFromBuffer(content);
  if (detected) return BINARY_TYPES.has(detected.mime) ? detected.mime : undefined;
  const text = decodeText(content);
  if (text === undefined) return undefined;
  if (HTML_START.test(text)) return 'text/html';
  if (isJson(text)) return 'application/json';
  return TEXT_BY_EXTENSION[extname(filename).toLowerCase()] ?? 'text/plain';
}

function decodeText(content: Buffer): string | undefined {
  if (content.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    return undefined;
  }
}

function isJson(text: string): boolean {
  if (!/^\s*[[{]/.test(text)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A name to store and show: no directories, no control characters, at most 255 characters. */
export function safeFilename(name: string): string {
  // oxlint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const base = name.split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return (base || 'document').slice(0, 255);
}

/** Content-Disposition for a download: an ASCII fallback plus the exact name (RFC 6266 / 5987). */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}
