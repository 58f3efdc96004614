import { HttpStatus } from '@nestjs/common';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode } from '../errors.js';
import { decodeCursor, encodeCursor } from './cursor.js';

// A fixed seed: the same cases on every run, so a failure in CI reproduces anywhere.
fc.configureGlobal({ seed: 20_261_201 });

type Position = [string, number];
const isPosition = (values: unknown[]): values is Position => values.length === 2 && typeof values[0] === 'string' && Number.isInteger(values[1]);
const isScalars = (values: unknown[]): values is (string | number)[] => values.every((value) => typeof value === 'string' || typeof value === 'number');

const base64url = (text: string) => Buffer.from(text).toString('base64url');

/** What decodeCursor makes of a cursor: accepted, or the status, code and message it was refused with. */
function outcome(cursor: string): string {
  try {
    return isPosition(decodeCursor<Position>(cursor, isPosition)) ? 'accepted' : 'accepted an invalid position';
  } catch (error) {
    return error instanceof AppError ? `${error.getStatus()} ${error.code}: ${error.message}` : `crashed: ${String(error)}`;
  }
}

describe('cursors', () => {
  it('decode to exactly the values they were encoded from', () => {
    // -0 is left out: JSON has no negative zero.
    const scalar = fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((value) => !Object.is(value, -0)));
    fc.assert(
      fc.property(fc.array(scalar, { maxLength: 6 }), (values) => {
        expect(decodeCursor(encodeCursor(values), isScalars)).toEqual(values);
      }),
    );
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true }), fc.uuid(), (at, id) => {
        expect(decodeCursor(encodeCursor([at.toISOString(), id]), (values): values is [string, string] => values.length === 2)).toEqual([at.toISOString(), id]);
      }),
    );
  });

  it('answer anything else with a 400 VALIDATION error, never another error', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 2_000 }),
      fc.base64String({ maxLength: 400 }),
      fc.string({ unit: 'binary' }).map(base64url),
      fc.jsonValue().map((value) => base64url(JSON.stringify(value))),
      fc.constantFrom('{"__proto__":{"polluted":1}}', '[]', '[null,1]', '["a",1.5]', '["a","1"]', '[1e999,1]', 'null', '"', '\u0000').map(base64url),
      fc.integer({ min: 1, max: 100_000 }).map((depth) => base64url(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
    );
    fc.assert(
      fc.property(hostile, (cursor) => {
        expect(['accepted', `${HttpStatus.BAD_REQUEST} ${ErrorCode.VALIDATION}: Invalid cursor`]).toContain(outcome(cursor));
      }),
      { numRuns: 300 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
