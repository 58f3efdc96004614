import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { isDatabaseUnavailable, isInvalidValue } from '../../database/database-errors.js';
import { AppError, codeForStatus, ErrorCode, RateLimitedError } from '../errors.js';
import { redactUrl } from '../logging/logger.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
  requestId: string;
}

type Described = Omit<ErrorBody, 'requestId' | 'error'>;

/** Fastify's own errors (body parsing, limits) carry a statusCode and an FST_ code. */
function fromFastifyError(error: { statusCode: number; code?: string; message: string }): Described {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, code: ErrorCode.PAYLOAD_TOO_LARGE, message: 'Request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { statusCode: 415, code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, message: 'Unsupported content type' };
    case 'FST_ERR_CTP_INVALID_JSON':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { statusCode: 400, code: ErrorCode.VALIDATION, message: 'Malformed JSON body' };
    default:
      return { statusCode: error.statusCode, code: codeForStatus(error.statusCode), message: error.message };
  }
}

function fromHttpException(exception: HttpException): Described {
  const statusCode = exception.getStatus();
  if (exception instanceof AppError) {
    return { statusCode, code: exception.code, message: exception.message, ...(exception.details && { details: exception.details }) };
  }
  const response = exception.getResponse();
  const raw = typeof response === 'object' && response !== null ? (response as { message?: unknown }).message : response;
  const message = Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : exception.message;
  return { statusCode, code: codeForStatus(statusCode), message };
}

export function describeError(exception: unknown): Described {
  if (exception instanceof HttpException) return fromHttpException(exception);
  const candidate = exception as { statusCode?: unknown; code?: unknown; message?: unknown } | null;
  if (
    candidate &&
    typeof candidate.statusCode === 'number' &&
    candidate.statusCode >= 400 &&
    candidate.statusCode < 500 &&
    typeof candidate.message === 'string'
  ) {
    return fromFastifyError(candidate as { statusCode: number; code?: string; message: string });
  }
  if (isInvalidValue(exception)) {
    // The database's own text names columns and values: only say which kind of problem it was.
    return { statusCode: 400, code: ErrorCode.VALIDATION, message: 'A value is not valid for its field (for example a NUL character in text or a malformed cursor)' };
  }
  if (isDatabaseUnavailable(exception)) {
    return { statusCode: 503, code: ErrorCode.UNAVAILABLE, message: 'Service temporarily unavailable, try again shortly' };
  }
  return { statusCode: 500, code: ErrorCode.INTERNAL, message: 'Internal server error' };
}

/**
 * The one place HTTP errors are shaped: `{statusCode, error, code, message, details?, requestId}`.
 * Unexpected errors are logged with their stack and reach the client as a bare 500.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const described = describeError(exception);
    if (described.statusCode >= 500) {
      const stack = exception instanceof Error ? exception.stack : String(exception);
      this.logger.error(`${request.method} ${request.routeOptions?.url ?? redactUrl(request.url)} failed [${request.id}]`, stack);
    }
    if (exception instanceof RateLimitedError) void reply.header('retry-after', String(exception.retryAfterSeconds));
    if (described.statusCode === HttpStatus.SERVICE_UNAVAILABLE && !reply.hasHeader('retry-after')) {
      void reply.header('retry-after', '5');
    }
    const body: ErrorBody = {
      statusCode: described.statusCode,
      error: STATUS_CODES[described.statusCode] ?? 'Error',
      code: described.code,
      message: described.message,
      ...(described.details && { details: described.details }),
      requestId: String(request.id),
    };
    void reply.status(described.statusCode).send(body);
  }
}
