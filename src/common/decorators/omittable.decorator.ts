import { ValidateIf } from 'class-validator';

/**
 * The field may be left out, but not sent as null: unlike @IsOptional(), which skips every check
 * for null too and would let a null reach a NOT NULL column (a 500 instead of a 400).
 */
export function Omittable(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}
