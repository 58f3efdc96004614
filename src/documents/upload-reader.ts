import type { Readable } from 'node:stream';
import { HttpStatus } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppError, ErrorCode } from '../common/errors.js';

export interface Upload {
  filename: string;
  content: Buffer;
  conversationId?: string;
}

export function uploadTooLarge(maxBytes: number, what = 'A document'): AppError {
  return new AppError(HttpStatus.PAYLOAD_TOO_LARGE, ErrorCode.PAYLOAD_TOO_LARGE, `${what} may be at most ${maxBytes} bytes`);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Reads a multipart upload: the `file` part (at most maxBytes, else 413) and an optional
 * `conversationId` field, in either order. Busboy stops buffering at the limit but still reads
 * the rest of the request, so the client gets the 413 rather than a reset connection.
 */
export async function readUpload(request: FastifyRequest, maxBytes: number): Promise<Upload> {
  if (!request.isMultipart()) {
    throw new AppError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Send the file as multipart/form-data');
  }
  const parts = request.parts({ limits: { fileSize: maxBytes, files: 1, fields: 4, fieldSize: 256 } });
  let upload: Partial<Upload> = {};
  let truncated = false;
  for await (const part of parts) {
    if (part.type === 'file') {
      const content = await readAll(part.file);
      truncated ||= part.file.truncated;
      if (part.fieldname === 'file') upload = { ...upload, filename: part.filename, content };
    } else if (part.fieldname === 'conversationId' && typeof part.value === 'string' && part.value) {
      upload.conversationId = part.value;
    }
  }
  if (truncated) throw uploadTooLarge(maxBytes);
  if (!upload.content) throw new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Validation failed', { file: ['file is required'] });
  return { filename: upload.filename ?? '', content: upload.content, ...(upload.conversationId && { conversationId: upload.conversationId }) };
}
