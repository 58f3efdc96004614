import { types } from 'pg';

/** PostgreSQL's type oid of timestamptz. */
const TIMESTAMPTZ = 1184;

type Parsed = Date | number | null;

/** The text digits at text[start, start + count) as a number; NaN if one is not a digit. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let index = start; index < start + count; index++) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

/** Where the digits from `start` end. */
function digitsEnd(text: string, start: number): number {
  let index = start;
  while (index < text.length && text.charCodeAt(index) >= 48 && text.charCodeAt(index) <= 57) index++;
  return index;
}

/**
 * The offset in milliseconds of a zone written `±HH`, `±HH:MM` or `±HH:MM:SS` from `start` to the
 * end of the text; NaN for anything else.
 */
function zoneOffset(text: string, start: number): number {
  const sign = text.charCodeAt(start) === 43 ? 1 : text.charCodeAt(start) === 45 ? -1 : 0;
  const length = text.length - start - 1;
  if (!sign || (length !== 2 && length !== 5 && length !== 8)) return Number.NaN;
  let seconds = digits(text, start + 1, 2) * 3600;
  for (let at = start + 3; at < text.length; at += 3) {
    if (text.charCodeAt(at) !== 58) return Number.NaN;
    seconds += digits(text, at + 1, 2) * (at === start + 3 ? 60 : 1);
  }
  return sign * seconds * 1000;
}

/**
 * A timestamptz as PostgreSQL writes it with DateStyle ISO (`2026-12-02 05:18:50.98+00`,
 * `…+05:30`), read without regular expressions: the driver's parser (postgres-date) showed as 5 %
 * of the CPU of serving a page of history. The same Date, by the same arithmetic; whatever else
 * (BC dates, infinity, years before 100 or after 9999) goes to `fallback`, the driver's parser.
 */
export function parseTimestamptz(text: string, fallback: (text: string) => Parsed): Parsed {
  if (
    text.length < 22 ||
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 32 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  ) {
    return fallback(text);
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const fractionEnd = text.charCodeAt(19) === 46 ? digitsEnd(text, 20) : 19;
  const offset = zoneOffset(text, fractionEnd);
  // NaN (a character that is not a digit, a zone of another shape) makes the sum NaN.
  if (year < 100 || fractionEnd === 20 || Number.isNaN(offset + year + month + day + hour + minute + second)) return fallback(text);
  // As the driver does: the fraction as milliseconds (Date.UTC drops what is below one), then the zone.
  const milliseconds = fractionEnd > 19 ? 1000 * Number(text.slice(19, fractionEnd)) : 0;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, milliseconds) - offset);
}

/** pg's own timestamptz parser, kept once (before ours replaces it) as the fallback. */
const driverParser = types.getTypeParser(TIMESTAMPTZ) as (text: string) => Parsed;

/** Makes the driver read timestamptz columns with parseTimestamptz (process-wide, like every pg type parser; idempotent). */
export function useFastTimestamps(): void {
  types.setTypeParser(TIMESTAMPTZ, (text: string) => parseTimestamptz(text, driverParser));
}
