import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request as forward, createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { everythingServerBin } from '../support/mcp.js';

const API = '/api/v1';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The reference server over Streamable HTTP, resolved once it listens. */
async function startHttpServer(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [everythingServerBin(), 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitUntil(() => output.includes('listening'), 'the Streamable HTTP server to listen', 15_000);
  return child;
}

/** A pass-through proxy in front of the server that records the headers of every request it forwards. */
async function startRecordingProxy(target: number, seen: IncomingHttpHeaders[]): Promise<{ server: Server; port: number }> {
  const server = createHttpServer((incoming, outgoing) => {
    seen.push(incoming.headers);
    const upstream = forward({ host: '127.0.0.1', port: target, path: incoming.url, method: incoming.method, headers: incoming.headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('MCP tools over Streamable HTTP', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let user: Registered;
  let port: number;
  let server: ChildProcess | undefined;
  let proxy: Server;
  const received: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    port = await freePort();
    const recording = await startRecordingProxy(port, received);
    proxy = recording.server;
    const config = join(mkdtempSync(join(tmpdir(), 'agentchat-mcp-http-')), 'mcp.json');
    writeFileSync(config, JSON.stringify({ servers: { remote: { url: `http://127.0.0.1:${recording.port}/mcp`, headers: { 'x-client': 'agent-chat' }, approval: 'never' } } }));
    fake = await new FakeOpenAI().start();
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      MCP_CONFIG: config,
      MCP_CONNECT_TIMEOUT_MS: '2000',
      MCP_RETRY_BASE_MS: '20',
      MCP_RETRY_MAX_MS: '200',
      MCP_PING_INTERVAL_MS: '100',
    });
    user = await register(t, { displayName: 'Ada' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
    await stop(server);
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
  });

  const remote = async () => (await t.http('/health/ready')).body.details?.mcp?.servers?.remote as { state: string; failures: number } | undefined;

  it('starts without its server, retries, and offers its tools once the server is up', async () => {
    const response = await t.http('/health/ready');
    expect(response.status).toBe(200);
    await waitUntil(async () => ((await remote())?.failures ?? 0) >= 2, 'failed attempts while the server is down');
    expect((await t.http('/health/ready')).body.status).toBe('degraded');

    server = await startHttpServer(port);
    await waitUntil(async () => (await remote())?.state === 'ready', 'the server to be connected', 10_000);
    expect((await t.http('/health/ready')).body.status).toBe('ok');

    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_echo', name: 'remote__echo', argumentChunks: ['{"message": "over HTTP"}'] }] },
      { kind: 'text', chunks: ['Done.'] },
    );
    const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'http' } });
    const { body } = await t.http(`${API}/conversations/${conversation.body.id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content: 'echo' } });
    expect(body.reply.metadata.toolCalls).toEqual([{ callId: 'call_echo', name: 'remote__echo', args: { message: 'over HTTP' }, result: { text: 'Echo: over HTTP' } }]);
    // The configured header went with every request the server received (initialize, list, call).
    expect(received.length).toBeGreaterThanOrEqual(3);
    expect(received.every((headers) => headers['x-client'] === 'agent-chat')).toBe(true);
  });

  it('notices the server going away, drops its tools, and reconnects when it is back', async () => {
    await stop(server);
    await waitUntil(async () => (await remote())?.state !== 'ready', 'the lost server to be noticed', 10_000);
    fake.enqueue({ kind: 'text', chunks: ['No tools.'] });
    const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'http' } });
    await t.http(`${API}/conversations/${conversation.body.id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content: 'hi' } });
    const names = (fake.requests.at(-1)!.body.tools as { function: { name: string } }[]).map((tool) => tool.function.name);
    expect(names.some((name) => name.startsWith('remote__'))).toBe(false);

    server = await startHttpServer(port);
    await waitUntil(async () => (await remote())?.state === 'ready', 'the server to be connected again', 10_000);
  });
});
