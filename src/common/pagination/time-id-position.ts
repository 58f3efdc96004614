/** A keyset position of pages ordered by a timestamp, then an id: [ISO timestamp, UUID]. */
export type TimeIdPosition = [at: string, id: string];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Date and time in full, with an explicit offset: without one, the database would read the time
// in the session's time zone, and the page would start somewhere else.
const OFFSET_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?(?:Z|[+-](\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * Whether the text is an ISO 8601 timestamp with an offset (`2024-01-01T12:00:00.000Z`,
 * `…+02:00`) naming a real instant: no date alone, no local time, no 30 February or 24:00.
 */
export function isOffsetTimestamp(text: string): boolean {
  const match = OFFSET_TIMESTAMP.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second, offsetHours = 0, offsetMinutes = 0] = match.slice(1).map((part) => Number(part ?? 0));
  return (
    year! >= 1 &&
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= daysInMonth(year!, month!) &&
    hour! <= 23 &&
    minute! <= 59 &&
    second! <= 59 &&
    offsetHours <= 14 &&
    offsetMinutes <= 59
  );
}

/** Checks a decoded cursor (see decodeCursor) that holds a TimeIdPosition. */
export function isTimeIdPosition(values: unknown[]): values is TimeIdPosition {
  return values.length === 2 && typeof values[0] === 'string' && isOffsetTimestamp(values[0]) && typeof values[1] === 'string' && UUID.test(values[1]);
}
