import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { AI_SDK_VERSION, DefaultChatTransport, type UIMessage } from '../support/ai-sdk.js';
import { register, type Registered } from '../support/auth.js';
import { assertDocumentedFetch } from '../support/openapi-validator.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { everythingServerBin } from '../support/mcp.js';
import { approvingChat, chatTransport, RecordingFetch, type RecordedStream, TestChat, textOf } from '../support/ui-chat.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';
import { waitUntil } from '../support/conditions.js';

const API = '/api/v1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const until = <T>(probe: () => T | Promise<T>, timeoutMs = 10_000) => waitUntil(probe, 'the condition', timeoutMs);

/** A promise to hold a fake provider's stream on, and the function that lets it go on. */
function gate(): { until: Promise<void>; open: () => void } {
  let open!: () => void;
  return { until: new Promise<void>((resolve) => (open = resolve)), open };
}

/** Every stream spoke the protocol: valid frames and chunks, `start` first, `[DONE]` last. */
function expectWellFormed(stream: RecordedStream): void {
  expect(stream.problems).toEqual([]);
  expect(stream.status).toBe(200);
  expect(stream.headers.get('content-type')).toBe('text/event-stream');
  expect(stream.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
  expect(stream.headers.get('x-accel-buffering')).toBe('no');
  expect(stream.headers.get('cache-control')).toBe('no-cache');
  expect(stream.chunks[0]?.type).toBe('start');
  expect(stream.done).toBe(true);
  expect(['finish', 'error', 'abort']).toContain(stream.chunks.at(-1)?.type);
}

/** The chunk types in order, a run of text-delta counted once (the model decides how it splits its text). */
const types = (stream: RecordedStream) =>
  stream.chunks.map((chunk) => chunk.type).filter((type, i, all) => type !== 'text-delta' || all[i - 1] !== 'text-delta');
const lastAssistant = (chat: TestChat) => chat.messages.findLast((message) => message.role === 'assistant');
const partsOf = (message: UIMessage | undefined, type: string) => (message?.parts ?? []).filter((part) => part.type === type) as Record<string, unknown>[];

interface Harness {
  t: TestApp;
  recorder: RecordingFetch;
  chat(user: Registered, id: string): TestChat;
  conversation(user: Registered, agent?: Record<string, unknown>): Promise<string>;
  messages(user: Registered, id: string): Promise<Record<string, unknown>[]>;
  post(user: Registered | undefined, path: string, json?: unknown): ReturnType<TestApp['http']>;
}

function harness(getApp: () => TestApp): Harness {
  const h: Harness = {
    get t() {
      return getApp();
    },
    recorder: new RecordingFetch(),
    chat: (user, id) => new TestChat({ id, transport: chatTransport(h.t.baseUrl, user.accessToken, h.recorder) }),
    conversation: async (user, agent = {}) => (await h.post(user, '/conversations', { title: 'useChat', agent })).body.id as string,
    messages: async (user, id) => (await h.t.http(`${API}/conversations/${id}/messages`, { token: user.accessToken })).body.items,
    post: (user, path, json = {}) => h.t.http(`${API}${path}`, { method: 'POST', json, ...(user && { token: user.accessToken }) }),
  };
  return h;
}

describe(`useChat (AI SDK ${AI_SDK_VERSION} UI message stream) with the built-in agent`, () => {
  let t: TestApp;
  let user: Registered;
  const h = harness(() => t);
  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, AGENT_PROVIDER: 'builtin', MESSAGE_RATE_LIMIT: '100000', MESSAGE_MAX_LENGTH: '200' });
    user = await register(t, { displayName: 'Ada' });
  });
  afterAll(() => t?.close());
  afterEach(() => h.recorder.check());

  it('streams the reply of a slash command through its tool, and the SDK rebuilds exactly the persisted reply', async () => {
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: '/calc 2+2' });
    expect(chat.status).toBe('ready');
    const [stream] = h.recorder.streams;
    expectWellFormed(stream!);
    expect(stream!.requestBody).toMatchObject({ id, trigger: 'submit-message', messages: [{ role: 'user', parts: [{ type: 'text', text: '/calc 2+2' }] }] });

    const [sent, reply] = await h.messages(user, id);
    const assistant = lastAssistant(chat)!;
    expect(assistant.id).toBe(reply!.id);
    expect(textOf(assistant)).toBe(reply!.content);
    expect(reply).toMatchObject({ role: 'assistant', status: 'complete', content: '2+2 = 4' });
    expect(sent).toMatchObject({ role: 'user', content: '/calc 2+2', clientMessageId: chat.messages[0]!.id });
    expect(partsOf(assistant, 'tool-calculator')).toEqual([
      expect.objectContaining({ state: 'output-available', input: { expression: '2+2' }, output: { expression: '2+2', result: '4' } }),
    ]);
    // A new step after the tool's result, as the SDK's own streams have it.
    expect(partsOf(assistant, 'step-start')).toHaveLength(2);
    expect(partsOf(assistant, 'data-message').map((part) => part.data)).toEqual([
      expect.objectContaining({ id: sent!.id, seq: 1, version: sent!.version, role: 'user' }),
      expect.objectContaining({ id: reply!.id, seq: 2, version: reply!.version, role: 'assistant', status: 'complete' }),
    ]);
    expect(partsOf(assistant, 'data-run')).toEqual([expect.objectContaining({ data: expect.objectContaining({ status: 'completed', triggerMessageId: sent!.id, responseMessageId: reply!.id }) })]);
    expect(types(stream!)).toEqual([
      'start', 'start-step', 'data-message', 'data-run', 'tool-input-available', 'tool-output-available',
      'finish-step', 'start-step', 'text-start', 'text-delta', 'text-end', 'data-message', 'data-run', 'finish-step', 'finish',
    ]);
    expect(stream!.chunks.at(-1)).toEqual({ type: 'finish', finishReason: 'stop' });
  });

  it('shows the messages search_history found as source-document parts', async () => {
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: 'the pineapple budget is due on friday' });
    await chat.sendMessage({ text: '/search pineapple' });
    const [first] = await h.messages(user, id);
    const sources = partsOf(lastAssistant(chat), 'source-document');
    expect(sources).toContainEqual(
      expect.objectContaining({ sourceId: first!.id, mediaType: 'text/markdown', title: 'useChat #1', providerMetadata: { agentChat: expect.objectContaining({ type: 'message', id: first!.id, seq: 1 }) } }),
    );
    expect(partsOf(lastAssistant(chat), 'tool-search_history')).toEqual([expect.objectContaining({ state: 'output-available' })]);
  });

  it('shows the document passages /docs found as source-document parts, as soon as the search returns', async () => {
    const id = await h.conversation(user);
    const form = new FormData();
    form.append('conversationId', id);
    form.append('file', new Blob(['# Orchard\n\nThe quincefold orchard is watered at dawn.\n']), 'orchard.md');
    const document = (await h.t.http(`${API}/documents`, { method: 'POST', token: user.accessToken, body: form })).body;
    await until(async () => (await h.t.http(`${API}/documents/${document.id}`, { token: user.accessToken })).body.status === 'ready');
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: '/docs quincefold' });
    const [source] = partsOf(lastAssistant(chat), 'source-document');
    expect(source).toEqual({
      type: 'source-document',
      sourceId: `${document.id}#0`,
      mediaType: 'text/markdown',
      title: 'orchard.md',
      filename: 'orchard.md',
      providerMetadata: { agentChat: expect.objectContaining({ type: 'document', id: document.id, chunk: 0, snippet: expect.stringContaining('**quincefold**') }) },
    });
    const stream = h.recorder.streams.at(-1)!;
    expectWellFormed(stream);
    expect(types(stream)).toEqual([
      'start', 'start-step', 'data-message', 'data-run', 'tool-input-available', 'tool-output-available', 'source-document',
      'finish-step', 'start-step', 'text-start', 'text-delta', 'text-end', 'data-message', 'data-run', 'finish-step', 'finish',
    ]);
  });

  it('answers honestly when the agent does not reply: the stored message, no text', async () => {
    for (const agent of [{ mode: 'off' }, { mode: 'mention' }]) {
      const id = await h.conversation(user, agent);
      const chat = h.chat(user, id);
      await chat.sendMessage({ text: 'just people talking' });
      const stream = h.recorder.streams.at(-1)!;
      expectWellFormed(stream);
      const [stored] = await h.messages(user, id);
      expect(stream.chunks).toEqual([
        { type: 'start' },
        { type: 'data-message', id: stored!.id, data: expect.objectContaining({ id: stored!.id, seq: 1, role: 'user', runId: null }) },
        { type: 'finish', finishReason: 'other' },
      ]);
      expect(textOf(lastAssistant(chat))).toBe('');
      expect(await h.messages(user, id)).toHaveLength(1);
    }
    const id = await h.conversation(user, { mode: 'mention' });
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: '@agent /calc 6*7' });
    expect(textOf(lastAssistant(chat))).toBe('6*7 = 42');
  });

  it('a retried POST (same UI message id) adds nothing and streams the same reply again', async () => {
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: '/calc 1+1' });
    const first = h.recorder.streams.at(-1)!;
    const response = await fetch(`${t.baseUrl}${API}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.accessToken}` },
      body: JSON.stringify(first.requestBody),
    });
    await assertDocumentedFetch(response, 'POST');
    expect(response.status).toBe(200);
    const again = await response.text();
    expect(again).toContain(`"messageId":"${(first.chunks[0] as { messageId: string }).messageId}"`);
    expect(again).toContain('"delta":"1+1 = 2"');
    expect(again.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await h.messages(user, id)).toHaveLength(2);
  });

  it('regenerates: answers again the user message the regenerated reply answered', async () => {
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: '/calc 3*3' });
    const firstReply = lastAssistant(chat)!.id;
    await chat.regenerate();
    expectWellFormed(h.recorder.streams.at(-1)!);
    expect(h.recorder.streams.at(-1)!.requestBody).toMatchObject({ trigger: 'regenerate-message' });
    const second = lastAssistant(chat)!;
    expect(second.id).not.toBe(firstReply);
    expect(textOf(second)).toBe('3*3 = 9');
    expect(chat.messages.map((message) => message.role)).toEqual(['user', 'assistant']);

    await chat.regenerate({ messageId: second.id });
    expect(h.recorder.streams.at(-1)!.requestBody).toMatchObject({ trigger: 'regenerate-message', messageId: second.id });
    const stored = await h.messages(user, id);
    expect(stored.map((message) => message.role)).toEqual(['user', 'assistant', 'assistant', 'assistant']);
    const runs = partsOf(lastAssistant(chat), 'data-run').map((part) => part.data as { triggerMessageId: string });
    expect(runs).toEqual([expect.objectContaining({ triggerMessageId: stored[0]!.id })]);
  });

  it('takes the whole history useChat posts for a long conversation, well past the 64 KB body limit of other routes', async () => {
    const id = await h.conversation(user, { mode: 'off' });
    const earlier = Array.from({ length: 400 }, (_, i) => ({ id: `old-${i}`, role: i % 2 ? 'assistant' : 'user', parts: [{ type: 'text', text: 'x'.repeat(2_000) }] }));
    const last = { id: 'long-history-last', role: 'user', parts: [{ type: 'text', text: 'still here' }] };
    const accepted = await h.post(user, '/chat', { id, trigger: 'submit-message', messages: [...earlier, last] });
    expect(accepted.status).toBe(200);
    expect((await h.messages(user, id)).map((message) => message.content)).toEqual(['still here']);
    // Past CHAT_BODY_LIMIT (4 MB) it is the usual 413, and other routes keep their own limit.
    const huge = Array.from({ length: 2_200 }, (_, i) => ({ id: `huge-${i}`, role: 'assistant', parts: [{ type: 'text', text: 'y'.repeat(2_000) }] }));
    const refused = await h.post(user, '/chat', { id, trigger: 'submit-message', messages: [...huge, last] });
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect((await h.post(user, `/conversations/${id}/messages`, { content: 'z'.repeat(100), padding: 'p'.repeat(70_000) })).status).toBe(413);
    // Only a signed-in caller gets a large body read at all: the token is checked before the body
    // (read first, this one would be a 400 for its JSON).
    const anonymous = await t.http(`${API}/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"id": "${'x'.repeat(2_000_000)}` });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('works as well when the client sends only its last message (the README recipe for long conversations)', async () => {
    const id = await h.conversation(user);
    const chat = new TestChat({
      id,
      transport: new DefaultChatTransport({
        api: `${t.baseUrl}/api/v1/chat`,
        headers: () => ({ Authorization: `Bearer ${user.accessToken}` }),
        fetch: h.recorder.fetch,
        prepareSendMessagesRequest: ({ id: chatId, messages, trigger, messageId }) => ({ body: { id: chatId, messages: messages.slice(-1), trigger, messageId } }),
      }),
    });
    await chat.sendMessage({ text: '/calc 2*5' });
    await chat.sendMessage({ text: '/calc 2*6' });
    await chat.regenerate();
    expect(h.recorder.streams.map((stream) => (stream.requestBody as { messages: unknown[] }).messages.length)).toEqual([1, 1, 1]);
    expect(chat.messages.map(textOf)).toEqual(['/calc 2*5', '2*5 = 10', '/calc 2*6', '2*6 = 12']);
    expect((await h.messages(user, id)).map((message) => message.content)).toEqual(['/calc 2*5', '2*5 = 10', '/calc 2*6', '2*6 = 12', '2*6 = 12']);
  });

  it('refuses to reuse a sent message id for other text (useChat edit) with 409', async () => {
    const id = await h.conversation(user, { mode: 'off' });
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: 'first words' });
    await chat.sendMessage({ text: 'second thoughts', messageId: chat.messages[0]!.id });
    expect(chat.status).toBe('error');
    expect(JSON.parse(chat.error!.message)).toMatchObject({ statusCode: 409, code: 'MESSAGE_ID_REUSED', requestId: expect.any(String) });
    expect(await h.messages(user, id)).toHaveLength(1);
  });

  it('resume answers 204 when no reply is streaming; stop answers 204 when there is none to stop', async () => {
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    await chat.resumeStream();
    expect(chat.status).toBe('ready');
    expect(chat.messages).toEqual([]);
    const resumed = await t.http(`${API}/chat/${id}/stream`, { token: user.accessToken });
    expect(resumed.status).toBe(204);
    expect((await h.post(user, `/chat/${id}/stop`)).status).toBe(204);
  });

  describe('access', () => {
    let world: World;
    beforeAll(async () => {
      world = await createWorld(t, 'auto');
    });
    const body = (id: string) => ({ id, trigger: 'submit-message', messages: [{ id: 'm-1', role: 'user', parts: [{ type: 'text', text: '/time' }] }] });

    it('needs a bearer token', async () => {
      const response = await h.post(undefined, '/chat', body(world.conversationId));
      expect(response.status).toBe(401);
    });

    it('hides the conversation from a stranger (404) and lets a viewer read but not send (403)', async () => {
      const id = world.conversationId;
      for (const response of [
        await h.post(world.outsider, '/chat', body(id)),
        await t.http(`${API}/chat/${id}/stream`, { token: world.outsider.accessToken }),
        await h.post(world.outsider, `/chat/${id}/stop`),
      ]) {
        expect(response.status).toBe(404);
        expect(response.body).toEqual({ statusCode: 404, error: 'Not Found', code: 'CONVERSATION_NOT_FOUND', message: expect.any(String), requestId: expect.any(String) });
      }
      const viewerSend = await h.post(world.viewer, '/chat', body(id));
      expect(viewerSend.status).toBe(403);
      expect(viewerSend.body).toMatchObject({ statusCode: 403, code: 'FORBIDDEN', requestId: expect.any(String) });
      expect((await h.post(world.viewer, `/chat/${id}/stop`)).status).toBe(403);
      expect((await t.http(`${API}/chat/${id}/stream`, { token: world.viewer.accessToken })).status).toBe(204);
      expect(await h.messages(world.owner, id)).toEqual([]);
    });
  });

  describe('hostile bodies are 400 in the common error shape', () => {
    let id: string;
    beforeAll(async () => {
      id = await h.conversation(user);
    });
    const message = (text: unknown, extra: Record<string, unknown> = {}) => ({ id: 'm-1', role: 'user', parts: [{ type: 'text', text }], ...extra });
    // The messages array is checked in one pass; its first problem is named by its path.
    const cases: [string, (conversation: string) => unknown, string, string][] = [
      ['no body', () => undefined, 'id', 'id must be a UUID'],
      ['a conversation id that is no UUID', () => ({ id: 'chat-1', trigger: 'submit-message', messages: [message('hi')] }), 'id', 'id must be a UUID'],
      ['messages that are not an array', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: 'hi' }), 'messages', 'messages must be an array'],
      ['no messages', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [] }), 'messages', 'messages must hold 1 to 10000 messages'],
      ['an unknown trigger', (conversation) => ({ id: conversation, trigger: 'resume-stream', messages: [message('hi')] }), 'trigger', 'trigger must be one of'],
      ['a message that is a string', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: ['hi'] }), 'messages', 'messages.0 must be an object'],
      ['a text part whose text is a number', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [message(42)] }), 'messages', 'messages.0.parts.0 is a text part without a string text'],
      ['parts that are not objects', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [{ id: 'm', role: 'user', parts: [null, 'x'] }] }), 'messages', 'messages.0.parts.0 must be an object'],
      ['an unknown role', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [{ ...message('hi'), role: 'tool' }] }), 'messages', 'messages.0.role must be one of'],
      ['a message id with spaces', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [{ ...message('hi'), id: 'a b' }] }), 'messages', 'messages.0.id must be'],
      ['a huge array of messages', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: Array.from({ length: 20_000 }, () => ({})) }), 'messages', 'messages must hold 1 to 10000 messages'],
      ['a huge array of parts', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [{ id: 'm', role: 'user', parts: Array.from({ length: 1000 }, () => ({ type: 'x' })) }] }), 'messages', 'messages.0.parts must be an array of at most 100 parts'],
      ['a last message that is not the user\'s', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [message('hi', { role: 'assistant' })] }), 'messages.0.role', 'the last message must be the user message'],
      ['a blank text', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [message('   ')] }), 'messages.0.parts', 'must have text'],
      ['a text over MESSAGE_MAX_LENGTH', (conversation) => ({ id: conversation, trigger: 'submit-message', messages: [message('x'.repeat(201))] }), 'messages.0.parts', 'shorter than or equal to 200 characters'],
    ];
    it.each(cases)('%s', async (_name, build, field, problem) => {
      const response = await h.post(user, '/chat', build(id));
      expect(response.status, response.text).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'VALIDATION', requestId: expect.any(String) });
      expect(Object.keys(response.body.details)).toContain(field);
      expect(response.body.details[field][0]).toContain(problem);
    });

    it('deep nesting', async () => {
      let deep: unknown = 'x';
      for (let i = 0; i < 200; i++) deep = { deep };
      const response = await h.post(user, '/chat', { id, trigger: 'submit-message', messages: [message('hi', { metadata: deep })] });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION', message: expect.stringContaining('nested'), requestId: expect.any(String) });
    });

    it("ignores top-level fields of the app's own (useChat's `body` option) instead of refusing them", async () => {
      const own = await h.conversation(user, { mode: 'off' });
      const response = await h.post(user, '/chat', { id: own, trigger: 'submit-message', messages: [message('with extras', { id: 'extras-1' })], model: 'gpt-4o', tenant: { id: 7 } });
      expect(response.status).toBe(200);
      expect((await h.messages(user, own)).map((stored) => stored.content)).toEqual(['with extras']);
    });

    it('a regenerate naming a message of another conversation is 404, not a regenerate of something else', async () => {
      const [here, other] = [await h.conversation(user, { mode: 'off' }), await h.conversation(user, { mode: 'off' })];
      await h.post(user, '/chat', { id: here, trigger: 'submit-message', messages: [message('asked here', { id: 'here-1' })] });
      await h.post(user, '/chat', { id: other, trigger: 'submit-message', messages: [message('elsewhere', { id: 'elsewhere-1' })] });
      const foreign = (await h.messages(user, other))[0]!.id as string;
      // The body's last user message is one of this conversation: it must not be answered instead.
      const response = await h.post(user, '/chat', { id: here, trigger: 'regenerate-message', messageId: foreign, messages: [message('asked here', { id: 'here-1' })] });
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
      expect((await t.http(`${API}/conversations/${here}/messages`, { token: user.accessToken })).body.items).toHaveLength(1);
    });

    it('a regenerate naming nothing of this conversation is 404', async () => {
      const response = await h.post(user, '/chat', { id, trigger: 'regenerate-message', messages: [message('hi', { id: 'never-sent' })] });
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
      expect(await h.messages(user, id)).toEqual([]);
    });
  });
});

describe(`useChat (AI SDK ${AI_SDK_VERSION} UI message stream) with an OpenAI-compatible provider`, () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let user: Registered;
  const h = harness(() => t);
  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      AGENT_RETRY_BASE_MS: '20',
      AGENT_IDLE_TIMEOUT_MS: '20000',
      MESSAGE_RATE_LIMIT: '100000',
    });
    user = await register(t, { displayName: 'Grace' });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  afterEach(() => {
    fake.reset();
    h.recorder.check();
  });

  it('streams the text token by token and ends with the persisted reply', async () => {
    const chunks = ['Hel', 'lo', ', ', 'wor', 'ld', '!'];
    fake.enqueue({ kind: 'text', chunks, delayMs: 5 });
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: 'Say hello' });
    const stream = h.recorder.streams[0]!;
    expectWellFormed(stream);
    const deltas = stream.chunks.filter((chunk) => chunk.type === 'text-delta').map((chunk) => chunk.delta);
    expect(deltas.join('')).toBe('Hello, world!');
    expect(deltas.length).toBeGreaterThan(1);
    const [, reply] = await h.messages(user, id);
    expect(reply).toMatchObject({ content: 'Hello, world!', status: 'complete' });
    expect(lastAssistant(chat)!.id).toBe(reply!.id);
    expect(textOf(lastAssistant(chat))).toBe(reply!.content);
  });

  it('shows tool calls as tool parts: a result, and a refused call as output-error', async () => {
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_ok', name: 'calculator', argumentChunks: ['{"expression": "(2+3)*4"}'] }, { id: 'call_bad', name: 'calculator', argumentChunks: ['{"expression": 7}'] }] },
      { kind: 'text', chunks: ['It is ', '20.'] },
    );
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: 'What is (2+3)*4?' });
    const assistant = lastAssistant(chat)!;
    expect(partsOf(assistant, 'tool-calculator')).toEqual([
      expect.objectContaining({ toolCallId: 'call_ok', state: 'output-available', input: { expression: '(2+3)*4' }, output: { expression: '(2+3)*4', result: '20' } }),
      expect.objectContaining({ toolCallId: 'call_bad', state: 'output-error', errorText: expect.any(String) }),
    ]);
    expect(textOf(assistant)).toBe('It is 20.');
    expectWellFormed(h.recorder.streams[0]!);
  });

  it('reports a provider error as an error part; the failed reply is persisted', async () => {
    fake.enqueue({ kind: 'status', status: 401 });
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    await chat.sendMessage({ text: 'hi' });
    const stream = h.recorder.streams[0]!;
    expectWellFormed(stream);
    expect(stream.chunks.at(-1)).toEqual({ type: 'error', errorText: expect.stringContaining('credentials') });
    expect(chat.status).toBe('error');
    expect(chat.error?.message).toContain('credentials');
    const [, reply] = await h.messages(user, id);
    expect(reply).toMatchObject({ status: 'failed', metadata: { error: { code: 'PROVIDER_AUTH' } } });
  });

  it('stop cancels the reply: the stream ends with abort, the text so far is kept', async () => {
    const held = gate();
    fake.enqueue({ kind: 'text', chunks: ['Once ', 'upon ', 'a time'], pauseAfter: { chunks: 2, until: held.until } });
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    const sending = chat.sendMessage({ text: 'Tell me a story' });
    await until(() => textOf(lastAssistant(chat)) === 'Once upon ');
    const stopped = await h.post(user, `/chat/${id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ status: 'cancelled', conversationId: id });
    await sending;
    held.open();
    const stream = h.recorder.streams[0]!;
    expectWellFormed(stream);
    expect(stream.chunks.at(-1)).toEqual({ type: 'abort', reason: 'cancelled' });
    expect(chat.status).toBe('ready');
    const [, reply] = await h.messages(user, id);
    expect(reply).toMatchObject({ status: 'cancelled', content: 'Once upon ' });
    expect(textOf(lastAssistant(chat))).toBe(reply!.content);
  });

  it("stop in a shared conversation cancels the caller's own reply, even while it waits behind another's", async () => {
    const held = gate();
    fake.enqueue({ kind: 'text', chunks: ['Long ', 'answer ', 'for Grace'], pauseAfter: { chunks: 1, until: held.until } }, { kind: 'text', chunks: ['never sent'] });
    const member = await register(t, { displayName: 'Lin' });
    const id = (await h.post(user, '/conversations', { title: 'shared', participantIds: [member.id] })).body.id as string;
    const graces = (await h.post(user, `/conversations/${id}/messages`, { content: 'First question' })).body.run;
    await until(async () => (await t.http(`${API}/conversations/${id}/runs/${graces.id}`, { token: user.accessToken })).body.status === 'running');
    const lins = (await h.post(member, `/conversations/${id}/messages`, { content: 'Second question' })).body.run;
    expect(lins.status).toBe('queued');

    const stopped = await h.post(member, `/chat/${id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ id: lins.id, status: 'cancelled' });
    expect((await t.http(`${API}/conversations/${id}/runs/${graces.id}`, { token: user.accessToken })).body.status).toBe('running');
    held.open();
    await until(async () => (await t.http(`${API}/conversations/${id}/runs/${graces.id}`, { token: user.accessToken })).body.status === 'completed');
    // Lin's question may be stored before Grace's reply row: the reply row is written once the provider answers.
    expect((await h.messages(user, id)).map((message) => String(message.content)).sort()).toEqual(['First question', 'Long answer for Grace', 'Second question']);
  });

  it('a dropped connection only detaches: resume replays the reply from its start and follows it live', async () => {
    const held = gate();
    const streamed: string[] = [];
    const deltas$ = t.app.get(RealtimeBus).events$.subscribe((event) => event.type === 'run.delta' && streamed.push(event.text));
    fake.enqueue({ kind: 'text', chunks: ['The ', 'quick ', 'brown ', 'fox.'], pauseAfter: { chunks: 2, until: held.until } });
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    h.recorder.cutWhen = (chunks) => chunks.some((chunk) => chunk.type === 'text-delta');
    await chat.sendMessage({ text: 'A pangram, please' });
    expect(chat.status).toBe('error');
    await h.recorder.streams[0]!.ended;
    await until(() => streamed.join('') === 'The quick ');

    // A page reload: a new useChat with the same id, which resumes on mount.
    const reloaded = h.chat(user, id);
    const resuming = reloaded.resumeStream();
    await until(() => textOf(lastAssistant(reloaded)) === 'The quick ');
    // And the chat that lost its connection resumes too; both rebuild the reply from scratch.
    const retrying = chat.resumeStream();
    await until(() => h.recorder.streams.length === 3 && textOf(lastAssistant(chat)) === 'The quick ');
    held.open();
    await Promise.all([resuming, retrying]);

    const [, reply] = await h.messages(user, id);
    expect(reply).toMatchObject({ status: 'complete', content: 'The quick brown fox.' });
    for (const resumed of [reloaded, chat]) {
      expect(resumed.status).toBe('ready');
      expect(resumed.messages.filter((message) => message.role === 'assistant').map((message) => message.id)).toEqual([reply!.id]);
      expect(textOf(lastAssistant(resumed))).toBe(reply!.content);
    }
    const resumedStream = h.recorder.streams[1]!;
    expect(resumedStream.method).toBe('GET');
    expect(resumedStream.url).toBe(`${t.baseUrl}${API}/chat/${id}/stream`);
    expectWellFormed(resumedStream);
    expect(resumedStream.chunks[0]).toEqual({ type: 'start', messageId: reply!.id });
    const deltas = resumedStream.chunks.filter((chunk) => chunk.type === 'text-delta').map((chunk) => chunk.delta);
    expect(deltas[0]).toBe('The quick ');
    expect(deltas.join('')).toBe('The quick brown fox.');
    expect(reply!.id).toMatch(UUID);
    deltas$.unsubscribe();
  });
  it('resuming a reply whose calls outweigh the stream backlog cap replays them all, without taking the client for a slow one', async () => {
    const held = gate();
    const streamed: string[] = [];
    const deltas$ = t.app.get(RealtimeBus).events$.subscribe((event) => event.type === 'run.delta' && streamed.push(event.text));
    // 32 calls of 300 KB each: more than WS_MAX_BACKLOG_BYTES (8 MB), written at once by the resume.
    const big = 'x'.repeat(300_000);
    const calls = Array.from({ length: 32 }, (_, i) => ({ id: `call_${i}`, name: 'calculator', argumentChunks: [JSON.stringify({ expression: `${i}+${big}` })] }));
    fake.enqueue({ kind: 'tool', calls }, { kind: 'text', chunks: ['Too ', 'long', ' to compute.'], pauseAfter: { chunks: 2, until: held.until } });
    const id = await h.conversation(user);
    expect((await h.post(user, `/conversations/${id}/messages`, { content: 'Add these up' })).status).toBe(201);
    await until(() => streamed.join('') === 'Too long', 30_000);

    const reloaded = h.chat(user, id);
    const resuming = reloaded.resumeStream();
    await until(() => textOf(lastAssistant(reloaded)) === 'Too long', 30_000);
    held.open();
    await resuming;
    const resumed = h.recorder.streams.at(-1)!;
    expectWellFormed(resumed);
    expect(resumed.chunks.filter((chunk) => chunk.type === 'tool-input-available')).toHaveLength(32);
    expect(resumed.chunks.at(-1)).toEqual({ type: 'finish', finishReason: 'stop' });
    expect(textOf(lastAssistant(reloaded))).toBe('Too long to compute.');
    deltas$.unsubscribe();
  }, 60_000);

  it('resuming after a tool call shows the call, then the text so far, as the reply that is persisted', async () => {
    const held = gate();
    const streamed: string[] = [];
    const deltas$ = t.app.get(RealtimeBus).events$.subscribe((event) => event.type === 'run.delta' && streamed.push(event.text));
    fake.enqueue(
      { kind: 'tool', calls: [{ id: 'call_sum', name: 'calculator', argumentChunks: ['{"expression": "6*7"}'] }] },
      { kind: 'text', chunks: ['It is ', '42', ', as computed.'], pauseAfter: { chunks: 2, until: held.until } },
    );
    const id = await h.conversation(user);
    const chat = h.chat(user, id);
    // The connection drops before the call is shown: the resumed stream is all the client gets of it.
    h.recorder.cutWhen = (chunks) => chunks.some((chunk) => chunk.type === 'data-run');
    await chat.sendMessage({ text: 'What is 6*7?' });
    await until(() => streamed.join('') === 'It is 42');

    const reloaded = h.chat(user, id);
    const resuming = reloaded.resumeStream();
    await until(() => textOf(lastAssistant(reloaded)) === 'It is 42');
    held.open();
    await resuming;

    const [, reply] = await h.messages(user, id);
    expect(reply).toMatchObject({ status: 'complete', content: 'It is 42, as computed.' });
    const resumed = h.recorder.streams.at(-1)!;
    expectWellFormed(resumed);
    expect(types(resumed)).toEqual([
      'start', 'start-step', 'data-run', 'tool-input-available', 'tool-output-available',
      'finish-step', 'start-step', 'text-start', 'text-delta', 'text-end', 'data-message', 'data-run', 'finish-step', 'finish',
    ]);
    const assistant = lastAssistant(reloaded)!;
    expect(assistant.parts.filter((part) => part.type !== 'step-start' && !part.type.startsWith('data-')).map((part) => part.type)).toEqual(['tool-calculator', 'text']);
    expect(partsOf(assistant, 'tool-calculator')).toEqual([
      expect.objectContaining({ toolCallId: 'call_sum', state: 'output-available', input: { expression: '6*7' }, output: { expression: '6*7', result: '42' } }),
    ]);
    expect(textOf(assistant)).toBe(reply!.content);
    deltas$.unsubscribe();
  });
});

describe(`useChat (AI SDK ${AI_SDK_VERSION}) with tool calls that wait for approval`, () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let owner: Registered;
  let member: Registered;
  let viewer: Registered;
  const h = harness(() => t);
  const echoThenAnswer = (callId: string, message: string, text: Parameters<FakeOpenAI['enqueue']>[0] = { kind: 'text', chunks: ['Done: ', 'the echo answered.'] }) =>
    fake.enqueue({ kind: 'tool', calls: [{ id: callId, name: 'everything__echo', argumentChunks: [`{"message": "${message}"}`] }] }, text);

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    // The reference MCP server over stdio, its tools under the default policy: approval always.
    const config = join(mkdtempSync(join(tmpdir(), 'agentchat-usechat-')), 'mcp.json');
    writeFileSync(config, JSON.stringify({ servers: { everything: { command: process.execPath, args: [everythingServerBin(), 'stdio'] } } }));
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      MCP_CONFIG: config,
      MCP_RETRY_BASE_MS: '20',
      MESSAGE_RATE_LIMIT: '100000',
    });
    await waitUntil(async () => (await t.http('/health/ready')).body.details?.mcp?.servers?.everything?.state === 'ready', 'the MCP server to be ready', 20_000);
    [owner, member, viewer] = await Promise.all(['Olive', 'Max', 'Vera'].map((displayName) => register(t, { displayName })));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  afterEach(() => {
    fake.reset();
    h.recorder.check();
  });

  const shared = async () => {
    const id = (await h.post(owner, '/conversations', { title: 'deploys', participantIds: [member.id] })).body.id as string;
    expect((await h.post(owner, `/conversations/${id}/participants`, { userId: viewer.id, role: 'viewer' })).status).toBe(201);
    return id;
  };
  const approvalOf = async (by: Registered, id: string) => (await t.http(`${API}/approvals/${id}`, { token: by.accessToken })).body;
  const echoPart = (chat: TestChat) => partsOf(lastAssistant(chat), 'tool-everything__echo')[0]!;
  /** The automatic resend after the last answer: its stream, read to its end, with the chat ready again. */
  const resent = async (chat: TestChat, count: number) => {
    await until(() => h.recorder.streams.length === count && chat.status === 'ready');
    const stream = h.recorder.streams[count - 1]!;
    await stream.ended;
    return stream;
  };

  /** A member asks in a shared conversation; the stream ends with the call waiting for approval. */
  const askToDeploy = async (id: string, callId: string) => {
    const chat = approvingChat(id, chatTransport(t.baseUrl, member.accessToken, h.recorder));
    await chat.sendMessage({ text: 'deploy it' });
    expect(chat.status).toBe('ready');
    const [first] = h.recorder.streams;
    expectWellFormed(first!);
    const pending = (await t.http(`${API}/conversations/${id}/approvals?status=pending`, { token: member.accessToken })).body.items;
    expect(pending).toEqual([expect.objectContaining({ toolCallId: callId, toolName: 'everything__echo', requestedBy: member.id })]);
    expect(echoPart(chat)).toMatchObject({ toolCallId: callId, state: 'approval-requested', input: { message: 'v2' }, approval: { id: pending[0].id } });
    expect(types(first!).slice(-6)).toEqual(['data-run', 'tool-input-available', 'tool-approval-request', 'data-run', 'finish-step', 'finish']);
    expect(first!.chunks.at(-1)).toEqual({ type: 'finish', finishReason: 'tool-calls' });
    return { chat, approvalId: pending[0].id as string, replyId: lastAssistant(chat)!.id };
  };

  it('approve: the answer is decided as the user who asked, and the same reply goes on with the tool output and the text', async () => {
    const id = await shared();
    echoThenAnswer('call_deploy', 'v2');
    const { chat, approvalId, replyId } = await askToDeploy(id, 'call_deploy');
    const runId = (await h.messages(member, id))[1]!.runId;
    expect((await t.http(`${API}/conversations/${id}/runs/${runId}`, { token: member.accessToken })).body.status).toBe('awaiting_approval');

    await chat.addToolApprovalResponse({ id: approvalId, approved: true });
    const stream = await resent(chat, 2);
    expectWellFormed(stream);
    expect(stream.requestBody).toMatchObject({ id, trigger: 'submit-message', messages: [{ role: 'user' }, { id: replyId, role: 'assistant' }] });
    expect(types(stream)).toEqual(['start', 'data-run', 'tool-output-available', 'start-step', 'text-start', 'text-delta', 'text-end', 'data-message', 'data-run', 'finish-step', 'finish']);
    expect(stream.chunks[0]).toEqual({ type: 'start', messageId: replyId });

    expect(chat.messages.map((message) => message.role)).toEqual(['user', 'assistant']);
    expect(lastAssistant(chat)!.id).toBe(replyId);
    expect(echoPart(chat)).toMatchObject({ state: 'output-available', output: { text: 'Echo: v2' }, approval: { id: approvalId, approved: true } });
    const [, reply] = await h.messages(member, id);
    expect(reply).toMatchObject({ id: replyId, status: 'complete', content: 'Done: the echo answered.' });
    expect(textOf(lastAssistant(chat))).toBe(reply!.content);
    // The answer was no new message: the conversation holds the question and its reply.
    expect(await h.messages(member, id)).toHaveLength(2);
    expect(await approvalOf(owner, approvalId)).toMatchObject({ status: 'approved', decidedBy: member.id });
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toContain('Echo: v2');
  });

  it('deny: the call is shown as denied with its reason, which the model is told', async () => {
    const id = await shared();
    echoThenAnswer('call_drop', 'v2', { kind: 'text', chunks: ['Understood, ', 'not deploying.'] });
    const { chat, approvalId, replyId } = await askToDeploy(id, 'call_drop');
    await chat.addToolApprovalResponse({ id: approvalId, approved: false, reason: 'Not on a Friday' });
    const stream = await resent(chat, 2);
    expectWellFormed(stream);
    expect(stream.chunks).toContainEqual({ type: 'tool-output-denied', toolCallId: 'call_drop' });
    expect(echoPart(chat)).toMatchObject({ state: 'output-denied', approval: { id: approvalId, approved: false, reason: 'Not on a Friday' } });
    expect(lastAssistant(chat)!.id).toBe(replyId);
    expect(textOf(lastAssistant(chat))).toBe('Understood, not deploying.');
    expect(await approvalOf(member, approvalId)).toMatchObject({ status: 'denied', decidedBy: member.id, reason: 'Not on a Friday' });
    expect(String(fake.requests[1]!.body.messages.at(-1)!.content)).toMatch(/denied.*Not on a Friday/);

    // The same answer sent again (a retried request) is no error; another answer is a 409.
    const body = stream.requestBody as { messages: unknown[] };
    const again = await h.post(member, '/chat', body);
    expect(again.status).toBe(200);
    expect(again.text).toContain('"finishReason":"stop"');
    const flipped = JSON.parse(JSON.stringify(body).replace('"approved":false', '"approved":true'));
    const conflict = await h.post(member, '/chat', flipped);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ code: 'APPROVAL_DECIDED', details: { approvalStatus: 'denied', decidedBy: member.id } });
    expect(await h.messages(member, id)).toHaveLength(2);
  });

  it('decided elsewhere: a reload shows the request; once the owner approves over REST, resuming shows the rest of the reply', async () => {
    const id = await shared();
    const held = gate();
    echoThenAnswer('call_remote', 'v2', { kind: 'text', chunks: ['Deployed ', 'v2.'], pauseAfter: { chunks: 1, until: held.until } });
    const { chat, approvalId, replyId } = await askToDeploy(id, 'call_remote');

    // Another tab of the member's, opened meanwhile: resuming replays the reply up to its request.
    const reloaded = approvingChat(id, chatTransport(t.baseUrl, member.accessToken, h.recorder));
    await reloaded.resumeStream();
    const replay = h.recorder.streams[1]!;
    expectWellFormed(replay);
    expect(replay.method).toBe('GET');
    expect(replay.chunks.at(-1)).toEqual({ type: 'finish', finishReason: 'tool-calls' });
    expect(echoPart(reloaded)).toMatchObject({ state: 'approval-requested', approval: { id: approvalId } });

    const streamed: string[] = [];
    const deltas$ = t.app.get(RealtimeBus).events$.subscribe((event) => event.type === 'run.delta' && event.conversationId === id && streamed.push(event.text));
    const decided = await h.post(owner, `/approvals/${approvalId}`, { decision: 'approve' });
    expect(decided.status).toBe(200);
    // The run went on while the member's client waited: it resumes mid-reply.
    await until(() => streamed.join('') === 'Deployed ');
    deltas$.unsubscribe();
    const resuming = chat.resumeStream();
    await until(() => textOf(lastAssistant(chat)) === 'Deployed ');
    held.open();
    await resuming;
    const resumed = h.recorder.streams[2]!;
    expectWellFormed(resumed);
    expect(resumed.chunks[0]).toEqual({ type: 'start', messageId: replyId });
    expect(types(resumed)).toContain('tool-approval-request');
    expect(chat.messages.map((message) => message.role)).toEqual(['user', 'assistant']);
    expect(echoPart(chat)).toMatchObject({ state: 'output-available', output: { text: 'Echo: v2' }, approval: { id: approvalId } });
    expect(textOf(lastAssistant(chat))).toBe('Deployed v2.');
    expect(await approvalOf(member, approvalId)).toMatchObject({ status: 'approved', decidedBy: owner.id });
  });

  describe('answers are checked before anything is decided', () => {
    let id: string;
    let approvalId: string;
    let reply: { id: string; role: string; parts: Record<string, unknown>[] };
    beforeAll(async () => {
      id = await shared();
      echoThenAnswer('call_checked', 'v2');
      const asked = await askToDeploy(id, 'call_checked');
      approvalId = asked.approvalId;
      const message = lastAssistant(asked.chat)!;
      reply = { id: message.id, role: 'assistant', parts: message.parts as unknown as Record<string, unknown>[] };
      h.recorder.check();
    });
    const answer = (approval: Record<string, unknown>, extra: Record<string, unknown>[] = []) => ({
      id,
      trigger: 'submit-message',
      messageId: reply.id,
      messages: [
        { id: 'q', role: 'user', parts: [{ type: 'text', text: 'deploy it' }] },
        { ...reply, parts: [...reply.parts.map((part) => (part.state === 'approval-requested' ? { ...part, state: 'approval-responded', approval } : part)), ...extra] },
      ],
    });
    const cases: [string, () => unknown, string][] = [
      ['an approval id that is no UUID', () => answer({ id: 'approval-1', approved: true }), 'approval.id'],
      ['approved that is not a boolean', () => answer({ id: approvalId, approved: 'yes' }), 'approval.approved'],
      ['a reason over 500 characters', () => answer({ id: approvalId, approved: false, reason: 'x'.repeat(501) }), 'approval.reason'],
      ['an approval that is not of this reply', () => answer({ id: '00000000-0000-4000-8000-000000000000', approved: true }), 'parts'],
      [
        'more answers than calls waiting',
        () => answer({ id: approvalId, approved: true }, [{ type: 'tool-everything__echo', toolCallId: 'call_other', state: 'approval-responded', approval: { id: '00000000-0000-4000-8000-000000000001', approved: true } }]),
        'parts',
      ],
      ['an assistant message without answers', () => ({ ...answer({}), messages: [{ id: reply.id, role: 'assistant', parts: [{ type: 'text', text: 'hi' }] }] }), 'role'],
    ];
    it.each(cases)('%s is a 400', async (_name, build, field) => {
      const response = await h.post(member, '/chat', build());
      expect(response.status, response.text).toBe(400);
      expect(response.body).toMatchObject({ code: 'VALIDATION', requestId: expect.any(String) });
      expect(Object.keys(response.body.details).some((key) => key.endsWith(field))).toBe(true);
      expect((await approvalOf(owner, approvalId)).status).toBe('pending');
    });

    it('a viewer cannot answer (403) and a stranger learns nothing (404); the call still waits', async () => {
      const body = answer({ id: approvalId, approved: true });
      expect((await h.post(viewer, '/chat', body)).status).toBe(403);
      const stranger = await register(t, { displayName: 'Sam' });
      expect((await h.post(stranger, '/chat', body)).status).toBe(404);
      expect((await approvalOf(owner, approvalId)).status).toBe('pending');
      expect(await h.messages(member, id)).toHaveLength(2);
    });
  });
});
