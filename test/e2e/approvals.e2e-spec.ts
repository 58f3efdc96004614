import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RunsRepository } from '../../src/agent/runs.repository.js';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
import { FakeOpenAI, type Script } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { everythingMcpConfig } from '../support/mcp.js';
import { connectClient, type RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

type ApprovalEvent = Extract<RealtimeEvent, { type: 'approval.requested' | 'approval.resolved' }>;

async function startApp(fake: FakeOpenAI, env: Record<string, string> = {}): Promise<TestApp> {
  const t = await startTestApp({
    AGENT_PROVIDER: 'openai',
    AGENT_MODEL: 'fake-model',
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: 'sk-test-not-a-real-key',
    MCP_CONFIG: everythingMcpConfig(),
    MCP_RETRY_BASE_MS: '20',
    MESSAGE_RATE_LIMIT: '100000',
    ...env,
  });
  await waitUntil(async () => (await t.http('/health/ready')).body.details?.mcp?.servers?.everything?.state === 'ready', 'the MCP server to be ready', 20_000);
  return t;
}

const echoThenAnswer = (callId: string, message: string): Script[] => [
  { kind: 'tool', calls: [{ id: callId, name: 'everything__echo', argumentChunks: [`{"message": "${message}"}`] }] },
  { kind: 'text', chunks: ['Done: ', 'the echo answered.'] },
];

describe('durable approvals', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let owner: Registered;
  let member: Registered;
  let viewer: Registered;
  let stranger: Registered;
  let conversationId: string;
  let events: RealtimeEvent[];
  const clients: RecordingClient[] = [];

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startApp(fake);
    [owner, member, viewer, stranger] = await Promise.all(['Olive', 'Max', 'Vera', 'Sam'].map((displayName) => register(t, { displayName })));
    events = [];
    t.app.get(RealtimeBus).events$.subscribe((event) => events.push(event));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  beforeEach(async () => {
    fake.reset();
    const created = await t.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { title: 'deploys', participantIds: [member.id] } });
    conversationId = created.body.id;
    const added = await t.http(`${API}/conversations/${conversationId}/participants`, { method: 'POST', token: owner.accessToken, json: { userId: viewer.id, role: 'viewer' } });
    if (added.status !== 201) throw new Error(`adding the viewer failed: ${added.status}`);
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.socket.close();
  });

  const send = async (by: Registered, content: string) => {
    const response = await t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token: by.accessToken, json: { content } });
    expect(response.status).toBe(201);
    return response.body.run as { id: string };
  };
  const requested = (runId: string) =>
    waitUntil(() => events.find((event): event is ApprovalEvent => event.type === 'approval.requested' && event.approval.runId === runId)?.approval, 'approval:requested');
  const decide = (by: Registered, id: string, json: unknown) => t.http(`${API}/approvals/${id}`, { method: 'POST', token: by.accessToken, json });
  const runOf = async (runId: string) => (await t.http(`${API}/conversations/${conversationId}/runs/${runId}`, { token: owner.accessToken })).body;
  const ended = (runId: string) => waitUntil(async () => ((await runOf(runId)).finishedAt ? runOf(runId) : undefined), 'the run to end', 15_000);
  const reply = async (run: { responseMessageId: string }) =>
    (await t.http(`${API}/conversations/${conversationId}/messages?limit=100`, { token: owner.accessToken })).body.items.find(
      (message: { id: string }) => message.id === run.responseMessageId,
    );
  const echoCalls = async (runId: string) =>
    (await t.app.get(DataSource).query(`SELECT status, result FROM tool_invocations WHERE run_id = $1 AND name = 'everything__echo'`, [runId])) as { status: string }[];

  it('pauses the run until the member who asked approves from another device; the tool runs once and the reply goes on', async () => {
    // The laptop has the conversation open; the phone is connected but elsewhere in the app.
    const [laptop, phone, viewerSocket] = await Promise.all([member, member, viewer].map((user) => connectClient(t.baseUrl, user.accessToken)));
    clients.push(laptop!, phone!, viewerSocket!);
    expect((await laptop!.emit('conversation:join', { conversationId })).ok).toBe(true);
    fake.enqueue(...echoThenAnswer('call_deploy', 'deploy v2'));
    const run = await send(member, 'deploy it');

    const approval = await requested(run.id);
    expect(approval).toMatchObject({ toolName: 'everything__echo', toolCallId: 'call_deploy', input: { message: 'deploy v2' }, status: 'pending', requestedBy: member.id });
    expect((await phone!.waitFor('approval:requested')).approval.id).toBe(approval.id);
    expect((await laptop!.waitFor('approval:requested')).approval.id).toBe(approval.id);
    expect((await runOf(run.id)).status).toBe('awaiting_approval');
    expect(await echoCalls(run.id)).toEqual([]);
    const pending = await t.http(`${API}/conversations/${conversationId}/approvals?status=pending`, { token: viewer.accessToken });
    expect(pending.body.items.map((item: { id: string }) => item.id)).toEqual([approval.id]);

    const ack = await phone!.emit('approval:decide', { approvalId: approval.id, decision: 'approve' });
    expect(ack).toMatchObject({ ok: true, data: { id: approval.id, status: 'approved', decidedBy: member.id } });
    const late = await decide(owner, approval.id, { decision: 'deny' });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'APPROVAL_DECIDED', details: { approvalStatus: 'approved', decidedBy: member.id } });

    const finished = await ended(run.id);
    expect(finished.status).toBe('completed');
    const message = await reply(finished);
    expect(message.content).toBe('Done: the echo answered.');
    expect(message.metadata.toolCalls).toEqual([{ callId: 'call_deploy', name: 'everything__echo', args: { message: 'deploy v2' }, result: { text: 'Echo: deploy v2' } }]);
    expect(await echoCalls(run.id)).toMatchObject([{ status: 'completed' }]);
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toContain('Echo: deploy v2');
    await phone!.waitFor('approval:resolved', (payload) => payload.approval.status === 'approved');
    await laptop!.waitFor('run:completed', (payload) => payload.run.id === run.id);
    // Each socket heard of the call once; a viewer who has not joined, not at all (viewers cannot decide).
    expect(phone!.of('approval:requested')).toHaveLength(1);
    expect(laptop!.of('approval:requested')).toHaveLength(1);
    expect(viewerSocket!.of('approval:requested')).toEqual([]);
    const [audit] = await t.app.get(DataSource).query(`SELECT actor_id, target_id, details FROM audit_events WHERE action = 'approval.approved' AND target_id = $1`, [approval.id]);
    expect(audit).toMatchObject({ actor_id: member.id, details: { runId: run.id, toolName: 'everything__echo' } });
    const executed = await t.app.get(DataSource).query(`SELECT actor_id, target_id, details FROM audit_events WHERE action = 'tool.executed' AND target_id = $1`, [run.id]);
    expect(executed).toEqual([
      {
        actor_id: member.id,
        target_id: run.id,
        details: { toolName: 'everything__echo', toolCallId: 'call_deploy', origin: 'mcp', source: 'everything', status: 'completed' },
      },
    ]);
  });

  it('a denial is told to the model with its reason; the reply goes on without the tool', async () => {
    fake.enqueue(...echoThenAnswer('call_no', 'drop the table'));
    const run = await send(member, 'clean up');
    const approval = await requested(run.id);
    const denied = await decide(owner, approval.id, { decision: 'deny', reason: 'Not on a Friday' });
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({ status: 'denied', decidedBy: owner.id, reason: 'Not on a Friday' });
    const finished = await ended(run.id);
    expect(finished.status).toBe('completed');
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toMatch(/denied.*Not on a Friday/);
    expect(await echoCalls(run.id)).toMatchObject([{ status: 'failed' }]);
  });

  it('only the user who asked or the owner decides; a stranger learns nothing; bad input is a 400', async () => {
    fake.enqueue(...echoThenAnswer('call_who', 'who decides'));
    const run = await send(member, 'ask');
    const approval = await requested(run.id);
    expect((await decide(viewer, approval.id, { decision: 'approve' })).status).toBe(403);
    expect((await decide(stranger, approval.id, { decision: 'approve' })).status).toBe(404);
    expect((await t.http(`${API}/approvals/${approval.id}`, { token: stranger.accessToken })).status).toBe(404);
    expect((await t.http(`${API}/conversations/${conversationId}/approvals`, { token: stranger.accessToken })).status).toBe(404);
    expect((await decide(member, approval.id, { decision: 'maybe' })).status).toBe(400);
    expect((await decide(member, approval.id, { decision: 'deny', reason: 'x'.repeat(501) })).status).toBe(400);
    expect((await decide(member, 'not-a-uuid', { decision: 'approve' })).status).toBe(400);
    expect((await decide(member, '00000000-0000-4000-8000-000000000000', { decision: 'approve' })).status).toBe(404);
    expect((await t.http(`${API}/approvals/${approval.id}`, { token: viewer.accessToken })).body.status).toBe('pending');
    expect((await decide(member, approval.id, { decision: 'approve' })).status).toBe(200);
    expect((await ended(run.id)).status).toBe('completed');
  });

  it('two devices deciding at once: one wins, the other gets 409, and the tool runs once', async () => {
    fake.enqueue(...echoThenAnswer('call_race', 'race'));
    const run = await send(member, 'race');
    const approval = await requested(run.id);
    const answers = await Promise.all([decide(member, approval.id, { decision: 'approve' }), decide(owner, approval.id, { decision: 'approve' }), decide(member, approval.id, { decision: 'deny' })]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409, 409]);
    expect((await ended(run.id)).status).toBe('completed');
    expect(await echoCalls(run.id)).toHaveLength(1);
    const decisions = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM audit_events WHERE target_id = $1`, [approval.id]);
    expect(decisions[0].n).toBe(1);
  });

  it('cancelling a waiting run ends it with its text and withdraws its calls; later runs of the conversation wait for it', async () => {
    fake.enqueue(...echoThenAnswer('call_cancel', 'never'));
    const run = await send(member, 'first');
    const approval = await requested(run.id);
    const second = await send(owner, 'second');
    // The reply to the second message must see the first one's: it waits for it, even for an hour.
    expect(await t.app.get(RunsRepository).claimNext(conversationId, 'another-instance')).toBeUndefined();
    expect((await runOf(second.id)).status).toBe('queued');
    const cancelled = await t.http(`${API}/conversations/${conversationId}/runs/${run.id}/cancel`, { method: 'POST', token: member.accessToken });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await t.http(`${API}/approvals/${approval.id}`, { token: owner.accessToken })).body).toMatchObject({ status: 'denied', decidedBy: member.id, reason: 'The run was cancelled' });
    expect((await reply(cancelled.body)).status).toBe('cancelled');
    expect((await ended(second.id)).status).toBe('completed');
    expect((await decide(member, approval.id, { decision: 'approve' })).status).toBe(409);
  });

  it('several calls in one step wait together; decided at the same moment, the run resumes once and each tool runs once', async () => {
    fake.enqueue(
      {
        kind: 'tool',
        calls: [
          { id: 'call_a', name: 'everything__echo', argumentChunks: ['{"message": "a"}'] },
          { id: 'call_b', name: 'everything__echo', argumentChunks: ['{"message": "b"}'] },
        ],
      },
      { kind: 'text', chunks: ['Both done.'] },
    );
    const run = await send(member, 'two things');
    const approvals = await waitUntil(async () => {
      const page = await t.http(`${API}/conversations/${conversationId}/approvals?status=pending`, { token: member.accessToken });
      return page.body.items.length === 2 ? (page.body.items as { id: string; toolCallId: string }[]) : undefined;
    }, 'both approvals');
    expect(approvals.map((approval) => approval.toolCallId).sort()).toEqual(['call_a', 'call_b']);
    const answers = await Promise.all([decide(member, approvals[0]!.id, { decision: 'approve' }), decide(owner, approvals[1]!.id, { decision: 'approve' })]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    const finished = await ended(run.id);
    expect(finished.status).toBe('completed');
    expect((await echoCalls(run.id)).map((call) => call.status)).toEqual(['completed', 'completed']);
    expect(fake.requests).toHaveLength(2);
  });

  it('a resumed run may pause again, even when the provider reuses a call id; a provider error right after resuming is retried without running the tool again', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_0', name: 'everything__echo', argumentChunks: ['{"message": "first"}'] }] },
      { kind: 'status', status: 503 },
      { kind: 'tool', calls: [{ id: 'call_0', name: 'everything__echo', argumentChunks: ['{"message": "second"}'] }] },
      { kind: 'text', chunks: ['Twice.'] },
    );
    const run = await send(member, 'twice');
    const first = await requested(run.id);
    expect((await decide(member, first.id, { decision: 'approve' })).status).toBe(200);
    const second = await waitUntil(
      () => events.find((event): event is ApprovalEvent => event.type === 'approval.requested' && event.approval.runId === run.id && event.approval.id !== first.id)?.approval,
      'the second approval',
    );
    expect(second).toMatchObject({ toolCallId: 'call_0', input: { message: 'second' } });
    expect((await runOf(run.id)).status).toBe('awaiting_approval');
    expect((await decide(member, second.id, { decision: 'approve' })).status).toBe(200);
    const finished = await ended(run.id);
    expect(finished.status).toBe('completed');
    expect((await echoCalls(run.id)).map((call) => call.status)).toEqual(['completed', 'completed']);
    const message = await reply(finished);
    expect(message.content).toBe('Twice.');
    expect(message.metadata.toolCalls.map((call: { result: { text: string } }) => call.result.text)).toEqual(['Echo: first', 'Echo: second']);
  });

  it('deleting the message a paused run answers ends the run and its reply, withdraws the call and lets the next run go', async () => {
    fake.enqueue(...echoThenAnswer('call_gone', 'gone'));
    const sent = await t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token: member.accessToken, json: { content: 'soon deleted' } });
    const run = sent.body.run as { id: string };
    const approval = await requested(run.id);
    const next = await send(owner, 'next');
    const deleted = await t.http(`${API}/conversations/${conversationId}/messages/${sent.body.message.id}`, { method: 'DELETE', token: member.accessToken });
    expect(deleted.status).toBe(204);
    const finished = await ended(run.id);
    expect(finished.status).toBe('cancelled');
    expect((await reply(finished)).status).toBe('cancelled');
    expect((await t.http(`${API}/approvals/${approval.id}`, { token: owner.accessToken })).body.status).toBe('denied');
    expect((await ended(next.id)).status).toBe('completed');
    expect(await echoCalls(run.id)).toEqual([]);
  });

  it('deleting the message ends its paused run also when a regenerate of it queued behind', async () => {
    fake.enqueue(...echoThenAnswer('call_twice', 'twice'));
    const sent = await t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token: member.accessToken, json: { content: 'asked twice' } });
    const run = sent.body.run as { id: string };
    await requested(run.id);
    const again = await t.http(`${API}/conversations/${conversationId}/messages/${sent.body.message.id}/regenerate`, { method: 'POST', token: member.accessToken, json: {} });
    expect(again.status).toBe(201);
    const next = await send(owner, 'after both');
    expect((await t.http(`${API}/conversations/${conversationId}/messages/${sent.body.message.id}`, { method: 'DELETE', token: member.accessToken })).status).toBe(204);
    expect((await ended(run.id)).status).toBe('cancelled');
    expect((await ended(next.id)).status).toBe('completed');
  });

  it("erasing the account of the user who asked ends the paused run, withdraws its calls (audited) and lets the next run go", async () => {
    const leaving = await register(t, { displayName: 'Lee' });
    expect((await t.http(`${API}/conversations/${conversationId}/participants`, { method: 'POST', token: owner.accessToken, json: { userId: leaving.id, role: 'member' } })).status).toBe(201);
    fake.enqueue(...echoThenAnswer('call_erased', 'secret plans'));
    const run = await send(leaving, 'before I go');
    const approval = await requested(run.id);
    const next = await send(owner, 'still here');
    expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: leaving.accessToken })).status).toBe(204);
    expect((await ended(run.id)).status).toBe('cancelled');
    const withdrawn = (await t.http(`${API}/approvals/${approval.id}`, { token: owner.accessToken })).body;
    expect(withdrawn).toMatchObject({ status: 'denied', input: {} });
    expect((await ended(next.id)).status).toBe('completed');
    const audit = await t.app.get(DataSource).query(`SELECT action FROM audit_events WHERE target_id = $1`, [approval.id]);
    expect(audit).toEqual([{ action: 'approval.denied' }]);
  });
});

describe('approvals that nobody decides', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let user: Registered;

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startApp(fake, { APPROVAL_TTL_MS: '1000' });
    user = await register(t, { displayName: 'Ida' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('expire after APPROVAL_TTL_MS: the model is told, the run completes, a late decision is a 409', async () => {
    const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'late' } });
    fake.enqueue(...echoThenAnswer('call_late', 'too late'));
    const sent = await t.http(`${API}/conversations/${conversation.body.id}/messages`, { method: 'POST', token: user.accessToken, json: { content: 'later' } });
    const runId = sent.body.run.id;
    const approvals = await waitUntil(async () => {
      const page = await t.http(`${API}/conversations/${conversation.body.id}/approvals`, { token: user.accessToken });
      return page.body.items.length ? page.body.items : undefined;
    }, 'the approval');
    const finished = await waitUntil(async () => {
      const run = (await t.http(`${API}/conversations/${conversation.body.id}/runs/${runId}`, { token: user.accessToken })).body;
      return run.finishedAt ? run : undefined;
    }, 'the run to end', 15_000);
    expect(finished.status).toBe('completed');
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toMatch(/No one approved/);
    const late = await t.http(`${API}/approvals/${approvals[0].id}`, { method: 'POST', token: user.accessToken, json: { decision: 'approve' } });
    expect(late.status).toBe(409);
    expect(late.body.details.approvalStatus).toBe('expired');
  });
});

describe('approvals with the built-in agent (no language model)', () => {
  let t: TestApp;
  let user: Registered;

  beforeAll(async () => {
    t = await startTestApp({ AGENT_PROVIDER: 'builtin', MCP_CONFIG: everythingMcpConfig(), MCP_RETRY_BASE_MS: '20', MESSAGE_RATE_LIMIT: '100000' });
    await waitUntil(async () => (await t.http('/health/ready')).body.details?.mcp?.servers?.everything?.state === 'ready', 'the MCP server to be ready', 20_000);
    user = await register(t, { displayName: 'Noor' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('/tool calls an MCP tool: the call waits for approval, then the reply shows its result', async () => {
    const phone = await connectClient(t.baseUrl, user.accessToken);
    try {
      const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'offline' } });
      const listed = await t.http(`${API}/conversations/${conversation.body.id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content: '/tools' } });
      expect(listed.body.reply.content).toContain('`everything__echo`');
      const sent = await t.http(`${API}/conversations/${conversation.body.id}/messages`, {
        method: 'POST',
        token: user.accessToken,
        json: { content: '/tool everything__echo {"message": "from the phone"}' },
      });
      const { approval } = await phone.waitFor('approval:requested');
      expect(approval).toMatchObject({ toolName: 'everything__echo', input: { message: 'from the phone' }, status: 'pending' });
      expect((await phone.emit('approval:decide', { approvalId: approval.id, decision: 'approve' })).ok).toBe(true);
      const run = await waitUntil(async () => {
        const current = (await t.http(`${API}/conversations/${conversation.body.id}/runs/${sent.body.run.id}`, { token: user.accessToken })).body;
        return current.finishedAt ? current : undefined;
      }, 'the run to end');
      expect(run.status).toBe('completed');
      const messages = (await t.http(`${API}/conversations/${conversation.body.id}/messages`, { token: user.accessToken })).body.items;
      expect(messages.find((message: { id: string }) => message.id === run.responseMessageId).content).toBe('Echo: from the phone');
    } finally {
      phone.socket.close();
    }
  });
});
