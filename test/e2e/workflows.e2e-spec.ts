import { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { WebhookReceiver } from '../fixtures/webhook-receiver.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';
const SECRET = 'whsec-e2e-4b1d9f0c7a2e6b3d';

describe('Workflow tools', () => {
  let fake: FakeOpenAI;
  let receiver: WebhookReceiver;
  let t: TestApp;
  let user: Registered;
  let events: RealtimeEvent[];

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    receiver = await new WebhookReceiver(SECRET).start();
    const tickets = receiver.on('/tickets', (delivery, res) =>
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ ticket: 'OPS-7', title: delivery.body.input.title })),
    );
    const inputSchema = { type: 'object', properties: { title: { type: 'string', minLength: 1 } }, required: ['title'], additionalProperties: false };
    const config = {
      tickets: { description: 'Opens a ticket in the ops tracker', inputSchema, url: tickets, secret: SECRET, approval: 'never', responseSchema: { type: 'object', required: ['ticket'] } },
      // The default policy: every call waits for a person's approval.
      deploy: { description: 'Deploys a service', inputSchema, url: receiver.on('/deploy', (_, res) => res.writeHead(202, { 'content-type': 'text/plain' }).end('deploying')), secret: SECRET },
      // Signed with a secret the receiver does not know: it answers 401.
      forged: { description: 'Opens a ticket, misconfigured', inputSchema, url: receiver.on('/forged', () => undefined), secret: 'whsec-not-the-receivers-secret', approval: 'never' },
    };
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      WORKFLOWS_CONFIG: JSON.stringify(config),
      WORKFLOW_RETRY_BASE_MS: '10',
      MESSAGE_RATE_LIMIT: '100000',
    });
    user = await register(t, { displayName: 'Ada' });
    events = [];
    t.app.get(RealtimeBus).events$.subscribe((event) => events.push(event));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await receiver?.stop();
    await fake?.stop();
  });
  beforeEach(() => {
    fake.reset();
    events.length = 0;
  });

  const send = async (content: string) => {
    const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'workflows' } });
    const response = await t.http(`${API}/conversations/${conversation.body.id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content } });
    expect(response.status).toBe(201);
    return { conversationId: conversation.body.id as string, ...response.body };
  };
  const audited = (runId: string) => t.app.get(DataSource).query(`SELECT action, actor_id, details FROM audit_events WHERE target_id = $1`, [runId]);
  const invocation = async (runId: string) => (await t.app.get(DataSource).query(`SELECT name, status, result, error FROM tool_invocations WHERE run_id = $1`, [runId]))[0];

  it('offers each workflow to the model as workflow__<name> with its input schema', async () => {
    fake.enqueue({ kind: 'text', chunks: ['Hi.'] });
    await send('hello');
    const tools = fake.requests[0]!.body.tools as { function: { name: string; description: string; parameters: Record<string, unknown> } }[];
    const tickets = tools.find((tool) => tool.function.name === 'workflow__tickets');
    expect(tickets?.function).toMatchObject({ description: 'Opens a ticket in the ops tracker', parameters: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] } });
    expect(tools.map((tool) => tool.function.name)).toContain('workflow__forged');
  });

  it('calls the webhook with a signed delivery and records its answer in the reply, run:tool and tool_invocations', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_ticket', name: 'workflow__tickets', argumentChunks: ['{"title": ', '"Printer on fire"}'] }] },
      { kind: 'text', chunks: ['Opened OPS-7.'] },
    );
    const body = await send('open a ticket: the printer is on fire');
    expect(body.run.status).toBe('completed');
    expect(body.reply.content).toBe('Opened OPS-7.');
    const result = { status: 201, json: { ticket: 'OPS-7', title: 'Printer on fire' } };
    expect(body.reply.metadata.toolCalls).toEqual([{ callId: 'call_ticket', name: 'workflow__tickets', args: { title: 'Printer on fire' }, result }]);

    const [delivery] = receiver.to('/tickets');
    expect(delivery!.signatureValid).toBe(true);
    expect(delivery!.body).toMatchObject({ workflow: 'tickets', input: { title: 'Printer on fire' }, conversationId: body.conversationId, userId: user.id });
    expect(delivery!.headers['x-workflow-delivery']).toBe(delivery!.body.deliveryId);

    const toolEvents = events.filter((e): e is Extract<RealtimeEvent, { type: 'run.tool' }> => e.type === 'run.tool' && e.runId === body.run.id);
    expect(toolEvents.map((e) => e.status)).toEqual(['started', 'completed']);
    expect(toolEvents[1]).toMatchObject({ name: 'workflow__tickets', result });
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toContain('OPS-7');
    expect(await invocation(body.run.id)).toMatchObject({ name: 'workflow__tickets', status: 'completed', result });
    expect(await audited(body.run.id)).toEqual([
      { action: 'tool.executed', actor_id: user.id, details: { toolName: 'workflow__tickets', toolCallId: 'call_ticket', origin: 'workflow', source: 'tickets', status: 'completed' } },
    ]);
  });

  it('refuses arguments that do not match the input schema without calling the webhook', async () => {
    const before = receiver.to('/tickets').length;
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_bad', name: 'workflow__tickets', argumentChunks: ['{"title": "", "priority": 1}'] }] },
      { kind: 'text', chunks: ['Could not open it.'] },
    );
    const body = await send('open an empty ticket');
    expect(body.run.status).toBe('completed');
    expect(body.reply.metadata.toolCalls[0]).toMatchObject({ name: 'workflow__tickets', error: expect.stringContaining('Invalid arguments for workflow__tickets') });
    expect(receiver.to('/tickets')).toHaveLength(before);
  });

  it('records a delivery the receiver refuses (bad signature, 401) as a failed call, and goes on serving', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_forged', name: 'workflow__forged', argumentChunks: ['{"title": "Forged"}'] }] },
      { kind: 'text', chunks: ['The tracker refused it.'] },
    );
    const body = await send('open a ticket the other way');
    expect(body.run.status).toBe('completed');
    expect(body.reply.content).toBe('The tracker refused it.');
    const error = 'Workflow forged answered HTTP 401: {"error":"bad signature"}';
    expect(body.reply.metadata.toolCalls).toEqual([{ callId: 'call_forged', name: 'workflow__forged', args: { title: 'Forged' }, error }]);
    expect(receiver.to('/forged')).toHaveLength(1);
    expect(receiver.to('/forged')[0]!.signatureValid).toBe(false);
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toContain('HTTP 401');
    expect(await invocation(body.run.id)).toMatchObject({ name: 'workflow__forged', status: 'failed', error });
    expect(await audited(body.run.id)).toEqual([expect.objectContaining({ details: expect.objectContaining({ origin: 'workflow', source: 'forged', status: 'failed' }) })]);

    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_again', name: 'workflow__tickets', argumentChunks: ['{"title": "Still here"}'] }] },
      { kind: 'text', chunks: ['Done.'] },
    );
    const after = await send('and now the right way');
    expect(after.reply.metadata.toolCalls[0]).toMatchObject({ name: 'workflow__tickets', result: { status: 201, json: { ticket: 'OPS-7', title: 'Still here' } } });
    expect((await t.http('/health/ready')).status).toBe(200);
  });

  it('delivers a call under the default policy only once a person approves it', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_deploy', name: 'workflow__deploy', argumentChunks: ['{"title": "api v2"}'] }] },
      { kind: 'text', chunks: ['Deploying.'] },
    );
    const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'deploys' } });
    const sent = await t.http(`${API}/conversations/${conversation.body.id}/messages`, { method: 'POST', token: user.accessToken, json: { content: 'deploy api v2' } });
    const runId = sent.body.run.id as string;
    const approval = await waitUntil(
      () => events.find((e): e is Extract<RealtimeEvent, { type: 'approval.requested' }> => e.type === 'approval.requested' && e.approval.runId === runId)?.approval,
      'approval:requested',
    );
    expect(approval).toMatchObject({ toolName: 'workflow__deploy', input: { title: 'api v2' } });
    expect(receiver.to('/deploy')).toHaveLength(0);
    expect((await t.http(`${API}/approvals/${approval.id}`, { method: 'POST', token: user.accessToken, json: { decision: 'approve' } })).status).toBe(200);
    const run = await waitUntil(async () => {
      const current = (await t.http(`${API}/conversations/${conversation.body.id}/runs/${runId}`, { token: user.accessToken })).body;
      return current.finishedAt ? current : undefined;
    }, 'the run to end', 15_000);
    expect(run.status).toBe('completed');
    expect(receiver.to('/deploy')).toHaveLength(1);
    expect(receiver.to('/deploy')[0]!.signatureValid).toBe(true);
    expect(await invocation(runId)).toMatchObject({ name: 'workflow__deploy', status: 'completed', result: { status: 202, text: 'deploying' } });
  });
});
