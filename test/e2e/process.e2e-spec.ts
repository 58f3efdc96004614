import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type QueryResultRow } from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type AppProcess, freePort, spawnApp, waitForStatus } from '../support/process.js';

/** The embedded database serves only the process that runs it: read it once that process has stopped. */
async function embeddedQuery<T extends QueryResultRow>(dataDir: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const db = await EmbeddedPostgres.start({ dataDir });
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
    await db.stop();
  }
}

const running: AppProcess[] = [];
afterEach(() => {
  for (const app of running.splice(0)) app.child.kill('SIGKILL');
});

function start(env: Record<string, string>, port: number): AppProcess {
  const app = spawnApp(env, port);
  running.push(app);
  return app;
}

describe('the built server on embedded PostgreSQL', () => {
  it('becomes ready, keeps its data across a restart and stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentchat-process-'));
    const port = await freePort();

    const first = start({ DATA_DIR: dataDir, SHUTDOWN_DRAIN_MS: '1500' }, port);
    const startupMs = await waitForStatus(`${first.baseUrl}/health/ready`, 200);
    expect(startupMs).toBeLessThan(15_000);
    const registered = await fetch(`${first.baseUrl}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'persist@example.com', password: 'correct horse battery staple', displayName: 'Persist' }),
    });
    expect(registered.status).toBe(201);
    const { accessToken } = (await registered.json()) as { accessToken: string };

    first.child.kill('SIGTERM');
    // While draining, readiness already says 503 so a load balancer stops sending traffic.
    await waitForStatus(`${first.baseUrl}/health/ready`, 503, 1400);
    const stoppedAt = Date.now();
    expect(await first.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(first.output()).toContain('Stopped cleanly');

    const second = start({ DATA_DIR: dataDir }, port);
    await waitForStatus(`${second.baseUrl}/health/ready`, 200);
    // The generated secret survived too: a token issued before the restart still works.
    const me = await fetch(`${second.baseUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);

    const rows = await embeddedQuery<{ display_name: string }>(
      dataDir,
      `SELECT display_name FROM users WHERE email = 'persist@example.com'`,
    );
    expect(rows).toEqual([{ display_name: 'Persist' }]);
    const migrations = await embeddedQuery(dataDir, 'SELECT name FROM migrations');
    // Each applied once, not again by the restart.
    expect(migrations).toHaveLength(MIGRATIONS.length);
  });

  it('refuses to open a data directory another running instance holds', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentchat-lock-'));
    const first = start({ DATA_DIR: dataDir }, await freePort());
    await waitForStatus(`${first.baseUrl}/health/ready`, 200);

    const second = start({ DATA_DIR: dataDir }, await freePort());
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain('is in use by process');
    await waitForStatus(`${first.baseUrl}/health/ready`, 200);
  });

  it.each([
    [{ PORT: 'eighty' }, 'Invalid environment variable PORT'],
    [{ NODE_ENV: 'production' }, 'Missing environment variable JWT_SECRET'],
    [{ NODE_ENV: 'production', JWT_SECRET: 'too-short' }, 'JWT_SECRET: must be at least 32 bytes'],
    [{ MCP_CONFIG: '/nonexistent/mcp.json' }, 'Invalid MCP_CONFIG: cannot read /nonexistent/mcp.json (ENOENT)'],
    [
      { WORKFLOWS_CONFIG: JSON.stringify({ w: { description: 'd', inputSchema: { type: 'array' }, url: 'https://hooks.example.com/w', secret: 'whsec-0123456789abcdef' } }) },
      'Invalid WORKFLOWS_CONFIG: the inline JSON at w.inputSchema: the input schema does not describe an object',
    ],
  ])('exits with a one-line error for bad settings %o', async (env, message) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentchat-config-'));
    const app = start({ DATA_DIR: dataDir, ...env }, await freePort());
    expect(await app.exited).toBe(1);
    expect(app.output().trim()).toBe(app.output().trim().split('\n')[0]);
    expect(app.output()).toContain(message);
  });

  it('marks a run left running by a killed process as interrupted, keeping its checkpointed text', async () => {
    const fake = await new FakeOpenAI().start();
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 400 }, (_, i) => `word${i} `), delayMs: 25 });
    try {
      const dataDir = mkdtempSync(join(tmpdir(), 'agentchat-crash-'));
      const port = await freePort();
      const env = { DATA_DIR: dataDir, AGENT_PROVIDER: 'openai', OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'test', AGENT_CHECKPOINT_MS: '100' };
      const first = start(env, port);
      await waitForStatus(`${first.baseUrl}/health/ready`, 200);
      const call = async (app: AppProcess, method: string, path: string, token?: string, body?: unknown) => {
        const response = await fetch(`${app.baseUrl}/api/v1${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return (await response.json()) as Record<string, any>;
      };
      const { accessToken } = await call(first, 'POST', '/auth/register', undefined, { email: 'crash@example.com', password: 'correct horse battery', displayName: 'C' });
      const conversation = await call(first, 'POST', '/conversations', accessToken, {});
      const sent = await call(first, 'POST', `/conversations/${conversation.id}/messages`, accessToken, { content: 'tell me a long story' });
      const runId = sent.run.id as string;

      // Killed once the reply has a checkpoint of some text.
      const checkpointed = async () => {
        const history = await call(first, 'GET', `/conversations/${conversation.id}/messages`, accessToken);
        const text: string = history.items.find((m: { runId: string | null }) => m.runId === runId)?.content ?? '';
        return text.length >= 20 && text;
      };
      const partial = await vi.waitUntil(checkpointed, { timeout: 10_000, interval: 50 });
      first.child.kill('SIGKILL');
      await first.exited;

      const second = start(env, port);
      await waitForStatus(`${second.baseUrl}/health/ready`, 200);
      const run = await call(second, 'GET', `/conversations/${conversation.id}/runs/${runId}`, accessToken);
      expect(run).toMatchObject({ status: 'interrupted', error: { code: 'INTERRUPTED' }, finishedAt: expect.any(String) });
      const history = await call(second, 'GET', `/conversations/${conversation.id}/messages`, accessToken);
      const reply = history.items.find((m: { runId: string | null }) => m.runId === runId);
      expect(reply.status).toBe('interrupted');
      expect(reply.content.startsWith(partial)).toBe(true);
      expect(reply.content).toMatch(/^(word\d+ )+/);
    } finally {
      await fake.stop();
    }
  });
});
