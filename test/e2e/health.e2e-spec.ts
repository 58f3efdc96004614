import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadinessService } from '../../src/health/readiness.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('health, metrics and cross-cutting HTTP behaviour', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ CORS_ORIGINS: 'https://dashboard.example.com' });
  });
  afterAll(() => t?.close());

  it('GET /health/live answers 200 in terminus format, without the API prefix', async () => {
    const response = await t.http('/health/live');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok' });
    expect((await t.http('/api/v1/health/live')).status).toBe(404);
  });

  it('GET /health/ready checks the database', async () => {
    const response = await t.http('/health/ready');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    expect(response.body.info).not.toHaveProperty('redis');
  });

  it('GET /metrics exposes default process metrics and a request histogram by route pattern', async () => {
    await t.http('/health/live');
    await t.http('/api/v1/does-not-exist/12345');
    const response = await t.http('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(response.text).toContain('process_cpu_seconds_total');
    expect(response.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/health\/live",status_code="200"\} \d+/);
    // Unmatched URLs share one label, so scanners cannot blow up the series count.
    expect(response.text).toContain('route="unmatched",status_code="404"');
    expect(response.text).not.toContain('12345');
  });

  it('answers unknown routes with the common error shape and a request id', async () => {
    const response = await t.http('/api/v1/nothing-here');
    expect(response.status).toBe(404);
    expect(response.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'NOT_FOUND',
      message: expect.any(String),
      requestId: response.headers.get('x-request-id'),
    });
  });

  it('echoes a sane x-request-id and replaces a hostile one', async () => {
    const echoed = await t.http('/api/v1/nothing-here', { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-abc.123');
    expect(echoed.body.requestId).toBe('trace-abc.123');

    const hostile = await t.http('/api/v1/nothing-here', { headers: { 'x-request-id': '<script>alert(1)</script>' } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sets security headers', async () => {
    const response = await t.http('/health/live');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(response.headers.get('x-powered-by')).toBeNull();
  });

  it('allows CORS only for configured origins', async () => {
    const preflight = (origin: string) =>
      t.http('/api/v1/conversations', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const allowed = await preflight('https://dashboard.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://dashboard.example.com');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');

    const denied = await preflight('https://evil.example.com');
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('serves Swagger UI and a valid OpenAPI 3 document with the bearer scheme', async () => {
    const ui = await t.http('/api/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger-ui');

    const document = await t.http('/api/docs-json');
    expect(document.status).toBe(200);
    expect(document.body.openapi).toMatch(/^3\./);
    expect(document.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(document.body.paths)).toContain('/health/ready');
    expect(Object.keys(document.body.paths)).not.toContain('/metrics');
  });

  it('reports 503 on readiness as soon as shutdown begins, with the failing check named', async () => {
    t.app.get(ReadinessService).markShuttingDown();
    const response = await t.http('/health/ready');
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ status: 'error', error: { shutdown: { status: 'down' } } });
    expect((await t.http('/health/live')).status).toBe(200);
  });
});

describe('readiness with Redis configured', () => {
  it('is 503 while Redis is unreachable, naming Redis', async () => {
    const t = await startTestApp({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const response = await t.http('/health/ready');
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({
        status: 'error',
        info: { database: { status: 'up' } },
        error: { redis: { status: 'down' } },
      });
    } finally {
      await t.close();
    }
  });

  it.runIf(process.env.TEST_REDIS_URL)('is 200 with a reachable Redis', async () => {
    const t = await startTestApp({ REDIS_URL: process.env.TEST_REDIS_URL! });
    try {
      let response = await t.http('/health/ready');
      for (let i = 0; i < 20 && response.status !== 200; i++) {
        await new Promise((done) => setTimeout(done, 100));
        response = await t.http('/health/ready');
      }
      expect(response.status).toBe(200);
      expect(response.body.info).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });
    } finally {
      await t.close();
    }
  });
});
