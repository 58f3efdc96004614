import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { type ErrorCodeValue, HTTP_ERROR_CODES } from '../errors.js';

function storageUsage(description: string) {
  return {
    type: 'object' as const,
    description,
    properties: { bytes: { type: 'integer' as const, minimum: 0 }, documents: { type: 'integer' as const, minimum: 0 } },
    required: ['bytes', 'documents'],
    additionalProperties: false,
  };
}

/** The body of every error response. */
export class ErrorResponseDto {
  @ApiProperty({ type: 'integer', example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request', description: 'HTTP reason phrase' })
  error!: string;

  @ApiProperty({
    enum: HTTP_ERROR_CODES,
    enumName: 'ErrorCode',
    example: 'VALIDATION',
    description: 'Stable machine-readable code: the generic code of the status, or a more specific one (EMAIL_TAKEN, SESSION_REVOKED, …)',
  })
  code!: ErrorCodeValue;

  @ApiProperty({ example: 'Validation failed' })
  message!: string;

  @ApiPropertyOptional({
    description:
      'VALIDATION: messages per field (`{"email": ["email must be an email"]}`); RATE_LIMITED: `retryAfterSeconds`; ' +
      'SESSION_REVOKED: the `reason` the session ended; STORAGE_QUOTA_EXCEEDED: the `scope`, its `quota` and what is `used`; ' +
      'APPROVAL_DECIDED: the `approvalStatus` and who `decidedBy`',
    example: { email: ['email must be an email'] },
    type: 'object',
    properties: {
      retryAfterSeconds: { type: 'integer', description: 'RATE_LIMITED: seconds to wait (as the Retry-After header)' },
      // A body field named `reason` (a denial's) has its validation messages under the same key.
      reason: {
        oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
        description: 'SESSION_REVOKED: why the session ended (VALIDATION: the messages of a `reason` field)',
      },
      approvalStatus: { type: 'string', enum: ['approved', 'denied', 'expired'], description: 'APPROVAL_DECIDED: how the call was decided' },
      decidedBy: { type: 'string', format: 'uuid', nullable: true, description: 'APPROVAL_DECIDED: who decided it (null: it expired or its account is gone)' },
      scope: { type: 'string', enum: ['user', 'conversation'], description: "STORAGE_QUOTA_EXCEEDED: the quota that is full, the uploader's or the conversation's" },
      quota: storageUsage('STORAGE_QUOTA_EXCEEDED: the quota, in bytes and in documents'),
      used: storageUsage('STORAGE_QUOTA_EXCEEDED: what is used, without the refused upload'),
    },
    additionalProperties: { type: 'array', items: { type: 'string' } },
  })
  details?: Record<string, unknown>;

  @ApiProperty({ example: 'f1c5b0d2-6a55-4c43-9a55-0f7d3c1e8a10', description: 'Echo of x-request-id' })
  requestId!: string;
}

/**
 * A request that reaches an instance that is shutting down is refused by the HTTP server before the
 * app sees it: a 503 in this shorter shape (no code, no requestId).
 */
export class ServerClosingResponseDto {
  @ApiProperty({ type: 'integer', example: 503 })
  statusCode!: number;

  @ApiProperty({ example: 'Service Unavailable' })
  error!: string;

  @ApiProperty({ example: 'Service Unavailable' })
  message!: string;
}
