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

/** Enough of the start of a text to recognise HTML or JSON. */
const TEXT_START_CHARS = 64;
/** The largest text parsed to tell whether it is JSON (64 KB of deeply nested brackets parse in about 10 ms). */
const JSON_PARSE_MAX_CHARS = 64 * 1024;

/** file-type's own sample size when it detects the type of a stream. */
const SNIFF_BYTES = 4100;

/**
 * The media type of an upload, from its bytes as they arrive: binary formats by the signature in
 * the first bytes, anything else only if all of it is UTF-8 text (checked as it streams). The name
 * only picks among text types (Markdown, CSV), which are all served and read alike.
 */
export class MediaTypeSniffer {
  private head: Buffer[] = [];
  private headBytes = 0;
  private examined = false;
  private binary: string | undefined;
  private accepted = true;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  /** The first characters of a text, enough to recognise HTML. */
  private textStart = '';
  /** The whole text while it may be JSON (it starts with a bracket), which only parsing can tell. */
  private json: string[] | undefined = [];
  private jsonChars = 0;
  private jsonTooLarge = false;

  constructor(private readonly filename: string) {}

  /** The binary type, once recognised from the first bytes. */
  get binaryType(): string | undefined {
    return this.binary;
  }

  /** Takes the next bytes; false as soon as the content cannot be of an accepted type. */
  async push(chunk: Buffer): Promise<boolean> {
    if (!this.examined) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      if (this.headBytes >= SNIFF_BYTES) await this.examineHead();
    } else if (!this.binary) this.decode(chunk, true);
    return this.accepted;
  }

  /** After the last bytes: the media type, or undefined for a type that is not accepted. */
  async finish(): Promise<string | undefined> {
    if (!this.examined) await this.examineHead();
    if (!this.binary) this.decode(new Uint8Array(), false);
    if (!this.accepted) return undefined;
    if (this.binary) return this.binary;
    if (HTML_START.test(this.textStart)) return 'text/html';
    if (this.json && (this.jsonTooLarge ? extname(this.filename).toLowerCase() === '.json' : isJson(this.json.join('')))) return 'application/json';
    return TEXT_BY_EXTENSION[extname(this.filename).toLowerCase()] ?? 'text/plain';
  }

  private async examineHead(): Promise<void> {
    this.examined = true;
    const head = Buffer.concat(this.head);
    this.head = [];
    const detected = await fileTypeFromBuffer(head);
    if (detected) {
      this.binary = detected.mime;
      this.accepted = BINARY_TYPES.has(detected.mime);
    } else {
      this.decode(head, true);
    }
  }

  private decode(bytes: Uint8Array, more: boolean): void {
    if (!this.accepted) return;
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: more });
    } catch {
      this.accepted = false;
      return;
    }
    if (text.includes('\0')) this.accepted = false;
    // Kept trimmed and short: a file of nothing but spaces must not be trimmed again and again.
    if (this.textStart.length < TEXT_START_CHARS) this.textStart = (this.textStart + text).trimStart().slice(0, TEXT_START_CHARS);
    if (!this.json) return;
    if (this.textStart && !/^[[{]/.test(this.textStart)) this.json = undefined;
    else this.keepForJson(text);
  }

  /** Only a small text is parsed to tell JSON (parsing is not free); a larger one goes by its name. */
  private keepForJson(text: string): void {
    this.jsonChars += text.length;
    if (this.jsonChars <= JSON_PARSE_MAX_CHARS) {
      this.json!.push(text);
      return;
    }
    // Still a candidate (it starts like JSON), no longer held.
    this.json = [];
    this.jsonTooLarge = true;
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
