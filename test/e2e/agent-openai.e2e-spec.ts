import { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { expectSteady } from '../support/absence.js';
import { type Registered, register } from '../support/auth.js';
import { assertDocumentedFetch } from '../support/openapi-validator.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitUntil } from '../support/conditions.js';

const API = '/api/v1';

const until = <T>(probe: () => T | Promise<T>, timeoutMs = 10_000) => waitUntil(probe, 'the condition', timeoutMs);

describe('AgentCore with an OpenAI-compatible provider', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let user: Registered;
  let events: RealtimeEvent[];

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      AGENT_ALLOWED_MODELS: 'fake-large',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      AGENT_RETRY_BASE_MS: '20',
      AGENT_CHECKPOINT_MS: '50',
      AGENT_IDLE_TIMEOUT_MS: '1000',
      AGENT_RUN_TIMEOUT_MS: '3000',
      MESSAGE_RATE_LIMIT: '100000',
    });
    user = await register(t, { displayName: 'Ada' });
    events = [];
    t.app.get(RealtimeBus).events$.subscribe((event) => events.push(event));
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  beforeEach(() => {
    fake.reset();
    events.length = 0;
  });

  const api = {
    post: (path: string, json: unknown = {}) => t.http(`${API}${path}`, { method: 'POST', token: user.accessToken, json }),
    get: (path: string) => t.http(`${API}${path}`, { token: user.accessToken }),
  };
  const newConversation = async (agent: Record<string, unknown> = {}) => (await api.post('/conversations', { title: 'agent', agent })).body.id as string;
  const deltasOf = (runId: string) =>
    events.filter((e): e is Extract<RealtimeEvent, { type: 'run.delta' }> => e.type === 'run.delta' && e.runId === runId);

  it('streams the reply in gap-free deltas and persists exactly what was streamed, with model and usage', async () => {
    fake.enqueue({ kind: 'text', chunks: ['Hel', 'lo', ', ', 'world', '!'], usage: { prompt: 42, completion: 5 } });
    const id = await newConversation({ systemPrompt: 'You are terse.' });
    const response = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'Say hello' });
    expect(response.status).toBe(201);
    const { run, reply } = response.body;
    expect(run).toMatchObject({ status: 'completed', provider: 'openai', model: 'fake-model', usage: { inputTokens: 42, outputTokens: 5 }, error: null });
    expect(reply).toMatchObject({ role: 'assistant', status: 'complete', content: 'Hello, world!', runId: run.id, metadata: { model: 'fake-model', usage: { inputTokens: 42, outputTokens: 5 } } });

    const deltas = deltasOf(run.id);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.map((d) => d.index)).toEqual(deltas.map((_, i) => i));
    expect(deltas.map((d) => d.text).join('')).toBe(reply.content);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['message.created', 'run.started', 'run.delta', 'run.completed']));

    const sent = fake.requests[0]!;
    expect(sent.headers.authorization).toBe('Bearer sk-test-not-a-real-key');
    expect(sent.body).toMatchObject({ model: 'fake-model', stream: true });
    expect(sent.body.messages[0]).toEqual({ role: 'system', content: 'You are terse.' });
    expect(sent.body.messages.at(-1)).toMatchObject({ role: 'user', content: 'Say hello' });
    expect(sent.body.tools?.map((tool) => tool.function.name).sort()).toEqual(
      ['calculator', 'conversation_stats', 'get_current_time', 'search_documents', 'search_history', 'summarize_conversation'],
    );
  });

  it('coalesces a fast token stream to about 30 frames per second without losing text', async () => {
    const chunks = Array.from({ length: 150 }, (_, i) => `t${i} `);
    fake.enqueue({ kind: 'text', chunks, delayMs: 2 });
    const id = await newConversation();
    const started = Date.now();
    const { body } = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'fast please' });
    const elapsed = Date.now() - started;
    const deltas = deltasOf(body.run.id);
    expect(deltas.map((d) => d.text).join('')).toBe(chunks.join(''));
    expect(body.reply.content).toBe(chunks.join(''));
    expect(deltas.map((d) => d.index)).toEqual(deltas.map((_, i) => i));
    expect(deltas.length).toBeLessThan(chunks.length / 2);
    expect(deltas.length).toBeLessThanOrEqual(Math.ceil(elapsed / 33) + 2);
  });

  it('sends the earlier turns of the conversation as context', async () => {
    const id = await newConversation();
    fake.enqueue({ kind: 'text', chunks: ['Noted.'] }, { kind: 'text', chunks: ['Blue.'] });
    await api.post(`/conversations/${id}/messages?wait=true`, { content: 'My favourite colour is blue.' });
    await api.post(`/conversations/${id}/messages?wait=true`, { content: 'What is my favourite colour?' });
    const second = fake.requests[1]!.body.messages;
    expect(second.map((m) => [m.role, m.content])).toEqual([
      ['system', expect.stringContaining('helpful assistant')],
      ['user', 'My favourite colour is blue.'],
      ['assistant', 'Noted.'],
      ['user', 'What is my favourite colour?'],
    ]);
  });

  it('runs a tool whose arguments arrive in pieces, records it, and answers with its result', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_calc', name: 'calculator', argumentChunks: ['{"expre', 'ssion": "(2+3)', ' * 4"}'] }] },
      { kind: 'text', chunks: ['The answer is ', '20.'] },
    );
    const id = await newConversation();
    const { body } = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'What is (2+3)*4?' });
    expect(body.run.status).toBe('completed');
    expect(body.reply.content).toBe('The answer is 20.');
    expect(body.reply.metadata.toolCalls).toEqual([
      { callId: 'call_calc', name: 'calculator', args: { expression: '(2+3) * 4' }, result: { expression: '(2+3) * 4', result: '20' } },
    ]);
    const toolEvents = events.filter((e) => e.type === 'run.tool');
    expect(toolEvents.map((e) => (e as { status: string }).status)).toEqual(['started', 'completed']);

    const followUp = fake.requests[1]!.body.messages;
    expect(followUp.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [expect.objectContaining({ id: 'call_calc' })] });
    expect(followUp.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_calc' });
    expect(String(followUp.at(-1)!.content)).toContain('20');

    const [invocation] = await t.app.get(DataSource).query(`SELECT name, status, arguments, result, duration_ms FROM tool_invocations WHERE run_id = $1`, [body.run.id]);
    expect(invocation).toMatchObject({ name: 'calculator', status: 'completed', arguments: { expression: '(2+3) * 4' }, result: { result: '20' } });
    expect(invocation.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('refuses hostile tool arguments without running the tool, and the run goes on', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_bad', name: 'calculator', argumentChunks: ['{"expression": {"$gt": ""}, "extra": "x"}'] }] },
      { kind: 'text', chunks: ['Sorry, I could not compute that.'] },
    );
    const id = await newConversation();
    const { body } = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'compute something' });
    expect(body.run.status).toBe('completed');
    expect(body.reply.metadata.toolCalls[0]).toMatchObject({ name: 'calculator', error: expect.any(String) });
    expect(events.filter((e) => e.type === 'run.tool').map((e) => (e as { status: string }).status)).toContain('failed');
    const rows = await t.app.get(DataSource).query(`SELECT status FROM tool_invocations WHERE run_id = $1`, [body.run.id]);
    expect(rows.every((row: { status: string }) => row.status === 'failed')).toBe(true);
  });

  it('retries provider errors before the first token with backoff', async () => {
    fake.enqueue({ kind: 'status', status: 429 }, { kind: 'status', status: 503 }, { kind: 'text', chunks: ['Third time lucky.'] });
    const id = await newConversation();
    const { body } = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'hi' });
    expect(body.run.status).toBe('completed');
    expect(body.reply.content).toBe('Third time lucky.');
    expect(fake.requests).toHaveLength(3);
  });

  it('fails cleanly when the provider keeps failing, saying what went wrong', async () => {
    fake.enqueue(...Array.from({ length: 5 }, () => ({ kind: 'status' as const, status: 503 })));
    const id = await newConversation();
    const { body } = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'hi' });
    expect(body.run).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_ERROR', message: expect.stringContaining('503') } });
    expect(body.reply).toMatchObject({ status: 'failed', content: '', metadata: { error: { code: 'PROVIDER_ERROR' } } });
    expect(fake.requests).toHaveLength(4);
  });

  it('keeps the partial text when the stream breaks off after the first token', async () => {
    fake.enqueue({ kind: 'cut', chunks: ['Partial ', 'answer'] });
    const id = await newConversation();
    const { body } = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'hi' });
    expect(body.run).toMatchObject({ status: 'failed', error: { code: 'STREAM_INTERRUPTED' } });
    expect(body.reply).toMatchObject({ status: 'failed', content: 'Partial answer' });
    expect(fake.requests).toHaveLength(1);
  });

  it('fails a run whose provider goes silent (idle timeout), keeping the text so far', async () => {
    fake.enqueue({ kind: 'text', chunks: ['first words ', 'never arrive'], delayMs: 2500 });
    const id = await newConversation();
    const { body } = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'hi' });
    expect(body.run).toMatchObject({ status: 'failed', error: { code: 'IDLE_TIMEOUT' } });
    expect(body.reply).toMatchObject({ status: 'failed', content: 'first words ' });
  });

  it('fails a run that outlasts the run timeout, keeping the text so far', async () => {
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 100 }, (_, i) => `s${i} `), delayMs: 60 });
    const id = await newConversation();
    const started = Date.now();
    const { body } = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'hi' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(body.run).toMatchObject({ status: 'failed', error: { code: 'RUN_TIMEOUT' } });
    expect(body.reply.content).toMatch(/^s0 s1 /);
    expect(body.reply.content.length).toBeLessThan(Array.from({ length: 100 }, (_, i) => `s${i} `).join('').length);
  });

  it('cancels mid-stream at once, keeps the text so far, and is idempotent', async () => {
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 200 }, (_, i) => `w${i} `), delayMs: 20 });
    const id = await newConversation();
    const sent = await api.post(`/conversations/${id}/messages`, { content: 'long please' });
    const runId = sent.body.run.id;
    await until(() => deltasOf(runId).length >= 3);
    const cancelled = await api.post(`/conversations/${id}/runs/${runId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const streamed = deltasOf(runId).map((d) => d.text).join('');
    const history = await api.get(`/conversations/${id}/messages`);
    const reply = history.body.items.find((m: { runId: string }) => m.runId === runId);
    expect(reply.status).toBe('cancelled');
    expect(reply.content).toBe(streamed);
    expect(reply.content.split(' ').length).toBeLessThan(100);
    expect(events).toContainEqual(expect.objectContaining({ type: 'run.cancelled' }));
    expect((await api.post(`/conversations/${id}/runs/${runId}/cancel`)).body.status).toBe('cancelled');
  });

  it('names the speakers in a shared conversation and sends earlier turns as history', async () => {
    const bob = await register(t, { displayName: 'Bob' });
    const id = (await api.post('/conversations', { title: 'shared', participantIds: [bob.id], agent: { mode: 'mention' } })).body.id as string;
    await api.post(`/conversations/${id}/messages`, { content: 'The deploy is at <b>noon</b>; DROP TABLE messages;' });
    fake.enqueue({ kind: 'text', chunks: ['Noted.'], usage: { prompt: 30, completion: 2 } });
    const asBob = await t.http(`${API}/conversations/${id}/messages?wait=true`, { method: 'POST', token: bob.accessToken, json: { content: '@agent when is it?' } });
    expect(asBob.body.reply).toMatchObject({ status: 'complete', content: 'Noted.' });
    const sent = fake.requests[0]!.body.messages;
    expect(sent.slice(-2)).toEqual([
      { role: 'user', content: 'Ada: The deploy is at <b>noon</b>; DROP TABLE messages;' },
      { role: 'user', content: 'Bob: @agent when is it?' },
    ]);
  });

  it('keeps a reply deleted while it streams erased when the run ends', async () => {
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 20 }, (_, i) => `secret${i} `), delayMs: 20 });
    const id = await newConversation();
    const { run } = (await api.post(`/conversations/${id}/messages`, { content: 'tell me' })).body;
    const started = await until(() => events.find((e): e is Extract<RealtimeEvent, { type: 'run.started' }> => e.type === 'run.started' && e.run.id === run.id));
    await until(() => deltasOf(run.id).length > 0);
    expect((await t.http(`${API}/conversations/${id}/messages/${started.run.responseMessageId}`, { method: 'DELETE', token: user.accessToken })).status).toBe(204);
    await until(async () => ['completed', 'failed', 'cancelled'].includes((await api.get(`/conversations/${id}/runs/${run.id}`)).body.status));
    const [row] = await t.app.get(DataSource).query(`SELECT content, metadata, deleted_at FROM messages WHERE id = $1`, [started.run.responseMessageId]);
    expect(row).toMatchObject({ content: '', metadata: {}, deleted_at: expect.any(Date) });
  });

  it('stops the run at once when its streaming reply is deleted, and the reply stays a tombstone', async () => {
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 200 }, (_, i) => `secret${i} `), delayMs: 20 });
    const id = await newConversation();
    const { run } = (await api.post(`/conversations/${id}/messages`, { content: 'tell me everything' })).body;
    const started = await until(() => events.find((e): e is Extract<RealtimeEvent, { type: 'run.started' }> => e.type === 'run.started' && e.run.id === run.id));
    await until(() => deltasOf(run.id).length >= 2);
    const deletedAt = Date.now();
    expect((await t.http(`${API}/conversations/${id}/messages/${started.run.responseMessageId}`, { method: 'DELETE', token: user.accessToken })).status).toBe(204);

    const ended = await until(() => events.find((e) => e.type === 'run.cancelled' && e.run.id === run.id), 2000);
    expect(Date.now() - deletedAt).toBeLessThan(1000);
    expect(ended).toMatchObject({ run: { status: 'cancelled' } });
    await until(() => fake.requests[0]!.aborted, 1000);
    const deltasAtEnd = deltasOf(run.id).length;
    await expectSteady(() => deltasOf(run.id).length === deltasAtEnd, 200, () => `${deltasOf(run.id).length - deltasAtEnd} deltas after the cancellation`);
    expect(deltasAtEnd).toBeLessThan(50);
    expect((await api.get(`/conversations/${id}/runs/${run.id}`)).body.status).toBe('cancelled');
    const [row] = await t.app.get(DataSource).query(`SELECT content, metadata, status, deleted_at FROM messages WHERE id = $1`, [started.run.responseMessageId]);
    expect(row).toMatchObject({ content: '', metadata: {}, status: 'cancelled', deleted_at: expect.any(Date) });
  });

  it('lets the model search other conversations only when the user is alone, and gives it clean excerpts', async () => {
    const privateId = await newConversation({ mode: 'off' });
    await api.post(`/conversations/${privateId}/messages`, { content: 'Private: the merger codeword is heron77' });
    const bob = await register(t, { displayName: 'Bob' });
    const sharedId = (await api.post('/conversations', { title: 'shared', participantIds: [bob.id] })).body.id as string;
    const searchFor = (id: string) => ({ kind: 'tool' as const, calls: [{ id: `call_${id}`, name: 'search_history', argumentChunks: ['{"query": "heron77 or codeword"}'] }] });

    fake.enqueue(searchFor('shared'), { kind: 'text', chunks: ['Nothing I can share.'] });
    const shared = (await api.post(`/conversations/${sharedId}/messages?wait=true`, { content: 'what was the codeword?' })).body;
    const sharedHits = shared.reply.metadata.toolCalls[0].result as { conversationId: string; excerpt: string }[];
    expect(sharedHits).toEqual([expect.objectContaining({ conversationId: sharedId, excerpt: 'what was the **codeword**' })]);
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).not.toContain('heron77');
    expect(JSON.stringify(shared.reply.metadata.sources)).not.toContain(privateId);

    const aloneId = await newConversation();
    fake.enqueue(searchFor('alone'), { kind: 'text', chunks: ['Found it.'] });
    const alone = (await api.post(`/conversations/${aloneId}/messages?wait=true`, { content: 'remind me' })).body;
    const aloneHits = alone.reply.metadata.toolCalls[0].result as { conversationId: string; excerpt: string }[];
    expect(aloneHits).toContainEqual(expect.objectContaining({ conversationId: privateId, excerpt: 'Private: the merger **codeword** is **heron77**' }));
    expect(aloneHits.map((hit) => hit.excerpt).join(' ')).not.toContain(',');
  });

  it('runs the runs of one conversation one at a time, in order', async () => {
    fake.enqueue({ kind: 'text', chunks: ['one'], delayMs: 50 }, { kind: 'text', chunks: ['two'], delayMs: 50 }, { kind: 'text', chunks: ['three'], delayMs: 50 });
    const id = await newConversation();
    const sent = [];
    for (const content of ['first', 'second', 'third']) sent.push((await api.post(`/conversations/${id}/messages`, { content })).body);
    const runs = await Promise.all(sent.map(async (s) => (await until(async () => {
      const run = (await api.get(`/conversations/${id}/runs/${s.run.id}`)).body;
      return run.status === 'completed' ? run : undefined;
    })) as { startedAt: string; finishedAt: string }));
    expect(fake.requests.map((r) => r.body.messages.at(-1)!.content)).toEqual(['first', 'second', 'third']);
    for (let i = 1; i < runs.length; i++) expect(Date.parse(runs[i]!.startedAt)).toBeGreaterThanOrEqual(Date.parse(runs[i - 1]!.finishedAt));
    const history: { content: string; role: string }[] = (await api.get(`/conversations/${id}/messages`)).body.items;
    expect(history.filter((m) => m.role === 'assistant').map((m) => m.content)).toEqual(['one', 'two', 'three']);
    expect(history.findIndex((m) => m.content === 'one')).toBeGreaterThan(history.findIndex((m) => m.content === 'first'));
  });

  it('honours the agent modes: off never, mention only with @agent', async () => {
    const off = await newConversation({ mode: 'off' });
    expect((await api.post(`/conversations/${off}/messages`, { content: 'hello @agent' })).body.run).toBeNull();
    const mention = await newConversation({ mode: 'mention' });
    expect((await api.post(`/conversations/${mention}/messages`, { content: 'just us humans' })).body.run).toBeNull();
    expect((await api.post(`/conversations/${mention}/messages`, { content: 'email me@agent.com' })).body.run).toBeNull();
    const asked = await api.post(`/conversations/${mention}/messages?wait=true`, { content: '@agent what do you think?' });
    expect(asked.body.run.status).toBe('completed');
    expect(fake.requests).toHaveLength(1);
  });

  it('regenerates: a new run answering the same message', async () => {
    fake.enqueue({ kind: 'text', chunks: ['first try'] }, { kind: 'text', chunks: ['second try'] });
    const id = await newConversation();
    const first = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'tell me' });
    const again = await api.post(`/conversations/${id}/messages/${first.body.message.id}/regenerate`);
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ triggerMessageId: first.body.message.id, status: 'queued' });
    expect(again.body.id).not.toBe(first.body.run.id);
    const done = await until(async () => {
      const run = (await api.get(`/conversations/${id}/runs/${again.body.id}`)).body;
      return run.status === 'completed' ? run : undefined;
    });
    expect(done.responseMessageId).not.toBe(first.body.run.responseMessageId);
    expect((await api.post(`/conversations/${id}/messages/${first.body.reply.id}/regenerate`)).status).toBe(400);
  });

  it('streams a run over SSE from POST …/messages with Accept: text/event-stream', async () => {
    fake.enqueue({ kind: 'text', chunks: ['Stream', 'ed ', 'reply'] });
    const id = await newConversation();
    const response = await fetch(new URL(`${API}/conversations/${id}/messages`, t.baseUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ content: 'stream it' }),
    });
    await assertDocumentedFetch(response, 'POST');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    const frames = text.split('\n\n').filter((frame) => frame.startsWith('event:'));
    const names = frames.map((frame) => frame.match(/^event: (.+)$/m)![1]);
    expect(names[0]).toBe('message:created');
    expect(names).toContain('run:started');
    expect(names.at(-1)).toBe('run:completed');
    const deltas = frames.filter((frame) => frame.startsWith('event: run:delta')).map((frame) => JSON.parse(frame.match(/^data: (.+)$/m)![1]!));
    expect(deltas.map((d) => d.index)).toEqual(deltas.map((_: unknown, i: number) => i));
    expect(deltas.map((d) => d.text).join('')).toBe('Streamed reply');
  });

  it('lets conversations pick only configured providers and allowed models, and runs a retired choice on the server default', async () => {
    const patch = (id: string, agent: unknown) => t.http(`${API}/conversations/${id}`, { method: 'PATCH', token: user.accessToken, json: { agent } });
    const pricey = await api.post('/conversations', { agent: { model: 'gpt-5-pricey' } });
    expect(pricey.status).toBe(400);
    expect(pricey.body).toMatchObject({ code: 'VALIDATION', details: { 'agent.model': [expect.stringContaining('fake-model, fake-large')] } });
    const unconfigured = await api.post('/conversations', { agent: { provider: 'anthropic', model: 'fake-large' } });
    expect(unconfigured.status).toBe(400);
    expect(unconfigured.body.details).toEqual({ 'agent.provider': [expect.stringContaining('builtin, openai')] });

    const id = await newConversation({ model: 'fake-large' });
    expect((await patch(id, { model: 'gpt-5-pricey' })).body.details).toHaveProperty(['agent.model']);
    expect((await patch(id, { provider: 'builtin' })).body.details).toHaveProperty(['agent.model']);
    expect((await patch(id, { provider: 'anthropic' })).body.details).toHaveProperty(['agent.provider']);
    expect((await api.get(`/conversations/${id}`)).body.agent).toMatchObject({ provider: null, model: 'fake-large' });
    const chosen = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'big model please' });
    expect(chosen.body.run).toMatchObject({ status: 'completed', model: 'fake-large' });
    expect(fake.requests.at(-1)!.body.model).toBe('fake-large');

    // A setting stored before the operator narrowed the list is not honoured any more.
    await t.app.get(DataSource).query(`UPDATE conversations SET agent_provider = 'anthropic', agent_model = 'retired-model' WHERE id = $1`, [id]);
    await until(async () => (await api.get(`/conversations/${id}`)).body.agent.model === 'retired-model', 5000);
    const retired = await api.post(`/conversations/${id}/messages?wait=true`, { content: 'and now?' });
    expect(retired.body.run).toMatchObject({ status: 'completed', provider: 'openai', model: 'fake-model' });
    expect(fake.requests.at(-1)!.body.model).toBe('fake-model');
  });
});
