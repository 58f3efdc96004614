import { HttpStatus, ValidationPipe, type ValidationError } from '@nestjs/common';
import { AppError, ErrorCode, type FieldErrors } from '../errors.js';

/** Flattens class-validator's tree into `{ "agent.mode": ["…"] }`. */
export function toFieldErrors(errors: ValidationError[], prefix = ''): FieldErrors {
  const fields: FieldErrors = {};
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) fields[path] = Object.values(error.constraints);
    if (error.children?.length) Object.assign(fields, toFieldErrors(error.children, path));
  }
  return fields;
}

export function validationFailed(errors: ValidationError[]): AppError {
  return new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Validation failed', toFieldErrors(errors));
}

/** Strict validation of every DTO: unknown fields are rejected, not silently dropped. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationFailed,
  });
}
