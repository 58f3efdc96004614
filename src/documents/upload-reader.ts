import type { Readable } from 'node:stream';
import { HttpStatus } from '@nestjs/common';
import type { Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { AppError, ErrorCode, fieldError } from '../common/errors.js';

/** A multipart upload opened at its file part: nothing of the file is read yet. */
export interface Upload {
  filename: string;
  /** The file's bytes as they arrive; `truncated` once it reached the upload limit. */
  file: Readable & { truncated: boolean };
  conversationId?: string;
  /** Reads the parts after the file, once it is consumed: a `conversationId` there is a 400. */
  rest(): Promise<void>;
}

export function uploadTooLarge(maxBytes: number, what = 'A document'): AppError {
  return new AppError(HttpStatus.PAYLOAD_TOO_LARGE, ErrorCode.PAYLOAD_TOO_LARGE, `${what} may be at most ${maxBytes} bytes`);
}

const lateConversationId = () =>
  fieldError('conversationId', 'conversationId must come before the file part, or be given as a query parameter');

/**
 * Opens a multipart upload: reads the fields up to the `file` part and stops there, so that where
 * the file goes is known, and checked, before any of it is read. `conversationId` comes from the
 * query or from a field before the file. Busboy stops passing bytes on at maxBytes but still reads
 * the rest of the file, so an oversized one is a 413 rather than a reset connection.
 */
export async function openUpload(request: FastifyRequest, maxBytes: number, conversationId?: string): Promise<Upload> {
  if (!request.isMultipart()) {
    throw new AppError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Send the file as multipart/form-data');
  }
  const parts = request.parts({ limits: { fileSize: maxBytes, files: 1, fields: 4, fieldSize: 256 } });
  let target = conversationId;
  for (let next = await parts.next(); !next.done; next = await parts.next()) {
    const part = next.value;
    if (part.type === 'file') {
      if (part.fieldname !== 'file') break;
      return { filename: part.filename, file: part.file, ...(target && { conversationId: target }), rest: () => readRest(parts) };
    }
    if (isConversationId(part)) {
      if (target !== undefined && target !== part.value) throw fieldError('conversationId', 'conversationId differs between the query and the form');
      target = part.value as string;
    }
  }
  throw new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Validation failed', { file: ['file is required'] });
}

/** Busboy's own errors carry no code; @fastify/multipart's are FST_*. */
const MALFORMED = /multipart|boundary|unexpected end of|malformed|part header/i;

/**
 * The error to answer for a failure while reading a multipart body: a malformed body is the
 * client's (400, or 413 for too many parts), in the contract's shape, never a 500 with the
 * parser's wording; anything else (the database, say) is left as it is.
 */
export function uploadError(error: unknown): unknown {
  if (error instanceof AppError || !(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^FST_(FILES|PARTS|FIELDS)_LIMIT$/.test(code)) {
    return new AppError(HttpStatus.PAYLOAD_TOO_LARGE, ErrorCode.PAYLOAD_TOO_LARGE, 'Send one file, and at most a conversationId field, per upload');
  }
  if ((typeof code === 'string' && code.startsWith('FST_')) || MALFORMED.test(error.message)) {
    return new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'The multipart/form-data body is malformed or incomplete', { file: ['the body could not be read as multipart/form-data'] });
  }
  return error;
}

async function readRest(parts: AsyncIterableIterator<Multipart>): Promise<void> {
  for await (const part of parts) {
    if (part.type === 'file') part.file.resume();
    else if (isConversationId(part)) throw lateConversationId();
  }
}

function isConversationId(part: Multipart): boolean {
  return part.type === 'field' && part.fieldname === 'conversationId' && typeof part.value === 'string' && part.value !== '';
}
