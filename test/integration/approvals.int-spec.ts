import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI, type Script } from '../fixtures/fake-openai.js';
import type { Registered } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { adminQuery, withDatabase } from '../support/database.js';
import { everythingMcpConfig } from '../support/mcp.js';
import { type AppProcess, childProcesses, freePort, isRunning, spawnApp, waitForStatus } from '../support/process.js';
import { RedisServer } from '../support/redis-server.js';
import { api, loginOn, registerOn } from '../support/remote.js';
import { connectClient, type RecordingClient } from '../support/socket-client.js';
import { ADMIN, ADMIN_ENV } from '../support/world.js';

/**
 * Approvals outlive the processes that asked for them: a run paused on one instance is decided
 * and resumed on another after the first was killed (kill -9), decided after a restart of the
 * embedded database, expired while no process ran, and decided at once from two instances. Real
 * server processes (dist/), the reference MCP server over stdio, a fake OpenAI-compatible model.
 */
const databaseServer = process.env.TEST_DATABASE_URL;

const FINAL_TEXT = 'Done: the echo answered.';
const echoThenAnswer = (callId: string, message: string): Script[] => [
  { kind: 'tool', calls: [{ id: callId, name: 'everything__echo', argumentChunks: [`{"message": "${message}"}`] }] },
  { kind: 'text', chunks: ['Done: ', 'the echo answered.'] },
];

const ENV = {
  AGENT_PROVIDER: 'openai',
  AGENT_MODEL: 'fake-model',
  OPENAI_API_KEY: 'sk-test-not-a-real-key',
  MCP_RETRY_BASE_MS: '20',
  MESSAGE_RATE_LIMIT: '100000',
  AGENT_RETRY_BASE_MS: '50',
  LOG_LEVEL: 'warn',
};

async function mcpState(app: AppProcess): Promise<string | undefined> {
  try {
    const health = await fetch(`${app.baseUrl}/health/ready`, { signal: AbortSignal.timeout(5000) });
    return ((await health.json()) as any).details?.mcp?.servers?.everything?.state;
  } catch {
    return undefined;
  }
}

/** Starts a server process and waits until it is ready with its MCP server connected. */
async function startServer(env: Record<string, string>): Promise<AppProcess> {
  const app = spawnApp(env, await freePort());
  try {
    await waitForStatus(`${app.baseUrl}/health/ready`, 200, 30_000);
    await waitUntil(async () => (await mcpState(app)) === 'ready', 'the MCP server to be ready', 20_000);
  } catch (error) {
    app.child.kill('SIGKILL');
    throw new Error(`${String(error)}\n${app.output()}`, { cause: error });
  }
  return app;
}

/** The reference MCP server the instance spawned over stdio. */
function mcpChildOf(app: AppProcess): number {
  const children = childProcesses(app.child.pid!).filter((child) => child.command.includes('server-everything'));
  expect(children).toHaveLength(1);
  return children[0]!.pid;
}

async function stop(app: AppProcess, signal: NodeJS.Signals): Promise<number | null> {
  if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill(signal);
  return app.exited;
}

const lastMessageText = (request: { body: { messages: { content: unknown }[] } }) => JSON.stringify(request.body.messages.at(-1)?.content);

describe.runIf(databaseServer)('approvals across instances sharing PostgreSQL and Redis', () => {
  let fake: FakeOpenAI;
  let redis: RedisServer;
  let databaseName: string;
  let db: Client;
  let env: Record<string, string>;
  const apps: AppProcess[] = [];
  const clients: RecordingClient[] = [];
  let one: AppProcess;
  let two: AppProcess;
  let user: Registered;
  let admin: Registered;

  /**
   * Each instance reaches the one fake model under its own path prefix, so a request tells which
   * instance made it.
   */
  async function startInstance(name: string): Promise<AppProcess> {
    const app = await startServer({
      ...env,
      OPENAI_BASE_URL: fake.url.replace(/\/v1$/, `/${name}/v1`),
      DATA_DIR: mkdtempSync(join(tmpdir(), 'agentchat-approvals-int-')),
    });
    apps.push(app);
    return app;
  }
  const madeBy = (name: string) => fake.requests.map((request) => request.path.split('/')[1] === name);

  async function device(app: AppProcess, conversationId: string): Promise<RecordingClient> {
    const client = await connectClient(app.baseUrl, user.accessToken);
    clients.push(client);
    expect((await client.emit('conversation:join', { conversationId })).ok).toBe(true);
    return client;
  }

  async function conversation(title: string): Promise<string> {
    const created = await api(one.baseUrl, 'POST', '/conversations', user.accessToken, { title, agent: { mode: 'auto' } });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  const runOf = async (app: AppProcess, conversationId: string, runId: string) =>
    (await api(app.baseUrl, 'GET', `/conversations/${conversationId}/runs/${runId}`, user.accessToken)).body;
  const ended = (app: AppProcess, conversationId: string, runId: string) =>
    waitUntil(async () => {
      const run = await runOf(app, conversationId, runId);
      return run.finishedAt ? run : undefined;
    }, 'the run to end', 15_000);
  const invocations = async (runId: string) =>
    (await db.query(`SELECT status, result FROM tool_invocations WHERE run_id = $1 AND name = 'everything__echo'`, [runId])).rows as { status: string; result: unknown }[];

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    redis = new RedisServer(await freePort());
    await redis.start();
    databaseName = `agentchat_approvals_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE DATABASE "${databaseName}"`);
    const databaseUrl = withDatabase(databaseServer!, databaseName);
    env = { ...ENV, ...ADMIN_ENV, DATABASE_URL: databaseUrl, REDIS_URL: redis.url, JWT_SECRET: randomBytes(48).toString('base64url'), MCP_CONFIG: everythingMcpConfig() };
    // Started together: migrations run under an advisory lock, the admin account is created once.
    [one, two] = await Promise.all([startInstance('one'), startInstance('two')]);
    db = new Client({ connectionString: databaseUrl });
    await db.connect();
    user = await registerOn(one.baseUrl, 'Lea');
    admin = await loginOn(two.baseUrl, ADMIN.email, ADMIN.password);
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.socket.close();
    await Promise.all(apps.map((app) => stop(app, 'SIGKILL')));
    await db?.end();
    await redis?.stop();
    await fake?.stop();
    if (databaseName) await adminQuery(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
  });

  it('two devices deciding at the same moment on different instances: one 200, one 409 APPROVAL_DECIDED, the tool runs at most once, the run completes once', async () => {
    const conversationId = await conversation('races');
    const watcher = await device(two, conversationId);
    for (let round = 0; round < 3; round++) {
      fake.reset();
      fake.enqueue(...echoThenAnswer(`call_race_${round}`, `race ${round}`));
      const sent = await api(one.baseUrl, 'POST', `/conversations/${conversationId}/messages`, user.accessToken, { content: `race ${round}` });
      expect(sent.status).toBe(201);
      const runId = sent.body.run.id as string;
      const { approval } = await watcher.waitFor('approval:requested', (p) => p.approval.runId === runId);

      const decide = (app: AppProcess, decision: string) => api(app.baseUrl, 'POST', `/approvals/${approval.id}`, user.accessToken, { decision });
      const [approved, denied] = await Promise.all([decide(one, 'approve'), decide(two, 'deny')]);
      expect([approved.status, denied.status].sort()).toEqual([200, 409]);
      const [winner, loser] = approved.status === 200 ? [approved, denied] : [denied, approved];
      expect(loser.body).toMatchObject({ code: 'APPROVAL_DECIDED', details: { approvalStatus: winner.body.status, decidedBy: user.id } });

      const run = await ended(two, conversationId, runId);
      expect(run.status).toBe('completed');
      await watcher.waitFor('run:completed', (p) => p.run.id === runId);
      expect(watcher.of('run:completed').filter((p) => p.run.id === runId)).toHaveLength(1);
      // Resumed once: one more request to the model, whichever instance made it.
      expect(fake.requests).toHaveLength(2);
      const calls = await invocations(runId);
      expect(calls.filter((call) => call.status === 'completed')).toHaveLength(winner.body.status === 'approved' ? 1 : 0);
      expect(calls).toHaveLength(1);
      const decisions = await db.query(`SELECT action FROM audit_events WHERE target_id = $1`, [approval.id]);
      expect(decisions.rows).toEqual([{ action: `approval.${winner.body.status}` }]);
    }
  }, 60_000);

  it('decided on the phone after the laptop’s instance was killed (kill -9): the other instance resumes the run, the tool runs once, the audit trail names who approved', async () => {
    // The laptop's instance is `one`: once it is killed, `two` is the only one left to resume the run.
    const laptopHost = one;
    const conversationId = await conversation('deploys');
    const laptop = await device(laptopHost, conversationId);
    const phone = await device(two, conversationId);
    const mcpServer = mcpChildOf(laptopHost);
    fake.reset();
    fake.enqueue(...echoThenAnswer('call_crash', 'survive the crash'));

    const sent = await laptop.emit('message:send', { conversationId, content: 'deploy it' });
    expect(sent.ok).toBe(true);
    const runId = sent.data.run.id as string;
    const requested = await laptop.waitFor('approval:requested', (p) => p.approval.runId === runId);
    expect((await phone.waitFor('approval:requested', (p) => p.approval.runId === runId)).approval).toEqual(requested.approval);
    const approval = requested.approval;
    expect(approval).toMatchObject({ toolName: 'everything__echo', toolCallId: 'call_crash', input: { message: 'survive the crash' }, status: 'pending', requestedBy: user.id });
    expect(madeBy('one')).toEqual([true]);
    expect((await runOf(two, conversationId, runId)).status).toBe('awaiting_approval');

    const laptopClosed = new Promise((resolve) => laptop.socket.once('disconnect', resolve));
    expect(await stop(laptopHost, 'SIGKILL')).toBeNull();
    expect(laptopHost.child.signalCode).toBe('SIGKILL');
    await laptopClosed;
    const killedAt = Date.now();

    const ack = await phone.emit('approval:decide', { approvalId: approval.id, decision: 'approve' });
    expect(ack).toMatchObject({ ok: true, data: { id: approval.id, status: 'approved', decidedBy: user.id } });
    const completed = await phone.waitFor('run:completed', (p) => p.run.id === runId, 15_000);
    expect(completed.run.status).toBe('completed');
    expect(completed.message.content).toBe(FINAL_TEXT);
    expect(completed.message.metadata.toolCalls).toEqual([
      { callId: 'call_crash', name: 'everything__echo', args: { message: 'survive the crash' }, result: { text: 'Echo: survive the crash' } },
    ]);
    // The run started on the laptop's instance, then again on the phone's, and its text streamed there.
    const starts = phone.received.flatMap((r, index) => (r.event === 'run:started' && r.payload.run.id === runId ? [index] : []));
    expect(starts).toHaveLength(2);
    const started = starts[1]!;
    const resolved = phone.received.findIndex((r) => r.event === 'approval:resolved' && r.payload.approval.id === approval.id);
    expect(resolved).toBeGreaterThanOrEqual(0);
    expect(started).toBeGreaterThan(resolved);
    const deltas = phone.received.slice(started).filter((r) => r.event === 'run:delta' && r.payload.runId === runId).map((r) => r.payload);
    expect(deltas.map((d) => d.text).join('')).toBe(FINAL_TEXT);
    expect(deltas.map((d) => d.index)).toEqual(deltas.map((_, i) => deltas[0].index + i));

    // The laptop's instance asked the model once; the phone's resumed with the tool's output.
    expect(madeBy('two')).toEqual([false, true]);
    expect(lastMessageText(fake.requests[1]!)).toContain('Echo: survive the crash');
    expect(await invocations(runId)).toMatchObject([{ status: 'completed' }]);

    const audit = await api(two.baseUrl, 'GET', `/admin/audit?action=approval.approved`, admin.accessToken);
    expect(audit.status).toBe(200);
    expect(audit.body.items.filter((event: { targetId: string }) => event.targetId === approval.id)).toMatchObject([
      { action: 'approval.approved', actorId: user.id, targetType: 'approval', conversationId, details: { runId, toolName: 'everything__echo', toolCallId: 'call_crash' } },
    ]);

    // Nothing of the killed instance ran on: its MCP server exits only because its stdin ended,
    // which is how the stdio transport tells a server to shut down.
    await waitUntil(() => !isRunning(mcpServer), 'the killed instance’s MCP server to exit', 10_000);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
  }, 60_000);

  it('no instance crashed or leaked an unhandled error', () => {
    for (const app of apps) expect(app.output()).not.toMatch(/unhandled|uncaught|FATAL ERROR/i);
  });
});

/**
 * One data directory, three process lifetimes: the first pauses a run and stops; the second
 * (short approval lifetime) decides it, pauses another and stops; the third starts once that
 * one's approval is past due.
 */
describe('approvals on the embedded database across restarts', () => {
  let fake: FakeOpenAI;
  const apps: AppProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'agentchat-restarts-'));
  const env = { JWT_SECRET: randomBytes(48).toString('base64url'), MCP_CONFIG: everythingMcpConfig() };
  const SHORT_TTL = { APPROVAL_TTL_MS: '2000' };
  let running: AppProcess | undefined;

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => stop(app, 'SIGKILL')));
    await fake?.stop();
  });

  /** A server on the embedded database kept in the data directory, as `npm start` runs it. */
  async function start(extra: Record<string, string> = {}): Promise<AppProcess> {
    expect(running).toBeUndefined();
    running = await startServer({ ...ENV, ...env, ...extra, DATA_DIR: dataDir, OPENAI_BASE_URL: fake.url });
    apps.push(running);
    return running;
  }

  /** SIGTERM, a clean exit, and the MCP server it spawned gone with it. */
  async function stopGracefully(app: AppProcess): Promise<void> {
    const mcpServer = mcpChildOf(app);
    running = undefined;
    expect(await stop(app, 'SIGTERM')).toBe(0);
    await waitUntil(() => !isRunning(mcpServer), 'the stopped instance’s MCP server to exit', 5000);
  }

  /** A user, a conversation and a run paused for its call of everything__echo. */
  async function pausedRun(app: AppProcess, callId: string) {
    const user = await registerOn(app.baseUrl, 'Ida');
    const created = await api(app.baseUrl, 'POST', '/conversations', user.accessToken, { title: 'restarts' });
    const conversationId = created.body.id as string;
    fake.reset();
    fake.enqueue(...echoThenAnswer(callId, 'after the restart'));
    const sent = await api(app.baseUrl, 'POST', `/conversations/${conversationId}/messages`, user.accessToken, { content: 'run it' });
    expect(sent.status).toBe(201);
    const approval = await waitUntil(async () => {
      const page = await api(app.baseUrl, 'GET', `/conversations/${conversationId}/approvals?status=pending`, user.accessToken);
      return page.body.items[0];
    }, 'the approval');
    return { user, conversationId, runId: sent.body.run.id as string, approval };
  }

  async function endedRun(app: AppProcess, token: string, conversationId: string, runId: string) {
    return waitUntil(async () => {
      const run = (await api(app.baseUrl, 'GET', `/conversations/${conversationId}/runs/${runId}`, token)).body;
      return run.finishedAt ? run : undefined;
    }, 'the run to end', 15_000);
  }

  async function replyOf(app: AppProcess, token: string, conversationId: string, messageId: string) {
    const page = await api(app.baseUrl, 'GET', `/conversations/${conversationId}/messages?limit=10`, token);
    return page.body.items.find((message: { id: string }) => message.id === messageId);
  }

  it('a run paused before a graceful restart is approved over REST after it and completes with the tool’s output', async () => {
    const before = await start();
    const { user, conversationId, runId, approval } = await pausedRun(before, 'call_restart');
    await stopGracefully(before);

    const after = await start(SHORT_TTL);
    const seen = await api(after.baseUrl, 'GET', `/approvals/${approval.id}`, user.accessToken);
    expect(seen.body).toMatchObject({ id: approval.id, status: 'pending', runId });
    expect((await api(after.baseUrl, 'GET', `/conversations/${conversationId}/runs/${runId}`, user.accessToken)).body.status).toBe('awaiting_approval');
    const decided = await api(after.baseUrl, 'POST', `/approvals/${approval.id}`, user.accessToken, { decision: 'approve' });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ status: 'approved', decidedBy: user.id });

    const run = await endedRun(after, user.accessToken, conversationId, runId);
    expect(run.status).toBe('completed');
    const reply = await replyOf(after, user.accessToken, conversationId, run.responseMessageId);
    expect(reply).toMatchObject({ status: 'complete', content: FINAL_TEXT });
    expect(reply.metadata.toolCalls).toEqual([
      { callId: 'call_restart', name: 'everything__echo', args: { message: 'after the restart' }, result: { text: 'Echo: after the restart' } },
    ]);
    expect(fake.requests).toHaveLength(2);
    expect(lastMessageText(fake.requests[1]!)).toContain('Echo: after the restart');
  }, 60_000);

  it('an approval that expires while no process runs ends expired at the next start; the model is told and the run completes', async () => {
    const before = running ?? (await start(SHORT_TTL));
    const { user, conversationId, runId, approval } = await pausedRun(before, 'call_expire');
    await stopGracefully(before);
    // Stopped before the approval was due: it is still pending in the data directory.
    const expiresAt = Date.parse(approval.expiresAt);
    expect(Date.now()).toBeLessThan(expiresAt);
    await waitUntil(() => Date.now() > expiresAt, 'the approval’s expiry to pass', 5000);

    const restartedAt = Date.now();
    const after = await start(SHORT_TTL);
    const run = await endedRun(after, user.accessToken, conversationId, runId);
    expect(run.status).toBe('completed');
    const expired = (await api(after.baseUrl, 'GET', `/approvals/${approval.id}`, user.accessToken)).body;
    expect(expired).toMatchObject({ status: 'expired', decidedBy: null });
    expect(Date.parse(expired.decidedAt)).toBeGreaterThanOrEqual(restartedAt);
    expect(fake.requests).toHaveLength(2);
    expect(lastMessageText(fake.requests[1]!)).toContain('No one approved this tool call in time');
    expect(lastMessageText(fake.requests[1]!)).not.toContain('Echo:');
    const reply = await replyOf(after, user.accessToken, conversationId, run.responseMessageId);
    expect(reply).toMatchObject({ status: 'complete', content: FINAL_TEXT });
    const late = await api(after.baseUrl, 'POST', `/approvals/${approval.id}`, user.accessToken, { decision: 'approve' });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'APPROVAL_DECIDED', details: { approvalStatus: 'expired' } });
  }, 60_000);

  it('no process crashed or leaked an unhandled error', () => {
    for (const app of apps) expect(app.output()).not.toMatch(/unhandled|uncaught|FATAL ERROR/i);
  });
});
