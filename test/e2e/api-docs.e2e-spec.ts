import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('API_DOCS=false', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_DOCS: 'false' });
  });
  afterAll(() => t?.close());

  it.each(['/api/docs', '/api/docs/', '/api/docs-json', '/api/docs-yaml'])('%s answers 404 in the usual error shape', async (path) => {
    const response = await t.http(path, { headers: { 'x-request-id': 'docs-off-1' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(response.body).toEqual({ statusCode: 404, error: 'Not Found', code: 'NOT_FOUND', message: `Cannot GET ${path}`, requestId: 'docs-off-1' });
  });

  it('changes nothing else: the API and health answer as usual', async () => {
    expect((await t.http('/health/live')).status).toBe(200);
    const registered = await t.http('/api/v1/auth/register', {
      method: 'POST',
      json: { email: 'docs-off@example.com', password: 'correct horse battery staple', displayName: 'Docs off' },
    });
    expect(registered.status).toBe(201);
  });
});
