import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, type Registered } from '../support/auth.js';
import { browserAvailable, launchBrowser, needBrowser, startDashboard } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A real browser enforces CORS (preflights, exposed headers); a test HTTP client does not.

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
        headers: Object.fromEntries(['x-request-id', 'content-disposition', 'retry-after', 'etag'].map((name) => [name, response.headers.get(name)])),
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
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let context: BrowserContext;

  beforeAll(async () => {
    if (!browserAvailable) return;
    allowed = await startDashboard();
    denied = await startDashboard();
    t = await startTestApp({ CORS_ORIGINS: allowed.origin });
    user = await register(t);
    browser = await launchBrowser();
    context = browser.context;
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    allowed?.server.close();
    denied?.server.close();
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
    if (!needBrowser(ctx)) return;
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

  it("lets the browser's own cache revalidate a page of history: 304 on the server, the page to the script, and the new page after a change", async (ctx) => {
    if (!needBrowser(ctx)) return;
    const id = await newConversation();
    for (const content of ['one', 'two']) await t.http(`/api/v1/conversations/${id}/messages`, { method: 'POST', token: user.accessToken, json: { content } });
    const page = await pageOn(allowed.origin);
    const notModified = async () => {
      const metrics = await t.http('/metrics');
      const counts = [...metrics.text.matchAll(/^http_request_duration_seconds_count\{method="GET",[^}]*status_code="304"\} (\d+)$/gm)];
      return counts.reduce((sum, match) => sum + Number(match[1]), 0);
    };
    const url = `${t.baseUrl}/api/v1/conversations/${id}/messages`;
    const contents = (result: FetchResult) => (result.body as { items: { content: string }[] }).items.map((m) => m.content);

    const first = await browserFetch(page, url, { method: 'GET', token: user.accessToken });
    expect(first.status).toBe(200);
    expect(first.headers!.etag).toMatch(/^"[\w-]{8}\.\d+\.\d+-/);
    const before = await notModified();
    const second = await browserFetch(page, url, { method: 'GET', token: user.accessToken });
    expect(second.status).toBe(200);
    expect(contents(second)).toEqual(['one', 'two']);
    expect(await notModified()).toBe(before + 1);

    await t.http(`/api/v1/conversations/${id}/messages`, { method: 'POST', token: user.accessToken, json: { content: 'three' } });
    const third = await browserFetch(page, url, { method: 'GET', token: user.accessToken });
    expect(contents(third)).toEqual(['one', 'two', 'three']);
    expect(third.headers!.etag).not.toBe(first.headers!.etag);
    expect(await notModified()).toBe(before + 1);
  });

  it('blocks another origin: the preflight fails and nothing is changed', async (ctx) => {
    if (!needBrowser(ctx)) return;
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
