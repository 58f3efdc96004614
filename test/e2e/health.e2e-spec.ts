import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.factory.js';
import { AppConfig } from '../../src/config/app-config.js';
import { ReadinessService } from '../../src/health/readiness.service.js';
import { createTestDatabase } from '../support/database.js';
import { waitForStatus } from '../support/process.js';
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

  it('lets the dashboard origin edit and delete, and read the headers it needs', async () => {
    const origin = 'https://dashboard.example.com';
    for (const method of ['PATCH', 'PUT', 'DELETE']) {
      const preflight = await t.http('/api/v1/conversations/00000000-0000-4000-8000-000000000000', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-methods')?.split(/, */)).toContain(method);
    }
    const response = await t.http('/api/v1/nothing-here', { headers: { origin } });
    const exposed = response.headers.get('access-control-expose-headers')?.toLowerCase().split(/, */);
    expect(exposed).toEqual(expect.arrayContaining(['content-disposition', 'retry-after', 'x-request-id']));
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
      // Ready once the connection to Redis is up.
      await waitForStatus(`${t.baseUrl}/health/ready`, 200, 5_000);
      const response = await t.http('/health/ready');
      expect(response.status).toBe(200);
      expect(response.body.info).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });
    } finally {
      await t.close();
    }
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  const token = 'metrics-token-0123456789abcdef';
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ METRICS_TOKEN: token });
  });
  afterAll(() => t?.close());

  it('serves the metrics to a scraper presenting the token', async () => {
    const response = await t.http('/metrics', { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(response.text).toContain('process_cpu_seconds_total');
  });

  it.each([
    ['no credentials', {}],
    ['a wrong token', { authorization: 'Bearer metrics-token-0123456789abcdeX' }],
    ['a prefix of the token', { authorization: `Bearer ${token.slice(0, -1)}` }],
    ['another scheme', { authorization: `Basic ${token}` }],
  ])('answers 401 in the error shape to %s', async (_name, headers: Record<string, string>) => {
    const response = await t.http('/metrics', { headers });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(response.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      code: 'UNAUTHORIZED',
      message: expect.any(String),
      requestId: response.headers.get('x-request-id'),
    });
    expect(response.text).not.toContain('process_cpu_seconds_total');
  });

  it('leaves the probes public', async () => {
    expect((await t.http('/health/live')).status).toBe(200);
    expect((await t.http('/health/ready')).status).toBe(200);
  });
});

describe('METRICS_TOKEN in production', () => {
  const production = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48) };

  async function startupWarnings(env: Record<string, string>): Promise<string[]> {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const database = await createTestDatabase();
    const config = AppConfig.fromEnv({
      DATA_DIR: 'memory://',
      ...(database.url ? { DATABASE_URL: database.url } : {}),
      ...production,
      ...env,
    });
    const app = await createApp(config, { logger });
    await app.close();
    await database.drop();
    return lines.map((line) => JSON.parse(line).msg as string);
  }

  it('warns at start-up that /metrics is public when no token is set', async () => {
    expect(await startupWarnings({})).toContainEqual(expect.stringContaining('METRICS_TOKEN'));
    expect(await startupWarnings({ METRICS_TOKEN: 'metrics-token-0123456789abcdef' })).not.toContainEqual(expect.stringContaining('METRICS_TOKEN'));
  });

  it('refuses a token too short to be a secret', () => {
    expect(() => AppConfig.fromEnv({ ...production, METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
  });
});
