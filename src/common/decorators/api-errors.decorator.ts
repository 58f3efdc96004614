import { applyDecorators } from '@nestjs/common';
import { ApiResponse, type ApiResponseOptions, getSchemaPath, type OpenAPIObject, type ResponseObject } from '@nestjs/swagger';
import { ErrorResponseDto, ServerClosingResponseDto } from '../dto/error-response.dto.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (see details)',
  401: 'Missing, invalid or expired credentials, or a session that has ended (SESSION_REVOKED)',
  403: 'Not allowed',
  404: 'Not found, or not visible to the caller',
  408: 'The request body stopped arriving',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  415: 'Unsupported content type (JSON only)',
  429: 'Too many requests (RATE_LIMITED): wait Retry-After seconds. A used-up daily agent quota (QUOTA_EXCEEDED) resets at midnight UTC, without Retry-After',
  500: 'Unexpected failure (logged with the requestId)',
  503: 'Temporarily unavailable (the database cannot be reached, or this instance is shutting down): retry after Retry-After seconds',
};

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
} as const;

function errorResponse(status: number): ApiResponseOptions {
  return {
    status,
    description: DESCRIPTIONS[status] ?? 'Error',
    type: ErrorResponseDto,
    ...(status === 429 && { headers: RETRY_AFTER }),
  };
}

/** Documents the error responses of an operation, all in the common error shape. */
export const ApiErrors = (...statuses: number[]) => applyDecorators(...statuses.map((status) => ApiResponse(errorResponse(status))));

/** What any operation may answer: 500 on a bug, 503 when the database is down or the server is stopping. */
export const GLOBAL_ERROR_RESPONSES: ApiResponseOptions[] = [
  errorResponse(500),
  {
    status: 503,
    description: DESCRIPTIONS[503],
    headers: RETRY_AFTER,
    schema: { anyOf: [{ $ref: getSchemaPath(ErrorResponseDto) }, { $ref: getSchemaPath(ServerClosingResponseDto) }] },
  },
];

export const ERROR_MODELS = [ErrorResponseDto, ServerClosingResponseDto];

const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete']);
const BODY_ERRORS = [400, 413, 415];

/**
 * Any request that may carry a body can fail before its handler runs: malformed JSON (400), a
 * body over the limit (413) or of another type than JSON (415). Added to every such operation.
 */
export function addBodyErrors(document: OpenAPIObject): void {
  for (const item of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!BODY_METHODS.has(method)) continue;
      const responses = (operation as { responses: Record<string, ResponseObject> }).responses;
      for (const status of BODY_ERRORS) {
        responses[status] ??= {
          description: DESCRIPTIONS[status]!,
          content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) } } },
        };
      }
    }
  }
}
