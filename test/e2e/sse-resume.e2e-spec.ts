import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, type Registered } from '../support/auth.js';
import { assertDocumentedFetch } from '../support/openapi-validator.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

describe('SSE resume point', () => {
  let t: TestApp;
  let user: Registered;
  let conversationId: string;
  beforeAll(async () => {
    t = await startTestApp();
    user = await register(t);
    conversationId = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { agent: { mode: 'off' } } })).body.id;
    for (const content of ['one', 'two', 'three']) {
      await t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token: user.accessToken, json: { content } });
    }
  });
  afterAll(() => t?.close());

  /** Opens the stream and reads only the status line and headers. */
  async function open(headers: Record<string, string> = {}, query = '') {
    const controller = new AbortController();
    const response = await fetch(new URL(`${API}/conversations/${conversationId}/events${query}`, t.baseUrl), {
      headers: { authorization: `Bearer ${user.accessToken}`, accept: 'text/event-stream', ...headers },
      signal: controller.signal,
    });
    await assertDocumentedFetch(response);
    const contentType = response.headers.get('content-type') ?? '';
    const body = contentType.includes('json') ? await response.json() : undefined;
    controller.abort();
    return { status: response.status, contentType, body, requestId: response.headers.get('x-request-id') };
  }

  // Three messages: the conversation is at version 3, its last seq is 3.
  it.each([
    ['a Last-Event-ID that is not a number', { 'last-event-id': "1' OR 1=1" }, ''],
    ['a negative Last-Event-ID', { 'last-event-id': '-1' }, ''],
    ['a fractional Last-Event-ID', { 'last-event-id': '1.5' }, ''],
    ['a Last-Event-ID beyond any integer', { 'last-event-id': '9'.repeat(30) }, ''],
    ["a Last-Event-ID past the conversation's version", { 'last-event-id': '4' }, ''],
    ["an afterVersion past the conversation's version", {}, '?afterVersion=4'],
    ['a malformed afterVersion', {}, '?afterVersion=abc'],
    ['an afterVersion beyond any integer', {}, `?afterVersion=${'9'.repeat(30)}`],
    ['an afterSeq past the last message', {}, '?afterSeq=4'],
    ['a malformed afterSeq', {}, '?afterSeq=abc'],
    ['a valid afterVersion with an out-of-range Last-Event-ID', { 'last-event-id': '99' }, '?afterVersion=1'],
  ])('refuses %s with 400 VALIDATION before the stream opens', async (_name, headers: Record<string, string>, query) => {
    const response = await open(headers, query);
    expect(response.status).toBe(400);
    expect(response.contentType).not.toContain('text/event-stream');
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'VALIDATION', details: expect.any(Object), requestId: response.requestId });
  });

  it.each([
    ['no resume point', {}, ''],
    ['the current version as Last-Event-ID', { 'last-event-id': '3' }, ''],
    ['Last-Event-ID 0', { 'last-event-id': '0' }, ''],
    ['the current version as afterVersion', {}, '?afterVersion=3'],
    ['the last seq as the deprecated afterSeq', {}, '?afterSeq=3'],
  ])('opens the stream with %s', async (_name, headers: Record<string, string>, query) => {
    const response = await open(headers, query);
    expect(response.status).toBe(200);
    expect(response.contentType).toContain('text/event-stream');
  });
});
