import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { everythingServerBin } from '../support/mcp.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

interface ServerStatus {
  state: string;
  tools: number;
  failures: number;
}

describe('MCP tools', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let user: Registered;
  let events: RealtimeEvent[];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentchat-mcp-'));
    const config = join(dir, 'mcp.json');
    writeFileSync(
      config,
      JSON.stringify({
        servers: {
          // Calls run at once here: approvals have their own tests.
          everything: { command: process.execPath, args: [everythingServerBin(), 'stdio'], approval: 'never' },
          broken: { command: process.execPath, args: ['-e', 'process.exit(3)'] },
          missing: { command: '/opt/internal/bin/mcp-missing', args: [] },
          leaky: { command: process.execPath, args: ['-e', 'console.log("invalid token for tenant acme (key sk-live-4242)"); process.exit(1)'] },
        },
      }),
    );
    fake = await new FakeOpenAI().start();
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      MCP_CONFIG: config,
      MCP_CONNECT_TIMEOUT_MS: '10000',
      MCP_RETRY_BASE_MS: '20',
      MCP_RETRY_MAX_MS: '200',
      AGENT_TOOL_TIMEOUT_MS: '1000',
      MESSAGE_RATE_LIMIT: '100000',
    });
    user = await register(t, { displayName: 'Ada' });
    events = [];
    t.app.get(RealtimeBus).events$.subscribe((event) => events.push(event));
    await waitUntil(async () => (await servers()).everything?.state === 'ready', 'the everything server to be ready', 20_000);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  beforeEach(() => {
    fake.reset();
    events.length = 0;
  });

  const servers = async (): Promise<Record<string, ServerStatus>> => (await t.http('/health/ready')).body.details?.mcp?.servers ?? {};
  const send = async (content: string) => {
    const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'mcp' } });
    const response = await t.http(`${API}/conversations/${conversation.body.id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content } });
    expect(response.status).toBe(201);
    return response.body;
  };

  it('readiness shows each server: the broken one degraded and retried, the service still ready', async () => {
    const broken = await waitUntil(async () => {
      const status = (await servers()).broken;
      return status && status.failures >= 3 ? status : undefined;
    }, 'the broken server to be retried');
    expect(['failed', 'connecting']).toContain(broken.state);
    expect(broken.tools).toBe(0);
    const response = await t.http('/health/ready');
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('degraded');
    expect(response.body.details.mcp).toMatchObject({ status: 'degraded', servers: { everything: { state: 'ready', transport: 'stdio', failures: 0 } } });
    expect(response.body.details.mcp.servers.everything.tools).toBeGreaterThan(0);
    expect(response.body.details.database.status).toBe('up');
  });

  it('readiness, which anyone may read, shows no server error: neither a remote answer nor a local path', async () => {
    await waitUntil(async () => {
      const all = await servers();
      return (all.missing?.failures ?? 0) >= 2 && (all.leaky?.failures ?? 0) >= 2;
    }, 'the missing and leaky servers to fail');
    const response = await t.http('/health/ready');
    for (const name of ['broken', 'missing', 'leaky', 'everything']) {
      expect(Object.keys(response.body.details.mcp.servers[name]).sort()).toEqual(
        expect.arrayContaining(['failures', 'state', 'tools', 'transport']),
      );
      for (const key of Object.keys(response.body.details.mcp.servers[name])) expect(['state', 'transport', 'tools', 'failures', 'nextAttemptAt']).toContain(key);
    }
    expect(response.text).not.toMatch(/opt\/internal|ENOENT|sk-live|acme|lastError/);
  });

  it('offers the server tools to the model as <server>__<tool> with their JSON Schemas', async () => {
    fake.enqueue({ kind: 'text', chunks: ['Hi.'] });
    await send('hello');
    const tools = fake.requests[0]!.body.tools as { function: { name: string; parameters: Record<string, unknown> } }[];
    const names = tools.map((tool) => tool.function.name);
    expect(names).toEqual(expect.arrayContaining(['calculator', 'everything__echo', 'everything__get-sum']));
    expect(names.every((name) => /^[A-Za-z0-9_-]{1,64}$/.test(name))).toBe(true);
    expect(names.some((name) => name.startsWith('broken__'))).toBe(false);
    const echo = tools.find((tool) => tool.function.name === 'everything__echo')!;
    expect(echo.function.parameters).toMatchObject({ type: 'object', properties: { message: { type: 'string' } }, required: ['message'] });
  });

  it('calls a tool over stdio and records its result in run:tool, the reply metadata and tool_invocations', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_echo', name: 'everything__echo', argumentChunks: ['{"message": ', '"hello over MCP"}'] }] },
      { kind: 'text', chunks: ['It said hello.'] },
    );
    const body = await send('echo something');
    expect(body.run.status).toBe('completed');
    expect(body.reply.content).toBe('It said hello.');
    expect(body.reply.metadata.toolCalls).toEqual([
      { callId: 'call_echo', name: 'everything__echo', args: { message: 'hello over MCP' }, result: { text: 'Echo: hello over MCP' } },
    ]);
    const toolEvents = events.filter((e): e is Extract<RealtimeEvent, { type: 'run.tool' }> => e.type === 'run.tool' && e.runId === body.run.id);
    expect(toolEvents.map((e) => e.status)).toEqual(['started', 'completed']);
    expect(toolEvents[1]).toMatchObject({ name: 'everything__echo', result: { text: 'Echo: hello over MCP' } });
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toContain('Echo: hello over MCP');
    const [row] = await t.app.get(DataSource).query(`SELECT name, status, result FROM tool_invocations WHERE run_id = $1`, [body.run.id]);
    expect(row).toMatchObject({ name: 'everything__echo', status: 'completed', result: { text: 'Echo: hello over MCP' } });
  });

  it('refuses arguments that do not match the tool JSON Schema without calling the server; the run goes on', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_bad', name: 'everything__get-sum', argumentChunks: ['{"a": "two", "b": 3}'] }] },
      { kind: 'text', chunks: ['Could not add.'] },
    );
    const body = await send('add');
    expect(body.run.status).toBe('completed');
    expect(body.reply.metadata.toolCalls[0]).toMatchObject({ name: 'everything__get-sum', error: expect.stringContaining('Invalid arguments for everything__get-sum') });
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toContain('/a');
  });

  it('adds with a second tool, whose arguments are numbers', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_sum', name: 'everything__get-sum', argumentChunks: ['{"a": 2, "b": 40}'] }] },
      { kind: 'text', chunks: ['42.'] },
    );
    const body = await send('2 + 40?');
    expect(body.reply.metadata.toolCalls[0]).toMatchObject({ name: 'everything__get-sum', result: { text: expect.stringContaining('42') } });
  });

  it('stops a call past the tool time limit, records it failed, and the server keeps serving', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_slow', name: 'everything__trigger-long-running-operation', argumentChunks: ['{"duration": 30, "steps": 3}'] }] },
      { kind: 'text', chunks: ['Too slow.'] },
      { kind: 'tool', calls: [{ id: 'call_echo2', name: 'everything__echo', argumentChunks: ['{"message": "still here"}'] }] },
      { kind: 'text', chunks: ['Fine.'] },
    );
    const started = Date.now();
    const slow = await send('run the long operation');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(slow.run.status).toBe('completed');
    expect(slow.reply.metadata.toolCalls[0]).toMatchObject({ name: 'everything__trigger-long-running-operation', error: expect.stringMatching(/1000 ms|timed out/i) });
    const after = await send('echo again');
    expect(after.reply.metadata.toolCalls[0]).toMatchObject({ result: { text: 'Echo: still here' } });
    expect((await servers()).everything?.state).toBe('ready');
  });
});
