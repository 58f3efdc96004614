import { HttpStatus } from '@nestjs/common';
import { AppError, ErrorCode } from '../errors.js';

/** Opaque keyset cursors: clients pass them back, never build or read them. */
export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor<T extends readonly unknown[]>(cursor: string, isValid: (values: unknown[]) => values is unknown[] & T): T {
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = undefined;
  }
  if (!Array.isArray(values) || !isValid(values)) {
    throw new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Invalid cursor', { cursor: ['cursor is not valid'] });
  }
  return values;
}
