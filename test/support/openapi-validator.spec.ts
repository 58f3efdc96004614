import { describe, expect, it } from 'vitest';
import { OpenApiValidator } from './openapi-validator.js';

const validator = new OpenApiValidator();
const json = { 'content-type': 'application/json; charset=utf-8' };
const user = { id: '0b0e2f5c-7f55-4c8e-9f0a-3d1f0c2b8a11', email: 'ada@example.com', displayName: 'Ada', role: 'user', createdAt: '2026-01-01T00:00:00.000Z' };
const check = (method: string, path: string, status: number, body: unknown, headers: Record<string, string> = json) =>
  validator.problems({ method, path, status, headers: new Headers(headers), text: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body) });
const error = (statusCode: number, code: string) => ({ statusCode, error: 'Error', code, message: 'm', requestId: 'r' });

describe('OpenApiValidator', () => {
  it('accepts a documented status with a matching body, path parameters and query strings matched', () => {
    expect(check('GET', '/api/v1/auth/me', 200, user)).toEqual([]);
    expect(check('GET', '/api/v1/conversations/3fa85f64-5717-4562-b3fc-2c963f66afa6?x=1', 404, error(404, 'CONVERSATION_NOT_FOUND'))).toEqual([]);
    expect(check('DELETE', '/api/v1/auth/me', 204, undefined, {})).toEqual([]);
  });

  it('refuses a status the operation does not document', () => {
    expect(check('GET', '/api/v1/auth/me', 418, error(418, 'ERROR'))).toEqual([expect.stringContaining('status not documented')]);
  });

  it('refuses a body off its schema: a wrong type, a missing field, a field not listed, a code not in the enum', () => {
    expect(check('GET', '/api/v1/auth/me', 200, { ...user, role: 'root' })).not.toEqual([]);
    expect(check('GET', '/api/v1/auth/me', 200, { ...user, email: undefined })).not.toEqual([]);
    expect(check('GET', '/api/v1/auth/me', 200, { ...user, passwordHash: 'x' })).not.toEqual([]);
    expect(check('GET', '/api/v1/auth/me', 401, error(401, 'NOPE'))).not.toEqual([]);
  });

  it('refuses a media type the status does not document, and a body where none is documented', () => {
    expect(check('GET', '/api/v1/auth/me', 200, 'hi', { 'content-type': 'text/plain' })).toEqual([expect.stringContaining('media type text/plain')]);
    expect(check('DELETE', '/api/v1/auth/me', 204, 'x', {})).toEqual([expect.stringContaining('without a body')]);
  });

  it('checks an event stream by its media type', () => {
    expect(check('GET', '/api/v1/conversations/3fa85f64-5717-4562-b3fc-2c963f66afa6/events', 200, '', { 'content-type': 'text/event-stream' })).toEqual([]);
  });

  it('lets unknown paths answer only the common 404, and skips what the document leaves out on purpose', () => {
    expect(check('GET', '/api/v1/nothing-here', 404, error(404, 'NOT_FOUND'))).toEqual([]);
    expect(check('GET', '/api/v1/nothing-here', 200, {})).not.toEqual([]);
    expect(check('GET', '/metrics', 200, '# HELP', { 'content-type': 'text/plain' })).toEqual([]);
  });
});
