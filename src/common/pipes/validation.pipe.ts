import { type ArgumentMetadata, HttpStatus, ValidationPipe, type ValidationError } from '@nestjs/common';
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

/** Query strings remembered per DTO class, and the longest one remembered. */
const QUERY_MEMO_ENTRIES = 1000;
const QUERY_MEMO_KEY_LENGTH = 256;

type Fields = Record<string, unknown>;
type QueryClass = new () => object;

/** Primitive values and arrays of them: a copy of them is as good as a fresh transformation. */
function flatFields(value: object): Fields | undefined {
  const fields: Fields = {};
  for (const [name, field] of Object.entries(value)) {
    const flat = Array.isArray(field) ? field.every((item) => item === null || typeof item !== 'object') : field === null || typeof field !== 'object';
    if (!flat) return undefined;
    fields[name] = field;
  }
  return fields;
}

/**
 * Clients ask with the same few query strings over and over (`?limit=50`), and transforming and
 * validating one costs more than the rest of a cached read. A query DTO's rules are pure
 * functions of the string, so a query string that passed is remembered per DTO class (bounded;
 * failures are not remembered and fail afresh) and answered with a new instance of its result.
 */
class QueryMemoValidationPipe extends ValidationPipe {
  private readonly passed = new WeakMap<QueryClass, Map<string, Fields>>();

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const type = metadata.metatype as QueryClass | undefined;
    if (metadata.type !== 'query' || !type || typeof value !== 'object' || value === null || !this.toValidate(metadata)) return super.transform(value, metadata);
    const key = JSON.stringify(value);
    const memo = this.passed.get(type) ?? new Map<string, Fields>();
    const known = memo.get(key);
    if (known) {
      const instance: Fields = Object.assign(new type(), known);
      for (const name in known) if (Array.isArray(known[name])) instance[name] = [...known[name]];
      return instance;
    }
    const result = (await super.transform(value, metadata)) as object;
    const fields = key.length <= QUERY_MEMO_KEY_LENGTH ? flatFields(result) : undefined;
    if (fields) {
      if (memo.size >= QUERY_MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
      memo.set(key, fields);
      this.passed.set(type, memo);
    }
    return result;
  }
}

/**
 * Strict validation of every DTO: unknown fields are rejected, not silently dropped — unless a
 * body is meant to carry fields of its client's own (`allowUnknownFields`: they are dropped).
 */
export function createValidationPipe({ allowUnknownFields = false } = {}): ValidationPipe {
  return new QueryMemoValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: !allowUnknownFields,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationFailed,
  });
}
