const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'ENOENT', 'EHOSTUNREACH']);
/** SQLSTATE classes and codes that mean "the server is not there right now", not "your query is wrong". */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * True when an error means the database cannot be reached (connection refused, dropped, timed
 * out, shutting down) rather than a problem with the statement itself.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
    }
    if (
      typeof message === 'string' &&
      /Connection terminated|connection timeout|timeout exceeded when trying to connect|Connection is not established|Client has encountered a connection error/i.test(
        message,
      )
    ) {
      return true;
    }
    current = (current as { driverError?: unknown; cause?: unknown }).driverError ?? (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * True when the database rejected a value itself (SQLSTATE class 22, "data exception": a NUL
 * byte in text, a malformed timestamp, a number out of range) — a bad input, not a server fault.
 */
export function isInvalidValue(error: unknown): boolean {
  return hasSqlState(error, (code) => /^22[0-9A-Z]{3}$/.test(code));
}

/** SQLSTATEs of a transaction the database aborted only to resolve a conflict with another one. */
const CONFLICT_SQLSTATES = new Set(['40P01', '40001']);

/**
 * True when the database aborted the transaction because of a concurrent one (deadlock detected,
 * serialization failure): running the whole transaction again can succeed.
 */
export function isTransactionConflict(error: unknown): boolean {
  return hasSqlState(error, (code) => CONFLICT_SQLSTATES.has(code));
}

/** True when a write broke a unique constraint (SQLSTATE 23505): the row is already there. */
export function isUniqueViolation(error: unknown): boolean {
  return hasSqlState(error, (code) => code === '23505');
}

/**
 * True when the database answered a statement (run on its own, outside a transaction) with an
 * error: it was rolled back and nothing of it stays — a bad value, a broken constraint, a conflict,
 * a text too long to index. Not when the connection failed or the server went away (SQLSTATE
 * classes 08 and 57, network errors, no answer): the statement may have committed before.
 */
export function isRefusedStatement(error: unknown): boolean {
  return !isDatabaseUnavailable(error) && hasSqlState(error, (code) => /^(?!08|57)[0-9A-Z]{5}$/.test(code));
}

/** Whether the error, or one it wraps (TypeORM's driverError, a cause), carries a matching SQLSTATE. */
function hasSqlState(error: unknown, matches: (code: string) => boolean): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && matches(code)) return true;
    current = (current as { driverError?: unknown; cause?: unknown }).driverError ?? (current as { cause?: unknown }).cause;
  }
  return false;
}
