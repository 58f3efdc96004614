import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, type Registered } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A real browser enforces CORS (preflights, exposed headers); a test HTTP client does not.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
// CI installs Chromium and sets this, so a missing browser fails there instead of skipping.
const required = process.env.TEST_REQUIRE_BROWSER === 'true';

/** A dashboard page on an origin of its own (another loopback port). */
async function startDashboard(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>dashboard</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface FetchResult {
  status?: number;
  failed?: string;
  body?: unknown;
  headers?: Record<string, string | null>;
}

/** Runs fetch() in the page, as the dashboard's own script would. */
function browserFetch(page: Page, url: string, init: { method: string; token: string; json?: unknown; jsonTypeWithoutBody?: boolean }): Promise<FetchResult> {
  return page.evaluate(async ({ target, request }) => {
    const headers: Record<string, string> = { authorization: `Bearer ${request.token}` };
    if (request.json !== undefined || request.jsonTypeWithoutBody) headers['content-type'] = 'application/json';
    try {
      const response = await fetch(target, { method: request.method, headers, body: request.json === undefined ? undefined : JSON.stringify(request.json) });
      const text = await response.text();
      return {
        status: response.status,
        body: text ? JSON.parse(text) : undefined,
        headers: Object.fromEntries(['x-request-id', 'content-disposition', 'retry-after'].map((name) => [name, response.headers.get(name)])),
      };
    } catch (error) {
      return { failed: String(error) };
    }
  }, { target: url, request: init });
}

describe('CORS from a dashboard on another origin, in a real browser', () => {
  let t: TestApp;
  let user: Registered;
  let allowed: Awaited<ReturnType<typeof startDashboard>>;
  let denied: Awaited<ReturnType<typeof startDashboard>>;
  let profile: string;
  let context: BrowserContext;

  beforeAll(async () => {
    if (!available) {
      process.stderr.write(`Skipping the browser CORS tests: no Chromium at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium, or set CHROMIUM_PATH)\n`);
      return;
    }
    allowed = await startDashboard();
    denied = await startDashboard();
    t = await startTestApp({ CORS_ORIGINS: allowed.origin });
    user = await register(t);
    profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
    });
  }, 90_000);

  afterAll(async () => {
    await context?.close();
    await t?.close();
    allowed?.server.close();
    denied?.server.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  async function pageOn(origin: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    return page;
  }

  async function preflights(): Promise<number> {
    const metrics = await t.http('/metrics');
    const counts = [...metrics.text.matchAll(/^http_request_duration_seconds_count\{method="OPTIONS",[^}]*status_code="204"\} (\d+)$/gm)];
    return counts.reduce((sum, match) => sum + Number(match[1]), 0);
  }

  const newConversation = async () =>
    (await t.http('/api/v1/conversations', { method: 'POST', token: user.accessToken, json: { title: 'Draft', agent: { mode: 'off' } } })).body.id as string;

  it('lets the configured origin PATCH and DELETE after a preflight, and read the exposed headers', async (ctx) => {
    if (!available) {
      if (required) throw new Error(`Chromium is required here (TEST_REQUIRE_BROWSER=true) but ${CHROMIUM} does not exist`);
      return ctx.skip(`Chromium not found at ${CHROMIUM}: apt-get install -y --no-install-recommends chromium, or set CHROMIUM_PATH`);
    }
    const id = await newConversation();
    const page = await pageOn(allowed.origin);
    const before = await preflights();

    const patched = await browserFetch(page, `${t.baseUrl}/api/v1/conversations/${id}`, { method: 'PATCH', token: user.accessToken, json: { title: 'Renamed on the dashboard' } });
    expect(patched.failed).toBeUndefined();
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id, title: 'Renamed on the dashboard' });
    expect(patched.headers!['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const exported = await browserFetch(page, `${t.baseUrl}/api/v1/conversations/${id}/export?format=json`, { method: 'GET', token: user.accessToken });
    expect(exported.status).toBe(200);
    expect(exported.headers!['content-disposition']).toContain('attachment');

    const deleted = await browserFetch(page, `${t.baseUrl}/api/v1/conversations/${id}`, { method: 'DELETE', token: user.accessToken, jsonTypeWithoutBody: true });
    expect(deleted.failed).toBeUndefined();
    expect(deleted.status).toBe(204);
    expect((await t.http(`/api/v1/conversations/${id}`, { token: user.accessToken })).status).toBe(404);
    expect(await preflights()).toBeGreaterThanOrEqual(before + 2);
  });

  it('blocks another origin: the preflight fails and nothing is changed', async (ctx) => {
    if (!available) {
      if (required) throw new Error(`Chromium is required here (TEST_REQUIRE_BROWSER=true) but ${CHROMIUM} does not exist`);
      return ctx.skip(`Chromium not found at ${CHROMIUM}`);
    }
    const id = await newConversation();
    const page = await pageOn(denied.origin);
    const patched = await browserFetch(page, `${t.baseUrl}/api/v1/conversations/${id}`, { method: 'PATCH', token: user.accessToken, json: { title: 'Hijacked' } });
    expect(patched.failed).toMatch(/Failed to fetch/);
    const deleted = await browserFetch(page, `${t.baseUrl}/api/v1/conversations/${id}`, { method: 'DELETE', token: user.accessToken });
    expect(deleted.failed).toMatch(/Failed to fetch/);
    const unchanged = await t.http(`/api/v1/conversations/${id}`, { token: user.accessToken });
    expect(unchanged.status).toBe(200);
    expect(unchanged.body.title).toBe('Draft');
  });
});
