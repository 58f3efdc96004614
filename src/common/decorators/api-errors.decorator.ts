import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../dto/error-response.dto.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (see details)',
  401: 'Missing, invalid or expired credentials',
  403: 'Not allowed',
  404: 'Not found, or not visible to the caller',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  429: 'Too many requests (see Retry-After)',
  503: 'Temporarily unavailable',
};

/** Documents the error responses of an operation, all in the common error shape. */
export const ApiErrors = (...statuses: number[]) =>
  applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status] ?? 'Error', type: ErrorResponseDto }),
    ),
  );
