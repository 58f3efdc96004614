import { randomUUID } from 'node:crypto';
import {
  type ChatSocket,
  comparable,
  connectChat,
  ConversationState,
  ConversationSync,
  createClient,
  emitAck,
  readChanges,
  type RestClient,
  TokenSession,
} from '@agent-chat/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { PASSWORD } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** Until `condition` holds (state the client reaches by itself), at most `timeoutMs`. */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the typed client (@agent-chat/client) against the server', () => {
  let t: TestApp;
  let fake: FakeOpenAI;
  const sockets: ChatSocket[] = [];
  const syncs: ConversationSync[] = [];

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp({ AGENT_PROVIDER: 'openai', OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'test', AGENT_CHECKPOINT_MS: '50' });
  });
  afterEach(() => {
    for (const sync of syncs.splice(0)) sync.close();
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  async function signUp(displayName: string) {
    const session = new TokenSession({ baseUrl: t.baseUrl, channel: null });
    const rest = createClient({ baseUrl: t.baseUrl, getToken: session.getToken, refresh: session.refresh });
    const email = `${displayName.toLowerCase()}-${randomUUID()}@example.com`;
    const { data, response } = await rest.POST('/api/v1/auth/register', { body: { email, password: PASSWORD, displayName } });
    expect(response.status).toBe(201);
    session.signIn(data!);
    return { session, rest, email, user: data!.user };
  }

  function connect(session: TokenSession): ChatSocket {
    const socket = connectChat({ baseUrl: t.baseUrl, getToken: session.getToken, refresh: session.refresh, socket: { forceNew: true, reconnectionDelay: 50 } });
    sockets.push(socket);
    return socket;
  }

  function follow(socket: ChatSocket, rest: RestClient, conversationId: string): ConversationSync {
    const sync = new ConversationSync({ socket, rest, conversationId });
    syncs.push(sync);
    return sync;
  }

  async function createConversation(rest: RestClient, agent: { mode: 'auto' | 'off'; provider?: 'builtin' }): Promise<string> {
    const { data, response } = await rest.POST('/api/v1/conversations', { body: { title: 'client', agent } });
    expect(response.status).toBe(201);
    return data!.id;
  }

  /** The server's state, as a client with nothing reads it: the changes feed from 0, to the end. */
  async function serverState(rest: RestClient, conversationId: string) {
    const truth = new ConversationState();
    truth.settle(await readChanges(rest, conversationId, 0, (page) => page.items.forEach((m) => truth.applyMessage(m))));
    return truth;
  }

  const held = (state: ConversationState) => [...state.messages.values()].map(comparable).sort((a, b) => String(a.id).localeCompare(String(b.id)));

  it('signs in, lists conversations and sends a message over the socket', async () => {
    const { email } = await signUp('Ada');
    const session = new TokenSession({ baseUrl: t.baseUrl, channel: null });
    const rest = createClient({ baseUrl: t.baseUrl, getToken: session.getToken, refresh: session.refresh });
    const login = await rest.POST('/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.response.status).toBe(200);
    session.signIn(login.data!);

    const conversationId = await createConversation(rest, { mode: 'off' });
    const list = await rest.GET('/api/v1/conversations');
    expect(list.data?.items.map((c) => c.id)).toContain(conversationId);

    const socket = connect(session);
    const ack = await emitAck(socket, 'message:send', { conversationId, content: 'hello', clientMessageId: randomUUID() });
    expect(ack).toMatchObject({ ok: true, data: { message: { conversationId, content: 'hello', role: 'user' } } });
    const history = await rest.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: conversationId } } });
    expect(history.data?.items.map((m) => m.content)).toEqual(['hello']);
  });

  it('streams a reply of the builtin agent into the synced state, then replaces it by the final message', async () => {
    const { session, rest } = await signUp('Grace');
    const conversationId = await createConversation(rest, { mode: 'auto', provider: 'builtin' });
    const socket = connect(session);
    const streamed: string[] = [];
    socket.on('run:delta', ({ text }) => streamed.push(text));
    const sync = follow(socket, rest, conversationId);
    await until(() => sync.live, 'the first join');

    const ack = await emitAck(socket, 'message:send', { conversationId, content: '/calc 2+2' });
    if (!ack.ok) throw new Error(ack.error.message);
    const runId = ack.data.run!.id;
    await until(() => sync.state.visibleMessages().some((m) => m.runId === runId && m.status === 'complete'), 'the final reply');

    const reply = sync.state.visibleMessages().find((m) => m.runId === runId)!;
    expect(reply.content).toBe('2+2 = 4');
    expect(streamed.join('')).toBe('2+2 = 4');
    expect(sync.state.streams.has(runId)).toBe(false);
    const truth = await serverState(rest, conversationId);
    expect(held(sync.state)).toEqual(held(truth));
  });

  it('catches up after a disconnect during a reply and an edit: the state equals the server’s', async () => {
    const { session, rest } = await signUp('Linus');
    const conversationId = await createConversation(rest, { mode: 'auto' });
    let release!: () => void;
    fake.enqueue({ kind: 'text', chunks: ['Caught ', 'mid ', 'way.'], pauseAfter: { chunks: 1, until: new Promise<void>((resolve) => (release = resolve)) } });
    const socket = connect(session);
    const sync = follow(socket, rest, conversationId);
    await until(() => sync.live, 'the first join');

    const sent = await rest.POST('/api/v1/conversations/{id}/messages', { params: { path: { id: conversationId } }, body: { content: 'Question' } });
    expect(sent.response.status).toBe(201);
    // The operation also answers an event stream (with Accept: text/event-stream): the JSON is the object case.
    const result = typeof sent.data === 'object' ? sent.data : undefined;
    const runId = result!.run!.id;
    await until(() => sync.state.streams.get(runId)?.text === 'Caught ', 'the first delta');

    socket.disconnect();
    const edited = await rest.PATCH('/api/v1/conversations/{id}/messages/{messageId}', {
      params: { path: { id: conversationId, messageId: result!.message.id } },
      body: { content: 'Question (edited)' },
    });
    expect(edited.response.status).toBe(200);
    release();
    const ended = async () => {
      const run = await rest.GET('/api/v1/conversations/{id}/runs/{runId}', { params: { path: { id: conversationId, runId } } });
      return run.data?.status === 'completed';
    };
    await until(ended, 'the run to complete');

    socket.connect();
    const truth = await serverState(rest, conversationId);
    await until(() => sync.live && sync.state.version === truth.version, `the client to reach version ${truth.version}`);
    expect(held(sync.state)).toEqual(held(truth));
    expect(sync.state.visibleMessages().map((m) => [m.content, m.status])).toEqual([
      ['Question (edited)', 'complete'],
      ['Caught mid way.', 'complete'],
    ]);
    expect(sync.state.streams.size).toBe(0);
  });
});
