import { HttpStatus, ValidationPipe, type ValidationError } from '@nestjs/common';
import { AppError, ErrorCode, type FieldErrors } from '../errors.js';

/** class-validator's names of the rules on a value's size or shape, which only apply to the right type. */
const SIZE_RULES = new Set(['isLength', 'minLength', 'maxLength', 'min', 'max', 'arrayMinSize', 'arrayMaxSize', 'matches']);

/**
 * The messages worth showing for one field: a missing or wrong-typed value gets only what it
 * should be ("content must be a string"), not every length, range or pattern rule it also fails.
 */
function messagesFor(constraints: Record<string, string>): string[] {
  const failed = Object.entries(constraints);
  const fundamental = failed.filter(([name]) => !SIZE_RULES.has(name));
  return (fundamental.length ? fundamental : failed).map(([, message]) => message);
}

/** Flattens class-validator's tree into `{ "agent.mode": ["…"] }`. */
export function toFieldErrors(errors: ValidationError[], prefix = ''): FieldErrors {
  const fields: FieldErrors = {};
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) fields[path] = messagesFor(error.constraints);
    if (error.children?.length) Object.assign(fields, toFieldErrors(error.children, path));
  }
  return fields;
}

export function validationFailed(errors: ValidationError[]): AppError {
  return new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Validation failed', toFieldErrors(errors));
}

/**
 * Strict validation of every DTO: unknown fields are rejected, not silently dropped — unless a
 * body is meant to carry fields of its client's own (`allowUnknownFields`: they are dropped).
 */
export function createValidationPipe({ allowUnknownFields = false } = {}): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: !allowUnknownFields,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationFailed,
  });
}
