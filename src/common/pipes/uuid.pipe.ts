import { ParseUUIDPipe } from '@nestjs/common';
import { fieldError } from '../errors.js';

/** A path id that must be a UUID; anything else is a 400 in the common shape, naming the parameter. */
export function uuidParam(name: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () =>
      fieldError(name, `${name} must be a UUID`),
  });
}
