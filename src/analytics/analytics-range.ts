import { fieldError } from '../common/errors.js';

export const ANALYTICS_INTERVALS = ['day', 'hour'] as const;
export type AnalyticsInterval = (typeof ANALYTICS_INTERVALS)[number];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Per interval: the bucket's length, the longest range asked at once, and the range when none is given. */
export const INTERVALS: Record<AnalyticsInterval, { bucketMs: number; maxMs: number; defaultMs: number; maxLabel: string }> = {
  day: { bucketMs: DAY_MS, maxMs: 366 * DAY_MS, defaultMs: 30 * DAY_MS, maxLabel: '366 days' },
  // Hours are read from the tables every time (rollups are daily): a week keeps that fast.
  hour: { bucketMs: HOUR_MS, maxMs: 7 * DAY_MS, defaultMs: DAY_MS, maxLabel: '7 days (168 hours)' },
};

export interface AnalyticsRange {
  from: Date;
  to: Date;
  interval: AnalyticsInterval;
}

/** The calendar date the value starts with exists (the Date constructor rolls 2025-02-30 over to March). */
function calendarDateExists(value: string): boolean {
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** An ISO 8601 date (UTC midnight) or date-time with its offset; the DTO has checked the format. */
function parseInstant(field: 'from' | 'to', value: string): Date {
  const at = new Date(value);
  if (Number.isNaN(at.getTime()) || !calendarDateExists(value)) throw fieldError(field, `${field} is not a valid date`);
  return at;
}

function checkAligned(field: 'from' | 'to', at: Date, interval: AnalyticsInterval): void {
  if (at.getTime() % INTERVALS[interval].bucketMs !== 0) {
    const unit = interval === 'day' ? 'a UTC midnight (buckets are UTC days)' : 'a whole hour';
    throw fieldError(field, `${field} must be ${unit} for interval=${interval}`);
  }
}

/**
 * The range of a report: `to` (exclusive) defaults to the end of the current bucket, `from` to one
 * default span before `to`. Both must fall on bucket boundaries, `from` before `to`, at most the
 * interval's longest range apart.
 */
export function analyticsRange(query: { from?: string; to?: string; interval?: AnalyticsInterval }, now: Date): AnalyticsRange {
  const interval = query.interval ?? 'day';
  const { bucketMs, maxMs, defaultMs, maxLabel } = INTERVALS[interval];
  const to = query.to === undefined ? new Date(Math.floor(now.getTime() / bucketMs) * bucketMs + bucketMs) : parseInstant('to', query.to);
  const from = query.from === undefined ? new Date(to.getTime() - defaultMs) : parseInstant('from', query.from);
  checkAligned('from', from, interval);
  checkAligned('to', to, interval);
  if (from.getTime() >= to.getTime()) throw fieldError('to', 'to must be after from');
  if (to.getTime() - from.getTime() > maxMs) throw fieldError('to', `the range must not exceed ${maxLabel} for interval=${interval}`);
  return { from, to, interval };
}

/** The start of every bucket of the range, in order. */
export function bucketStarts({ from, to, interval }: AnalyticsRange): Date[] {
  const { bucketMs } = INTERVALS[interval];
  const starts: Date[] = [];
  for (let at = from.getTime(); at < to.getTime(); at += bucketMs) starts.push(new Date(at));
  return starts;
}
