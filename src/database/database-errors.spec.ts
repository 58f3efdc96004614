import { describe, expect, it } from 'vitest';
import { isRefusedStatement } from './database-errors.js';

const sqlError = (code: string, message = 'error') => Object.assign(new Error(message), { code });
/** TypeORM wraps the driver's error. */
const wrapped = (driverError: Error) => Object.assign(new Error('QueryFailedError'), { driverError });

describe('isRefusedStatement', () => {
  it.each([
    ['a bad value', '22P05'],
    ['a unique violation', '23505'],
    ['a deadlock', '40P01'],
    ['a text too long to index', '54000'],
    ['an internal error', 'XX000'],
  ])('is true for an answer of the database: %s', (_, code) => {
    expect(isRefusedStatement(sqlError(code))).toBe(true);
    expect(isRefusedStatement(wrapped(sqlError(code)))).toBe(true);
  });

  it.each([
    ['a connection failure', sqlError('08006')],
    ['an administrator shutdown', sqlError('57P01')],
    ['a reset connection', sqlError('ECONNRESET')],
    ['a broken pipe', sqlError('EPIPE')],
    ['a connection ended under the query', new Error('Connection terminated unexpectedly')],
    ['no code at all', new Error('something')],
  ])('is false where the statement may have committed: %s', (_, error) => {
    expect(isRefusedStatement(error)).toBe(false);
    expect(isRefusedStatement(wrapped(error))).toBe(false);
  });
});
