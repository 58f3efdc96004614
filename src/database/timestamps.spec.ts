import * as fc from 'fast-check';
import { types } from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from './timestamps.js';

// The driver's own parser (postgres-date), whatever is registered now.
const driverParser = types.getTypeParser(1184) as (text: string) => Date | number | null;
const driver = (text: string) => driverParser(text);
const NEVER = () => {
  throw new Error('fell back');
};
const same = (a: unknown, b: unknown) => (a instanceof Date && b instanceof Date ? Object.is(a.getTime(), b.getTime()) : Object.is(a, b));

const pad = (value: number, size = 2) => String(value).padStart(size, '0');

/** A timestamptz as PostgreSQL writes it (DateStyle ISO): fraction without trailing zeros, zone ±HH[:MM[:SS]]. */
const timestamptz = fc
  .record({
    year: fc.integer({ min: 100, max: 9999 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
    micros: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 999_999 })),
    zone: fc.record({ sign: fc.constantFrom('+', '-'), hours: fc.integer({ min: 0, max: 15 }), minutes: fc.constantFrom(null, 0, 15, 30, 45), seconds: fc.constantFrom(null, 0, 7, 59) }),
  })
  .map(({ year, month, day, hour, minute, second, micros, zone }) => {
    // PostgreSQL drops the fraction's trailing zeros.
    let fraction = micros ? `.${pad(micros, 6)}` : '';
    while (fraction.endsWith('0')) fraction = fraction.slice(0, -1);
    const minutes = zone.minutes === null && zone.seconds === null ? '' : `:${pad(zone.minutes ?? 0)}`;
    const seconds = zone.seconds === null || !minutes ? '' : `:${pad(zone.seconds)}`;
    return `${pad(year, 4)}-${pad(month)}-${pad(day)} ${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}${zone.sign}${pad(zone.hours)}${minutes}${seconds}`;
  });

describe('parseTimestamptz', () => {
  it('reads what PostgreSQL writes as the driver does, to the millisecond, without falling back', () => {
    fc.assert(
      fc.property(timestamptz, (text) => {
        const ours = parseTimestamptz(text, NEVER);
        expect(same(ours, driver(text)), `${text}: ${String(ours)} vs ${String(driver(text))}`).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('answers anything else as the driver does', () => {
    const odd = fc.oneof(
      fc.string(),
      fc.constantFrom('infinity', '-infinity', '0099-01-01 00:00:00+00', '0001-01-01 00:00:00+00 BC', '12026-01-01 00:00:00+00', '2026-01-01 00:00:00.+00', '2026-01-01 00:00:00+0', '2026-01-01 00:00:00Z'),
      timestamptz.map((text) => `${text} BC`),
      timestamptz.chain((text) => fc.nat({ max: text.length - 1 }).map((at) => `${text.slice(0, at)}x${text.slice(at + 1)}`)),
    );
    fc.assert(
      fc.property(odd, (text) => {
        expect(same(parseTimestamptz(text, driver), driver(text)), text).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});
