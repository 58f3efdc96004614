import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { assertDocumentedFetch } from '../support/openapi-validator.js';
import { connectClient } from '../support/socket-client.js';
import { type AppProcess, freePort, spawnApp, waitForStatus } from '../support/process.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';
const ROOT = resolve(import.meta.dirname, '../..');
const DASHBOARD = join(ROOT, 'docker/grafana/agent-chat.json');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function samplesOf(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [, name, labels = '', value] = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line)!;
      return { name: name!, labels: Object.fromEntries([...labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, content]) => [key, content])), value: Number(value) };
    });
}

/** The sum of the samples of `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset']);

/** The metric names a PromQL expression reads: neither functions, aggregations, label names nor keywords. */
function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/[a-zA-Z_:][\w:]*/g)]
    .filter((match) => !/^\s*\(/.test(bare.slice(match.index + match[0].length)))
    .map((match) => match[0])
    .filter((name) => !PROMQL_WORDS.has(name));
}

/** Every PromQL expression of the dashboard, its rows' panels included. */
function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[]; panels?: unknown[] }[] };
  const panels = dashboard.panels.flatMap((panel) => [panel, ...((panel.panels ?? []) as typeof dashboard.panels)]);
  return panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
}

type LogLine = Record<string, unknown> & { msg?: string };

describe('operations: metrics and log lines of runs and streams', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let owner: Registered;
  const lines: LogLine[] = [];
  const labels = { provider: 'openai', model: 'fake-model' };

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
    t = await startTestApp(
      {
        AGENT_PROVIDER: 'openai',
        AGENT_MODEL: 'fake-model',
        OPENAI_BASE_URL: fake.url,
        OPENAI_API_KEY: 'sk-test-not-a-real-key',
        AGENT_RETRY_BASE_MS: '20',
        MESSAGE_RATE_LIMIT: '100000',
        WORKFLOWS_CONFIG: JSON.stringify({
          deploy: { description: 'Deploys a service', inputSchema: { type: 'object', properties: { service: { type: 'string' } } }, url: 'http://127.0.0.1:9/hook', secret: 'whsec-0123456789abcdef' },
        }),
      },
      { logger },
    );
    owner = await register(t, { displayName: 'Olive' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  afterEach(() => fake.reset());

  const scrape = async () => {
    const response = await t.http('/metrics');
    expect(response.status).toBe(200);
    return samplesOf(response.text);
  };
  const post = (path: string, json: unknown, by = owner) => t.http(`${API}${path}`, { method: 'POST', token: by.accessToken, json });
  const newConversation = async (by = owner) => (await post('/conversations', { title: 'ops' }, by)).body.id as string;
  const runEnd = (runId: string, msg = 'Run ended') => waitUntil(() => lines.find((line) => line.msg === msg && line.runId === runId), `the log line of run ${runId}`);
  const runOf = async (conversationId: string, runId: string) => (await t.http(`${API}/conversations/${conversationId}/runs/${runId}`, { token: owner.accessToken })).body;

  it('counts a completed run with its duration, time to first token and tokens, and logs it without its content', async () => {
    const before = await scrape();
    fake.enqueue({ kind: 'text', chunks: ['Secret ', 'plans ', 'inside'], usage: { prompt: 42, completion: 5 } });
    const id = await newConversation();
    const { body } = await post(`/conversations/${id}/messages?wait=true`, { content: 'Tell me the launch codes' });
    expect(body.run.status).toBe('completed');
    const after = await scrape();

    const delta = (name: string, extra: Record<string, string> = {}) => total(after, name, { ...labels, ...extra }) - total(before, name, { ...labels, ...extra });
    expect(delta('agent_runs_total', { status: 'completed' })).toBe(1);
    expect(delta('agent_runs_total', { status: 'failed' })).toBe(0);
    expect(delta('agent_run_duration_seconds_count', { status: 'completed' })).toBe(1);
    expect(delta('agent_time_to_first_token_seconds_count')).toBe(1);
    expect(delta('agent_tokens_total', { type: 'input' })).toBe(42);
    expect(delta('agent_tokens_total', { type: 'output' })).toBe(5);

    const line = await runEnd(body.run.id);
    expect(line).toMatchObject({ level: 30, context: 'Runs', runId: body.run.id, conversationId: id, ...labels, status: 'completed', resumed: false, inputTokens: 42, outputTokens: 5, toolCalls: 0, errorCode: null });
    expect(line.durationMs).toEqual(expect.any(Number));
    expect(line.queuedMs).toBeGreaterThanOrEqual(0);
    expect(line.ttftMs).toBeGreaterThanOrEqual(0);
    // The time to the first token includes everything before the run executed, so it outlasts the queueing.
    expect(line.ttftMs as number).toBeGreaterThanOrEqual(line.queuedMs as number);
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain('launch codes');
    expect(logged).not.toContain('Secret plans');
    expect(logged).not.toContain('sk-test-not-a-real-key');
  });

  it('counts a provider error that was retried, and the run that then completed', async () => {
    const before = await scrape();
    fake.enqueue({ kind: 'status', status: 503 }, { kind: 'text', chunks: ['Back.'] });
    const id = await newConversation();
    const { body } = await post(`/conversations/${id}/messages?wait=true`, { content: 'Try again' });
    expect(body.run.status).toBe('completed');
    const after = await scrape();
    expect(total(after, 'agent_provider_retries_total', labels) - total(before, 'agent_provider_retries_total', labels)).toBe(1);
    const errors = { provider: 'openai', code: 'PROVIDER_ERROR' };
    expect(total(after, 'agent_provider_errors_total', errors) - total(before, 'agent_provider_errors_total', errors)).toBe(1);
    expect(total(after, 'agent_runs_total', { ...labels, status: 'completed' }) - total(before, 'agent_runs_total', { ...labels, status: 'completed' })).toBe(1);
  });

  it('counts a run failed by its provider under its error code, and logs the code', async () => {
    const before = await scrape();
    fake.enqueue({ kind: 'status', status: 401 });
    const id = await newConversation();
    const { body } = await post(`/conversations/${id}/messages?wait=true`, { content: 'Who am I?' });
    expect(body.run).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_AUTH' } });
    const after = await scrape();
    const errors = { provider: 'openai', code: 'PROVIDER_AUTH' };
    expect(total(after, 'agent_provider_errors_total', errors) - total(before, 'agent_provider_errors_total', errors)).toBe(1);
    expect(total(after, 'agent_runs_total', { ...labels, status: 'failed' }) - total(before, 'agent_runs_total', { ...labels, status: 'failed' })).toBe(1);
    // Not retried: the credentials will not get better.
    expect(total(after, 'agent_provider_retries_total', labels) - total(before, 'agent_provider_retries_total', labels)).toBe(0);
    expect(await runEnd(body.run.id)).toMatchObject({ status: 'failed', errorCode: 'PROVIDER_AUTH', ttftMs: null, inputTokens: null });
  });

  it('counts a run paused for approval, shows it waiting, and counts its resumption as its own execution', async () => {
    const before = await scrape();
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_deploy', name: 'workflow__deploy', argumentChunks: ['{"service": "api"}'] }] },
      { kind: 'text', chunks: ['Not deployed, as you wished.'] },
    );
    const id = await newConversation();
    const sent = await post(`/conversations/${id}/messages`, { content: 'Deploy the api' });
    const runId = sent.body.run.id as string;
    const paused = await runEnd(runId, 'Run paused for approval');
    // The call waits for a decision: it has not started.
    expect(paused).toMatchObject({ status: 'awaiting_approval', toolCalls: 0, resumed: false });
    const waiting = await waitUntil(async () => {
      const samples = await scrape();
      return total(samples, 'agent_runs_awaiting_approval') >= 1 ? samples : undefined;
    }, 'the run to show as awaiting approval', 10_000);
    expect(total(waiting, 'agent_runs_total', { ...labels, status: 'awaiting_approval' }) - total(before, 'agent_runs_total', { ...labels, status: 'awaiting_approval' })).toBe(1);

    const pending = await t.http(`${API}/conversations/${id}/approvals?status=pending`, { token: owner.accessToken });
    expect((await post(`/approvals/${pending.body.items[0].id}`, { decision: 'deny' })).status).toBe(200);
    const resumed = await runEnd(runId);
    expect(resumed).toMatchObject({ status: 'completed', resumed: true, queuedMs: null, ttftMs: null });
    expect((await runOf(id, runId)).status).toBe('completed');
    const after = await waitUntil(async () => {
      const samples = await scrape();
      return total(samples, 'agent_runs_awaiting_approval') === 0 ? samples : undefined;
    }, 'no run to wait for approval', 10_000);
    expect(total(after, 'agent_runs_total', { ...labels, status: 'completed' }) - total(before, 'agent_runs_total', { ...labels, status: 'completed' })).toBe(1);
  });

  it('shows the runs queued behind a running one', async () => {
    let release!: () => void;
    const held = new Promise((done) => (release = () => done(undefined)));
    fake.enqueue({ kind: 'text', chunks: ['one ', 'two'], pauseAfter: { chunks: 1, until: held } }, { kind: 'text', chunks: ['next'] });
    const id = await newConversation();
    const first = (await post(`/conversations/${id}/messages`, { content: 'first' })).body.run.id as string;
    await waitUntil(() => fake.requests.length === 1, 'the first run to reach the provider');
    const second = (await post(`/conversations/${id}/messages`, { content: 'second' })).body.run.id as string;
    let queued: number;
    try {
      queued = await waitUntil(async () => total(await scrape(), 'agent_runs_queued'), 'a queued run', 10_000);
    } finally {
      release();
    }
    expect(queued).toBe(1);
    expect(await runEnd(first)).toMatchObject({ status: 'completed' });
    // The second waited its turn: its queueing shows in its log line.
    expect(await runEnd(second)).toMatchObject({ status: 'completed', queuedMs: expect.any(Number) });
    expect(await waitUntil(async () => total(await scrape(), 'agent_runs_queued') === 0, 'the queue to empty', 10_000)).toBe(true);
  });

  it('counts an event stream while it is open, and logs why it ended', async () => {
    const id = await newConversation();
    const kind = { kind: 'conversation_events' };
    const before = await scrape();
    const controller = new AbortController();
    const response = await fetch(new URL(`${API}/conversations/${id}/events`, t.baseUrl), {
      headers: { authorization: `Bearer ${owner.accessToken}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    await assertDocumentedFetch(response);
    expect(response.status).toBe(200);
    const open = await scrape();
    expect(total(open, 'sse_streams_open', kind) - total(before, 'sse_streams_open', kind)).toBe(1);
    expect(total(open, 'sse_streams_total', kind) - total(before, 'sse_streams_total', kind)).toBe(1);

    controller.abort();
    const line = await waitUntil(() => lines.find((entry) => entry.msg === 'Event stream ended' && entry.conversationId === id), 'the stream to end');
    expect(line).toMatchObject({ context: 'EventStreams', kind: 'conversation_events', userId: owner.id, reason: 'client_closed' });
    expect(line.durationMs).toEqual(expect.any(Number));
    expect(line.events).toEqual(expect.any(Number));
    expect(total(await scrape(), 'sse_streams_open', kind)).toBe(total(before, 'sse_streams_open', kind));
  });

  it('logs a run stream the server completed with the events it sent, and one a sign-out ended', async () => {
    fake.enqueue({ kind: 'text', chunks: ['Streamed.'] });
    const id = await newConversation();
    const response = await fetch(new URL(`${API}/conversations/${id}/messages`, t.baseUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.accessToken}`, accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Stream it' }),
    });
    await assertDocumentedFetch(response, 'POST');
    expect(await response.text()).toContain('event: run:completed');
    const completed = await waitUntil(() => lines.find((entry) => entry.msg === 'Event stream ended' && entry.conversationId === id), 'the run stream to end');
    expect(completed).toMatchObject({ kind: 'run_stream', reason: 'completed' });
    // message:created, run:started, at least one delta and run:completed.
    expect(completed.events).toBeGreaterThanOrEqual(4);

    const leaving = await register(t, { displayName: 'Leaving' });
    const theirs = await newConversation(leaving);
    const stream = await fetch(new URL(`${API}/conversations/${theirs}/events`, t.baseUrl), { headers: { authorization: `Bearer ${leaving.accessToken}` } });
    expect(stream.status).toBe(200);
    expect((await t.http(`${API}/auth/logout-all`, { method: 'POST', token: leaving.accessToken })).status).toBe(204);
    expect(await stream.text()).toContain('event: session:expired');
    const ended = await waitUntil(() => lines.find((entry) => entry.msg === 'Event stream ended' && entry.conversationId === theirs), 'the stream to be ended by the sign-out');
    expect(ended).toMatchObject({ kind: 'conversation_events', userId: leaving.id, reason: 'session_expired', events: 1 });
  });

  it('serves every metric the Grafana dashboard queries, once a run has ended', async () => {
    const id = await newConversation();
    expect((await post(`/conversations/${id}/messages?wait=true`, { content: 'Hello' })).body.run.status).toBe('completed');
    // Socket.IO's per-event series exist once a socket has sent an event.
    const client = await connectClient(t.baseUrl, owner.accessToken);
    try {
      expect(await client.emit('conversation:join', { conversationId: id })).toMatchObject({ ok: true });
    } finally {
      client.socket.close();
    }
    const text = (await t.http('/metrics')).text;
    const names = [...new Set(dashboardExpressions().flatMap(metricNamesOf))];
    expect(names).toEqual(expect.arrayContaining(['agent_runs_total', 'agent_time_to_first_token_seconds_bucket', 'sse_streams_open', 'db_pool_waiting', 'http_request_duration_seconds_bucket']));
    const missing = names.filter((name) => !new RegExp(`^${name}[{ ]`, 'm').test(text));
    expect(missing).toEqual([]);
    const samples = samplesOf(text);
    expect(total(samples, 'db_pool_size')).toBeGreaterThan(0);
    expect(total(samples, 'db_pool_max')).toBe(t.config.database.poolSize);
  });

  it('logs the runs a shutdown interrupts', async () => {
    fake.enqueue({ kind: 'text', chunks: ['Half ', 'done'], pauseAfter: { chunks: 1, until: new Promise(() => undefined) } });
    const id = await newConversation();
    const runId = (await post(`/conversations/${id}/messages`, { content: 'Take your time' })).body.run.id as string;
    await waitUntil(() => fake.requests.length === 1, 'the run to reach the provider');
    await t.close();
    expect(lines.find((line) => line.msg === 'Run ended' && line.runId === runId)).toMatchObject({ status: 'interrupted', errorCode: 'SHUTDOWN' });
  });
});

describe('operations: the built-in agent', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 60_000);
  afterAll(() => t?.close());

  it('shows a run of the built-in agent in /metrics', async () => {
    const user = await register(t);
    const id = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'builtin' } })).body.id as string;
    const sent = await t.http(`${API}/conversations/${id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content: '/time' } });
    expect(sent.body.run.status).toBe('completed');
    const samples = samplesOf((await t.http('/metrics')).text);
    const builtin = { provider: 'builtin', model: 'builtin' };
    expect(total(samples, 'agent_runs_total', { ...builtin, status: 'completed' })).toBe(1);
    expect(total(samples, 'agent_run_duration_seconds_count', builtin)).toBe(1);
    expect(total(samples, 'agent_time_to_first_token_seconds_count', builtin)).toBe(1);
    expect(total(samples, 'agent_tokens_total', { ...builtin, type: 'output' })).toBeGreaterThan(0);
  });
});

describe('operations: the start-up line of the built server', () => {
  let app: AppProcess | undefined;
  afterAll(() => app?.child.kill('SIGKILL'));

  it('says the version, the real bind address, the database, Redis, the agent and a generated secret; wiring lines stay at debug', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'startup-line-'));
    app = spawnApp({ HOST: '0.0.0.0', DATA_DIR: dataDir }, port);
    await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 60_000);
    const output = app.output().split('\n').filter(Boolean).map((line) => JSON.parse(line) as LogLine);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(output.find((line) => line.bind !== undefined)).toMatchObject({
      level: 30,
      version,
      bind: `0.0.0.0:${port}`,
      database: { type: 'embedded', dataDir },
      redis: 'off',
      agent: { provider: 'builtin', model: 'builtin' },
      jwtSecretSource: 'generated',
    });
    expect(output.filter((line) => ['InstanceLoader', 'RoutesResolver', 'RouterExplorer'].includes(line.context as string))).toEqual([]);
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  }, 90_000);
});
