import { describe, expect, it } from 'vitest';
import { analyticsRange, bucketStarts } from './analytics-range.js';

const NOW = new Date('2025-03-15T13:45:00Z');

describe('analyticsRange', () => {
  it('defaults to the 30 UTC days that end with today, or the 24 hours that end with this one', () => {
    expect(analyticsRange({}, NOW)).toEqual({ from: new Date('2025-02-14T00:00:00Z'), to: new Date('2025-03-16T00:00:00Z'), interval: 'day' });
    expect(analyticsRange({ interval: 'hour' }, NOW)).toEqual({ from: new Date('2025-03-14T14:00:00Z'), to: new Date('2025-03-15T14:00:00Z'), interval: 'hour' });
  });

  it('reads dates as UTC midnight and date-times at their offset', () => {
    expect(analyticsRange({ from: '2025-03-01', to: '2025-03-02T02:00:00+02:00' }, NOW)).toMatchObject({ from: new Date('2025-03-01T00:00:00Z'), to: new Date('2025-03-02T00:00:00Z') });
  });

  it.each([
    [{ from: '2025-02-29', to: '2025-03-02' }, 'from', /not a valid date/],
    [{ from: '2025-03-01T06:00:00Z', to: '2025-03-02' }, 'from', /UTC midnight/],
    [{ from: '2025-03-01T06:30:00Z', to: '2025-03-01T08:00:00Z', interval: 'hour' as const }, 'from', /whole hour/],
    [{ from: '2025-03-02', to: '2025-03-02' }, 'to', /after from/],
    [{ from: '2024-01-01', to: '2025-01-02' }, 'to', /366 days/],
    [{ from: '2025-03-01T00:00:00Z', to: '2025-03-08T01:00:00Z', interval: 'hour' as const }, 'to', /7 days/],
  ])('refuses %o, naming %s', (query, field, message) => {
    expect(() => analyticsRange(query, NOW)).toThrow(expect.objectContaining({ details: { [field]: [expect.stringMatching(message)] } }));
  });

  it('accepts exactly 366 days', () => {
    expect(bucketStarts(analyticsRange({ from: '2024-01-01', to: '2025-01-01' }, NOW))).toHaveLength(366);
  });
});
