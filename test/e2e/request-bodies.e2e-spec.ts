import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, type Registered } from '../support/auth.js';
import { startTestApp, type TestApp, type TestResponse } from '../support/test-app.js';

const API = '/api/v1';

describe('request bodies', () => {
  let t: TestApp;
  let user: Registered;
  beforeAll(async () => {
    t = await startTestApp({ MESSAGE_RATE_LIMIT: '100000' });
    user = await register(t);
  });
  afterAll(() => t?.close());

  /** What a browser's fetch or a generic HTTP client sends for an action without a payload. */
  const emptyJson = (method: string, path: string, token = user.accessToken) =>
    t.http(`${API}${path}`, { method, token, headers: { 'content-type': 'application/json' } });
  const raw = (method: string, path: string, body: string) =>
    t.http(`${API}${path}`, { method, token: user.accessToken, headers: { 'content-type': 'application/json' }, body });
  const newConversation = async (json: unknown = { agent: { mode: 'off' } }) =>
    (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json })).body.id as string;

  function expectValidationError(response: TestResponse): void {
    expect(response.status).toBe(400);
    // details is optional: a body that is not JSON has no fields to name.
    expect({ ...response.body, details: undefined }).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'VALIDATION',
      message: expect.any(String),
      requestId: response.headers.get('x-request-id'),
    });
    expect(response.text).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d+/);
  }

  describe('an empty body with a JSON content type', () => {
    it('is accepted by DELETE and POST actions that take no payload', async () => {
      const id = await newConversation({});
      const sent = await t.http(`${API}/conversations/${id}/messages`, { method: 'POST', token: user.accessToken, json: { content: '/time' } });
      expect(sent.status).toBe(201);
      const cancelled = await emptyJson('POST', `/conversations/${id}/runs/${sent.body.run.id}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.id).toBe(sent.body.run.id);
      expect((await emptyJson('POST', `/conversations/${id}/messages/${sent.body.message.id}/regenerate`)).status).toBe(201);
      expect((await emptyJson('DELETE', `/conversations/${id}/messages/${sent.body.message.id}`)).status).toBe(204);
      expect((await emptyJson('DELETE', `/conversations/${id}`)).status).toBe(204);

      const leaving = await register(t);
      expect((await emptyJson('DELETE', '/auth/me', leaving.accessToken)).status).toBe(204);
    });

    it('still fails validation, in the error shape, where a body is required', async () => {
      const id = await newConversation();
      const send = await emptyJson('POST', `/conversations/${id}/messages`);
      expectValidationError(send);
      expect(send.body.details).toEqual({ content: ['content must be a string'] });

      const login = await t.http(`${API}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      expectValidationError(login);
      expect(Object.keys(login.body.details)).toEqual(expect.arrayContaining(['email', 'password']));
    });
  });

  describe('nesting depth (32 levels)', () => {
    const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const objects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

    it.each([
      ['10,000 nested arrays', arrays(10_000)],
      ['10,000 nested objects', objects(10_000)],
      ['nested arrays inside a field', `{"content":${arrays(10_000)}}`],
      ['33 levels', `{"content":${arrays(32)}}`],
    ])('rejects %s with 400 VALIDATION and no stack trace', async (_name, body) => {
      expect(Buffer.byteLength(body)).toBeLessThan(64 * 1024);
      const id = await newConversation();
      const response = await raw('POST', `/conversations/${id}/messages`, body);
      expectValidationError(response);
      expect(response.body.message).toBe('JSON body is nested deeper than 32 levels');
    });

    it('accepts 32 levels, and brackets inside strings do not count', async () => {
      const id = await newConversation();
      const atLimit = await raw('POST', `/conversations/${id}/messages`, `{"content":${arrays(31)}}`);
      expectValidationError(atLimit);
      expect(atLimit.body.details).toEqual({ content: ['content must be a string'] });

      const brackets = `[[[{{{\\"${'['.repeat(1000)}`;
      const sent = await raw('POST', `/conversations/${id}/messages`, JSON.stringify({ content: brackets }));
      expect(sent.status).toBe(201);
      expect(sent.body.message.content).toBe(brackets);
    });

    it('keeps rejecting prototype poisoning', async () => {
      const id = await newConversation();
      const response = await raw('POST', `/conversations/${id}/messages`, '{"content":"hi","__proto__":{"isAdmin":true}}');
      expect(response.status).toBe(400);
      expectValidationError(response);
    });
  });

  describe('validation messages', () => {
    it('give one clear message for a missing or wrong-typed field, never an internal cap', async () => {
      const id = await newConversation();
      const send = (json: unknown) => t.http(`${API}/conversations/${id}/messages`, { method: 'POST', token: user.accessToken, json });
      expect((await send({})).body.details).toEqual({ content: ['content must be a string'] });
      expect((await send({ content: 42 })).body.details).toEqual({ content: ['content must be a string'] });
      expect((await send({ content: '' })).body.details).toEqual({ content: ['content must not be blank'] });
      expect((await send({ content: '   ' })).body.details).toEqual({ content: ['content must not be blank'] });

      const read = await t.http(`${API}/conversations/${id}/read`, { method: 'POST', token: user.accessToken, json: {} });
      expect(read.body.details).toEqual({ seq: ['seq must be an integer number'] });
      const negative = await t.http(`${API}/conversations/${id}/read`, { method: 'POST', token: user.accessToken, json: { seq: -1 } });
      expect(negative.body.details).toEqual({ seq: ['seq must not be less than 0'] });

      const registration = await t.http(`${API}/auth/register`, { method: 'POST', json: { email: 7 } });
      expect(registration.body.details).toEqual({
        email: ['email must be an email'],
        password: ['password must be a string'],
        displayName: ['displayName must be a string'],
      });

      const created = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 5, participantIds: 'x' } });
      expect(created.body.details.title).toEqual(['title must be a string']);
      expect(created.body.details.participantIds).not.toContainEqual(expect.stringContaining('100'));

      const patched = await t.http(`${API}/conversations/${id}`, { method: 'PATCH', token: user.accessToken, json: { agent: { systemPrompt: 1 } } });
      expect(patched.body.details).toEqual({ 'agent.systemPrompt': ['systemPrompt must be a string'] });

      for (const response of [await send({}), await send({ content: 42 }), read, registration]) {
        expect(response.text).not.toMatch(/1000000|2147483647/);
      }
    });
  });
});
