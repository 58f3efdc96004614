import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { PASSWORD } from '../support/auth.js';
import { browserAvailable, launchChromium, needBrowser } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const EXAMPLE = resolve(import.meta.dirname, '../../examples/web');
const ARTIFACTS = resolve(import.meta.dirname, '../../test-results/web-example');
const WAIT_MS = 15_000;

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

/** The built example on an origin of its own (another loopback port), as a static host would serve it. */
async function serveStatic(root: string): Promise<{ origin: string; server: Server }> {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    readFile(file).then(
      (body) => response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A message row as the page renders it: what two users must agree on. */
interface Row {
  id: string;
  role: string;
  status: string;
  version: string;
  text: string;
}

/** An element as the in-page functions below read it (the tests' tsconfig has no DOM types). */
interface InPageElement {
  dataset: Record<string, string | undefined>;
  querySelector(selector: string): { textContent: string | null } | null;
}

/** Runs in the page: its message rows, top to bottom. */
function readRows(): Row[] {
  const { document } = globalThis as unknown as { document: { querySelectorAll(selector: string): ArrayLike<InPageElement> } };
  return Array.from(document.querySelectorAll('#messages > li'), (li) => {
    const { id = '', role = '', status = '', version = '' } = li.dataset;
    return { id, role, status, version, text: li.querySelector('.text')?.textContent ?? '' };
  });
}

const rendered = (page: Page): Promise<Row[]> => page.evaluate(readRows);

/** Until the page renders exactly these rows. */
async function waitForRows(page: Page, rows: Row[]): Promise<void> {
  await page.waitForFunction(`JSON.stringify((${readRows.toString()})()) === ${JSON.stringify(JSON.stringify(rows))}`);
}

describe('the web example (examples/web) in a real browser', () => {
  let t: TestApp;
  let fake: FakeOpenAI;
  let out: string;
  let web: Awaited<ReturnType<typeof serveStatic>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const gates: (() => void)[] = [];

  beforeAll(async () => {
    if (!browserAvailable) return;
    out = await mkdtemp(join(tmpdir(), 'web-example-'));
    web = await serveStatic(out);
    fake = await new FakeOpenAI().start();
    // Short pings: a browser that lost the network is noticed (by it and by the server) within seconds.
    t = await startTestApp({
      CORS_ORIGINS: web.origin,
      AGENT_PROVIDER: 'openai',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'test',
      WS_PING_INTERVAL_MS: '1000',
      WS_PING_TIMEOUT_MS: '1000',
    });
    // The API's origin is the build's, as a deployment sets it (Vite reads VITE_* from the
    // environment); NODE_ENV is Vitest's "test" otherwise, which Vite builds as development.
    const { NODE_ENV } = process.env;
    Object.assign(process.env, { VITE_API_URL: t.baseUrl, NODE_ENV: 'production' });
    try {
      await build({ root: EXAMPLE, logLevel: 'warn', build: { outDir: out, emptyOutDir: true, sourcemap: false } });
    } finally {
      delete process.env.VITE_API_URL;
      process.env.NODE_ENV = NODE_ENV;
    }
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    for (const release of gates) release();
    for (const context of contexts) await context.close();
    await browser?.close();
    await t?.close();
    await fake?.stop();
    web?.server.close();
    if (out) await rm(out, { recursive: true, force: true });
  });

  /** A paused reply of the fake model: its first chunk streams, the rest once the gate opens. */
  function pausedReply(chunks: string[]): () => void {
    let release!: () => void;
    fake.enqueue({ kind: 'text', chunks, pauseAfter: { chunks: 1, until: new Promise<void>((done) => (release = done)) } });
    gates.push(release);
    return release;
  }

  /**
   * A new browser profile (its own storage and network) signed up through the page's form, opened
   * at `path`; `hosts` collects the host of every request the page sends.
   */
  async function signUp(name: string, path = '/'): Promise<{ page: Page; context: BrowserContext; userId: string; email: string; hosts: Set<string> }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    if (process.env.TEST_BROWSER_CONSOLE) page.on('console', (message) => process.stderr.write(`[${name}] ${message.type()}: ${message.text()}\n`));
    const hosts = new Set<string>();
    page.on('request', (request) => hosts.add(new URL(request.url()).host));
    await page.goto(`${web.origin}${path}`);
    const email = `${name.toLowerCase()}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
    await page.fill('#auth [name=email]', email);
    await page.fill('#auth [name=password]', PASSWORD);
    await page.fill('#auth [name=displayName]', name);
    await page.click('#auth button[value=register]');
    await page.waitForSelector('#connection[data-state=connected]');
    const userId = (await page.getAttribute('#me', 'data-user-id'))!;
    return { page, context, userId, email, hosts };
  }

  async function createConversation(page: Page, title: string, agent = ''): Promise<string> {
    await page.fill('#new-conversation [name=title]', title);
    await page.selectOption('#new-conversation [name=agent]', agent);
    await page.click('#new-conversation button[type=submit]');
    await page.waitForSelector('#conversation[data-live=true]');
    await expect.poll(() => page.textContent('#title')).toBe(title);
    return (await page.getAttribute('#conversation', 'data-conversation-id'))!;
  }

  async function send(page: Page, content: string): Promise<void> {
    await page.fill('#composer [name=content]', content);
    await page.click('#composer button[type=submit]');
  }

  const row = (page: Page, role: string, text?: string) => page.locator(`#messages > li[data-role=${role}]`, text === undefined ? {} : { hasText: text });
  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

  it('talks only to the API it was built for, whatever ?api= says, and remembers none', async (ctx) => {
    if (!needBrowser(ctx)) return;
    const elsewhere = 'https://evil.example';
    const { page, hosts } = await signUp('Eve', `/?api=${encodeURIComponent(elsewhere)}`);
    expect([...hosts].sort()).toEqual([new URL(web.origin).host, new URL(t.baseUrl).host].sort());
    const keys = await page.evaluate(() => {
      const { localStorage } = globalThis as unknown as { localStorage: { length: number; key(index: number): string | null } };
      return Array.from({ length: localStorage.length }, (_, i) => localStorage.key(i));
    });
    expect(keys).toEqual([`agent-chat.tokens ${new URL(t.baseUrl).origin}`]);
  }, 60_000);

  it('answers /calc 2+2 with the builtin agent through its tool, and shows it again after signing out and in', async (ctx) => {
    if (!needBrowser(ctx)) return;
    const { page, email } = await signUp('Ada');
    const conversationId = await createConversation(page, 'Arithmetic', 'builtin');
    await send(page, '/calc 2+2');
    const reply = row(page, 'assistant').last();
    await reply.and(page.locator('[data-status=complete]')).waitFor();
    expect(await reply.locator('.text').textContent()).toBe('2+2 = 4');
    expect(await reply.locator('.tool').allTextContents()).toEqual(['tool: calculator']);
    expect(await row(page, 'user').locator('.text').allTextContents()).toEqual(['/calc 2+2']);
    await shot(page, 'calc');

    // Signed out and in again: the conversation is there to open.
    await page.click('#sign-out');
    await page.waitForSelector('#auth:not([hidden])');
    await page.fill('#auth [name=email]', email);
    await page.fill('#auth [name=password]', PASSWORD);
    await page.click('#auth button[value=login]');
    await page.click(`#conversations li[data-id="${conversationId}"] button`);
    await row(page, 'assistant', '2+2 = 4').waitFor();
  }, 60_000);

  it('keeps two users in step: presence, typing, a cancelled reply, and catching up after being offline for a reply and an edit', async (ctx) => {
    if (!needBrowser(ctx)) return;
    const ada = await signUp('Ada');
    const bob = await signUp('Bob');
    const conversationId = await createConversation(ada.page, 'Team');
    await ada.page.fill('#add-participant [name=userId]', bob.userId);
    await ada.page.click('#add-participant button[type=submit]');
    // Being added reaches Bob's list live (conversation:updated to his own sockets).
    await bob.page.click(`#conversations li[data-id="${conversationId}"] button`);
    await bob.page.waitForSelector('#conversation[data-live=true]');

    // Presence: each sees the other online.
    await ada.page.waitForSelector(`#presence li[data-user-id="${bob.userId}"][data-online=true]`);
    await bob.page.waitForSelector(`#presence li[data-user-id="${ada.userId}"][data-online=true]`);

    // Typing: Bob types, Ada sees it; Bob stops, it goes away.
    await bob.page.locator('#composer [name=content]').pressSequentially('hel');
    await ada.page.waitForSelector(`#typing[data-users*="${bob.userId}"]`);
    expect(await ada.page.textContent('#typing')).toMatch(/is typing/);
    await shot(ada.page, 'typing');
    await bob.page.fill('#composer [name=content]', '');
    await ada.page.waitForSelector('#typing[data-users=""]', { state: 'attached' });

    // A reply streams to both; Bob stops it and both see it cancelled.
    pausedReply(['Once upon ', 'a time, ', 'the end.']);
    await send(ada.page, 'Tell us a story');
    for (const { page } of [ada, bob]) await row(page, 'assistant', 'Once upon').and(page.locator('[data-status=streaming]')).waitFor();
    await shot(bob.page, 'streaming');
    await row(bob.page, 'assistant', 'Once upon').locator('[data-action=cancel]').click();
    for (const { page } of [ada, bob]) await row(page, 'assistant', 'Once upon').and(page.locator('[data-status=cancelled]')).waitFor();

    // Bob goes offline for the whole of the next reply and an edit of Ada's.
    const loaded = await bob.page.evaluate(() => performance.timeOrigin);
    await bob.context.setOffline(true);
    await bob.page.waitForSelector('#connection[data-state=disconnected]');
    await ada.page.waitForSelector(`#presence li[data-user-id="${bob.userId}"][data-online=false]`);
    const bobBefore = await rendered(bob.page);

    const release = pausedReply(['Caught ', 'while ', 'away.']);
    await send(ada.page, 'Question');
    await row(ada.page, 'assistant', 'Caught').and(ada.page.locator('[data-status=streaming]')).waitFor();
    await row(ada.page, 'user', 'Question').locator('[data-action=edit]').click();
    await ada.page.fill('#messages form.edit [name=content]', 'Question (edited)');
    await ada.page.click('#messages form.edit button[type=submit]');
    await row(ada.page, 'user', 'Question (edited)').waitFor();
    release();
    await row(ada.page, 'assistant', 'Caught while away.').and(ada.page.locator('[data-status=complete]')).waitFor();
    const adaRows = await rendered(ada.page);
    expect(adaRows.map((r) => `${r.role}:${r.status}:${r.text}`)).toEqual([
      'user:complete:Tell us a story',
      'assistant:cancelled:Once upon ',
      'user:complete:Question (edited)',
      'assistant:complete:Caught while away.',
    ]);
    // Nothing of it reached Bob while he was offline.
    expect(await rendered(bob.page)).toEqual(bobBefore);
    await shot(bob.page, 'offline');

    // Back online: Bob's page catches up by itself (no reload) and shows exactly what Ada's does.
    await bob.context.setOffline(false);
    await waitForRows(bob.page, adaRows);
    await bob.page.waitForSelector('#conversation[data-live=true]');
    expect(await rendered(bob.page)).toEqual(adaRows);
    expect(await bob.page.evaluate(() => performance.timeOrigin)).toBe(loaded);
    await ada.page.waitForSelector(`#presence li[data-user-id="${bob.userId}"][data-online=true]`);
    await shot(ada.page, 'caught-up-ada');
    await shot(bob.page, 'caught-up-bob');

    // And both agree with the server.
    const token = await bob.page.evaluate((key) => {
      const { localStorage } = globalThis as unknown as { localStorage: { getItem(key: string): string | null } };
      return (JSON.parse(localStorage.getItem(key)!) as { accessToken: string }).accessToken;
    }, `agent-chat.tokens ${new URL(t.baseUrl).origin}`);
    const changes = await t.http(`/api/v1/conversations/${conversationId}/changes?afterVersion=0&limit=500`, { token });
    const server = (changes.body.items as { id: string; content: string; status: string; version: number; deletedAt: string | null }[])
      .filter((m) => !m.deletedAt)
      .map((m) => ({ id: m.id, status: m.status, version: String(m.version), text: m.content }));
    expect(server.sort((a, b) => a.id.localeCompare(b.id))).toEqual(adaRows.map(({ id, status, version, text }) => ({ id, status, version, text })).sort((a, b) => a.id.localeCompare(b.id)));
  }, 90_000);
});
