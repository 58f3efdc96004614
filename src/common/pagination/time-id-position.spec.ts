import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './cursor.js';
import { isOffsetTimestamp, isTimeIdPosition } from './time-id-position.js';

// A fixed seed: the same cases on every run, so a failure in CI reproduces anywhere.
fc.configureGlobal({ seed: 20_261_201 });

const ID = '0b6f3c2e-8d1a-4c5e-9f00-1234567890ab';
// Years the database and toISOString both write with four digits.
const instant = fc.date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
// The local time at any offset stays within four-digit years too.
const inner = fc.date({ min: new Date('0002-01-01T00:00:00.000Z'), max: new Date('9998-12-31T23:59:59.999Z'), noInvalidDate: true });
const pad = (value: number, width = 2) => String(value).padStart(width, '0');

describe('time and id keyset positions', () => {
  it('accept every position the services write, and the same instant at any offset', () => {
    fc.assert(
      fc.property(instant, fc.uuid(), (at, id) => {
        expect(decodeCursor(encodeCursor([at.toISOString(), id]), isTimeIdPosition)).toEqual([at.toISOString(), id]);
      }),
    );
    fc.assert(
      fc.property(inner, fc.integer({ min: -14 * 60, max: 14 * 60 }), (at, offsetMinutes) => {
        const local = new Date(at.getTime() + offsetMinutes * 60_000).toISOString().slice(0, -1);
        const sign = offsetMinutes < 0 ? '-' : '+';
        const offset = `${sign}${pad(Math.floor(Math.abs(offsetMinutes) / 60))}:${pad(Math.abs(offsetMinutes) % 60)}`;
        expect(isOffsetTimestamp(`${local}${offset}`), `${local}${offset}`).toBe(true);
      }),
    );
  });

  it('refuse a date alone, a time without an offset and dates or times that do not exist', () => {
    for (const at of [
      '2024-01-01',
      '2024-01-01T00:00:00',
      '2024-01-01T00:00:00.000',
      '2024-01-01 00:00:00Z',
      '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T00:60:00Z',
      '2024-01-01T00:00:00+15:00',
      '0000-01-01T00:00:00Z',
      '+012024-01-01T00:00:00Z',
      '2024-01-01T00:00:00.1234567Z',
      'yesterday',
    ]) {
      expect(isTimeIdPosition([at, ID]), at).toBe(false);
    }
    expect(isTimeIdPosition(['2024-02-29T23:59:59.999999-12:30', ID])).toBe(true);
  });

  it('refuse what is not a position of two strings, the second a UUID', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 4 }), (values) => {
        fc.pre(!(values.length === 2 && typeof values[0] === 'string' && isOffsetTimestamp(values[0]) && typeof values[1] === 'string'));
        expect(isTimeIdPosition(values)).toBe(false);
      }),
    );
    expect(isTimeIdPosition(['2024-01-01T00:00:00Z', 'not-a-uuid'])).toBe(false);
    expect(isTimeIdPosition(['2024-01-01T00:00:00Z', ID, 'extra'])).toBe(false);
  });
});
