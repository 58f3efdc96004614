import { HttpException, HttpStatus } from '@nestjs/common';

/** Per-field validation messages: `{ "email": ["email must be an email"] }`. */
export type FieldErrors = Record<string, string[]>;

/**
 * An error meant for the client: HTTP status, a stable machine code clients can branch on, and a
 * message people can read. Anything else that escapes a handler is reported as INTERNAL.
 */
export class AppError extends HttpException {
  constructor(
    status: HttpStatus,
    readonly code: ErrorCodeValue,
    message: string,
    readonly details?: FieldErrors | Record<string, unknown>,
  ) {
    super(message, status);
  }
}

/** A 400 VALIDATION naming one field and what is wrong with it, as the validation pipe reports fields. */
export function fieldError(field: string, message: string): AppError {
  return new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Validation failed', { [field]: [message] });
}

/** 429 with the number of seconds to wait (the Retry-After header over HTTP). */
export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    code: ErrorCodeValue = 'RATE_LIMITED',
  ) {
    super(HttpStatus.TOO_MANY_REQUESTS, code, message, { retryAfterSeconds });
  }
}

/** Codes shared by HTTP responses and Socket.IO acknowledgements: the generic ones, then the specific ones. */
export const ErrorCode = {
  VALIDATION: 'VALIDATION',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
  /** Any other client error status (for example 405 or 406). */
  ERROR: 'ERROR',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  INVALID_REFRESH_TOKEN: 'INVALID_REFRESH_TOKEN',
  SESSION_REVOKED: 'SESSION_REVOKED',
  TICKET_INVALID: 'TICKET_INVALID',
  EMAIL_TAKEN: 'EMAIL_TAKEN',
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  CONVERSATION_NOT_FOUND: 'CONVERSATION_NOT_FOUND',
  PARTICIPANT_NOT_FOUND: 'PARTICIPANT_NOT_FOUND',
  MESSAGE_NOT_FOUND: 'MESSAGE_NOT_FOUND',
  MESSAGE_ID_REUSED: 'MESSAGE_ID_REUSED',
  RUN_NOT_FOUND: 'RUN_NOT_FOUND',
  DOCUMENT_NOT_FOUND: 'DOCUMENT_NOT_FOUND',
  APPROVAL_NOT_FOUND: 'APPROVAL_NOT_FOUND',
  APPROVAL_DECIDED: 'APPROVAL_DECIDED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  STORAGE_QUOTA_EXCEEDED: 'STORAGE_QUOTA_EXCEEDED',
  UNKNOWN_EVENT: 'UNKNOWN_EVENT',
  NOT_JOINED: 'NOT_JOINED',
  DISCONNECTED: 'DISCONNECTED',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes only Socket.IO acknowledgements carry: they name events and joins, which HTTP has not. */
const SOCKET_ONLY_CODES: readonly ErrorCodeValue[] = [ErrorCode.UNKNOWN_EVENT, ErrorCode.NOT_JOINED, ErrorCode.DISCONNECTED];

/** Every `code` an HTTP error body can carry (the OpenAPI document's enum). */
export const HTTP_ERROR_CODES: readonly ErrorCodeValue[] = Object.values(ErrorCode).filter((code) => !SOCKET_ONLY_CODES.includes(code));

/** The code used when an error carries none of its own. */
export function codeForStatus(status: number): ErrorCodeValue {
  switch (status) {
    case 400:
      return ErrorCode.VALIDATION;
    case 401:
      return ErrorCode.UNAUTHORIZED;
    case 403:
      return ErrorCode.FORBIDDEN;
    case 404:
      return ErrorCode.NOT_FOUND;
    case 409:
      return ErrorCode.CONFLICT;
    case 413:
      return ErrorCode.PAYLOAD_TOO_LARGE;
    case 415:
      return ErrorCode.UNSUPPORTED_MEDIA_TYPE;
    case 429:
      return ErrorCode.RATE_LIMITED;
    case 503:
      return ErrorCode.UNAVAILABLE;
    default:
      return status >= 500 ? ErrorCode.INTERNAL : ErrorCode.ERROR;
  }
}
