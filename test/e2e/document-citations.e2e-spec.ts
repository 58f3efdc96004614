import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { chatTransport, RecordingFetch, TestChat, textOf } from '../support/ui-chat.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

const API = '/api/v1';

interface Source {
  type: 'document' | 'message';
  id: string;
  title: string;
  snippet: string;
  chunk?: number;
  page?: number;
  heading?: string;
  mediaType?: string;
  score: number;
}

interface Reply {
  content: string;
  status: string;
  metadata: { sources?: Source[]; toolCalls?: { name: string; args: unknown; result?: unknown; error?: string }[] };
}

/** What the tests need of a running app: uploads that are searchable, and questions with their replies. */
function documentsAndQuestions(getApp: () => TestApp) {
  const http = (...args: Parameters<TestApp['http']>) => getApp().http(...args);

  async function upload(user: Registered, filename: string, content: string, conversationId?: string): Promise<string> {
    const form = new FormData();
    if (conversationId) form.append('conversationId', conversationId);
    form.append('file', new Blob([content]), filename);
    const created = await http(`${API}/documents`, { method: 'POST', token: user.accessToken, body: form });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await waitUntil(async () => (await http(`${API}/documents/${id}`, { token: user.accessToken })).body.status === 'ready', `${filename} to be ready`, 20_000);
    return id;
  }

  async function conversation(owner: Registered, participants: Registered[] = [], agent: Record<string, unknown> = {}): Promise<string> {
    const created = await http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { title: 'Citations', participantIds: participants.map((p) => p.id), agent } });
    expect(created.status).toBe(201);
    return created.body.id as string;
  }

  async function ask(user: Registered, conversationId: string, content: string): Promise<{ reply: Reply; run: { status: string } }> {
    const response = await http(`${API}/conversations/${conversationId}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content } });
    expect(response.status).toBe(201);
    return response.body;
  }

  return { http, upload, conversation, ask };
}

const documentsOf = (reply: Reply) => (reply.metadata.sources ?? []).filter((source) => source.type === 'document');

describe('cited answers from documents, with the built-in agent', () => {
  let t: TestApp;
  let world: World;
  const { http, upload, conversation, ask } = documentsAndQuestions(() => t);
  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, AGENT_PROVIDER: 'builtin', MESSAGE_RATE_LIMIT: '100000' });
    world = await createWorld(t, 'auto');
  });
  afterAll(() => t?.close());

  it('answers /docs with the passage and cites it; every participant opens the cited document, nobody else does', async () => {
    const harbour = '# Harbour rules\n\nBoats moor on the east quay.\n\n## Locks\n\nThe lock gates close two hours before the kelpiewrack tide.\n';
    const id = await upload(world.member, 'harbour.md', harbour, world.conversationId);
    const { reply, run } = await ask(world.owner, world.conversationId, '/docs kelpiewrack');
    expect(run.status).toBe('completed');
    expect(reply.content).toMatch(/^Found 1 passage matching "kelpiewrack":\n1\. "[^"\n]*close two hours before the \*\*kelpiewrack\*\* tide\.?" — harbour\.md, under "Locks"$/);
    expect(reply.metadata.sources).toEqual([
      { type: 'document', id, title: 'harbour.md', snippet: expect.stringContaining('close two hours before the **kelpiewrack** tide'), chunk: 1, heading: 'Locks', mediaType: 'text/markdown', score: expect.any(Number) },
    ]);
    expect(reply.metadata.toolCalls).toEqual([expect.objectContaining({ name: 'search_documents', args: { query: 'kelpiewrack' } })]);
    for (const participant of [world.owner, world.member, world.viewer]) {
      expect((await http(`${API}/documents/${id}`, { token: participant.accessToken })).body).toMatchObject({ id, filename: 'harbour.md' });
    }
    const stranger = await http(`${API}/documents/${id}`, { token: world.outsider.accessToken });
    expect(stranger.status).toBe(404);
    expect(stranger.body.code).toBe('DOCUMENT_NOT_FOUND');
  });

  it("in a shared conversation never shows the asker's private documents nor another conversation's; alone it finds the asker's own, never other people's", async () => {
    const [ada, bob] = await Promise.all([register(t), register(t)]);
    const privateId = await upload(ada, 'diary.md', 'The vault code is quillon-seven, kept under the quillon stone.');
    const elsewhere = await conversation(ada, [], { mode: 'off' });
    const otherId = await upload(ada, 'elsewhere.md', 'Elsewhere the quillon fountain runs dry.', elsewhere);
    const shared = await conversation(ada, [bob]);
    const sharedId = await upload(bob, 'shared.md', 'Here the quillon bell rings at noon.', shared);

    const inShared = await ask(ada, shared, '/docs quillon');
    expect(documentsOf(inShared.reply).map((source) => source.id)).toEqual([sharedId]);
    const everything = JSON.stringify(inShared.reply);
    for (const hidden of [privateId, otherId, 'vault', 'fountain']) expect(everything).not.toContain(hidden);
    // Bob sees the reply as Ada does: nothing of hers that he could not open.
    const seen = await http(`${API}/conversations/${shared}/messages`, { token: bob.accessToken });
    expect(JSON.stringify(seen.body.items)).not.toContain('vault');

    // Alone, Ada's own uploads anywhere — but not Bob's: whoever she adds here later reads the reply.
    const alone = await conversation(ada);
    const byAda = await ask(ada, alone, 'search my documents for quillon');
    expect(documentsOf(byAda.reply).map((source) => source.id).sort()).toEqual([privateId, otherId].sort());
    expect(JSON.stringify(byAda.reply)).not.toContain('bell');
    for (const source of documentsOf(byAda.reply)) expect((await http(`${API}/documents/${source.id}`, { token: ada.accessToken })).status).toBe(200);
    // What Bob uploaded is found by Bob, alone, as his own.
    const bobAlone = await conversation(bob);
    expect(documentsOf((await ask(bob, bobAlone, '/docs quillon')).reply).map((source) => source.id)).toEqual([sharedId]);
  });

  it('says honestly when there is nothing to search, and when nothing matched', async () => {
    const [cleo, dan] = await Promise.all([register(t), register(t)]);
    const alone = await conversation(cleo);
    expect((await ask(cleo, alone, '/docs anything')).reply).toMatchObject({
      content: 'You have no documents to search yet, neither in your library nor in your conversations. Upload one first.',
    });
    const shared = await conversation(cleo, [dan]);
    await upload(cleo, 'mine.md', 'Private notes about anything at all.');
    const empty = (await ask(cleo, shared, '/docs anything')).reply;
    expect(empty.content).toBe('This conversation has no documents to search yet. Upload one to it first.');
    expect(empty.metadata.sources).toBeUndefined();
    await upload(dan, 'menu.md', 'Soup of the day: leek.', shared);
    expect((await ask(dan, shared, '/docs zeppelin')).reply.content).toBe('No passage in the 1 document of this conversation matches "zeppelin".');
    expect((await ask(dan, shared, '/docs')).reply.content).toBe('Usage: `/docs <words>`, e.g. `/docs notice period`.');
    expect((await ask(dan, shared, '/help')).reply.content).toContain('/docs <words>');
  });

  it('refuses a 10,000-character query, reads crafted search syntax without error, and bounds many results', async () => {
    const eve = await register(t);
    const id = await conversation(eve);
    const sections = Array.from({ length: 30 }, (_, i) => `## Part ${i}\n\n${`Section ${i} mentions the gorblin rules again and again. `.repeat(40)}`);
    await upload(eve, 'long.md', sections.join('\n\n'), id);

    const long = await ask(eve, id, `/docs ${'gorblin '.repeat(1250)}`);
    expect(long.run.status).toBe('completed');
    expect(long.reply.content).toMatch(/^The search_documents tool failed: Invalid arguments for search_documents: query: /);
    expect(long.reply.metadata.sources).toBeUndefined();

    for (const crafted of ['"gorblin', 'gorblin or or -', '!!(gorblin & | :* <-> \\\'', '-gorblin', "'; DROP TABLE documents; --", '"" or ""']) {
      const { reply, run } = await ask(eve, id, `/docs ${crafted}`);
      expect(run.status, crafted).toBe('completed');
      expect(reply.content, crafted).toMatch(/^(Found \d+ passages? matching|No passage in your 1 document)/);
    }
    expect((await http(`${API}/documents?conversationId=${id}`, { token: eve.accessToken })).body.items).toHaveLength(1);

    const many = (await ask(eve, id, '/docs gorblin')).reply;
    expect(documentsOf(many)).toHaveLength(5);
    const passages = (many.metadata.toolCalls![0]!.result as { results: { content: string }[] }).results;
    expect(passages.map((passage) => passage.content.length).reduce((a, b) => a + b, 0)).toBeLessThan(12_000);
  });
});

describe('cited answers from documents, with a language model', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let user: Registered;
  let conversationId: string;
  let documentId: string;
  const recorder = new RecordingFetch();
  const { upload, conversation, ask } = documentsAndQuestions(() => t);
  const searchFor = (...queries: string[]) => ({
    kind: 'tool' as const,
    calls: queries.map((query, i) => ({ id: `call_${i}`, name: 'search_documents', argumentChunks: ['{"query": ', JSON.stringify(query), ', "limit": 10}'] })),
  });

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      AGENT_RETRY_BASE_MS: '20',
      MESSAGE_RATE_LIMIT: '100000',
    });
    user = await register(t, { displayName: 'Ada' });
    conversationId = await conversation(user);
    const groups = ['wallaby', 'numbat', 'bilby'].flatMap((animal) =>
      Array.from({ length: 12 }, (_, i) => `## ${animal} ${i}\n\n${`The ${animal} trail ${i} crosses the marram dunes before the ferry. `.repeat(30)}`),
    );
    documentId = await upload(user, 'trails.md', groups.join('\n\n'), conversationId);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  beforeEach(() => fake.reset());
  afterEach(() => recorder.check());

  it('the model calls search_documents, reads the passages, and the reply cites the document', async () => {
    fake.enqueue(searchFor('wallaby trail 3'), { kind: 'text', chunks: ['The trail ', 'crosses the dunes.'] });
    const { reply } = await ask(user, conversationId, 'Where does wallaby trail 3 go?');
    expect(reply).toMatchObject({ status: 'complete', content: 'The trail crosses the dunes.' });
    const sources = documentsOf(reply);
    expect(sources.length).toBeGreaterThan(0);
    expect(sources[0]).toMatchObject({ type: 'document', id: documentId, title: 'trails.md', mediaType: 'text/markdown', chunk: expect.any(Number), snippet: expect.stringContaining('**') });
    // The model was given the passages themselves, not only their excerpts.
    const toolTurn = fake.requests[1]!.body.messages.find((message) => message.role === 'tool');
    expect(String(toolTurn?.content)).toContain('crosses the marram dunes before the ferry');
  });

  it('keeps at most 20 sources, each once, in order of first use, however many the searches found', async () => {
    fake.enqueue(searchFor('wallaby', 'numbat', 'bilby', 'wallaby'), { kind: 'text', chunks: ['Many trails.'] });
    const { reply } = await ask(user, conversationId, 'List every trail');
    const found = reply.metadata.toolCalls!.flatMap((call) => (call.result as { results: { documentId: string; chunk: number }[] }).results);
    const distinct = [...new Set(found.map((passage) => `${passage.documentId}#${passage.chunk}`))];
    expect(distinct.length).toBeGreaterThan(20);
    expect(reply.metadata.sources!.map((source) => `${source.id}#${source.chunk}`)).toEqual(distinct.slice(0, 20));
  });

  it('keeps the sources of a reply that failed after its searches', async () => {
    fake.enqueue(searchFor('numbat'), { kind: 'cut', chunks: ['The numbat'] });
    const { reply, run } = await ask(user, conversationId, 'Tell me about numbats');
    expect(run.status).toBe('failed');
    expect(reply.status).toBe('failed');
    expect(documentsOf(reply)[0]).toMatchObject({ id: documentId, title: 'trails.md' });
  });

  it('streams the sources to useChat as source-document parts as soon as the search returns', async () => {
    fake.enqueue(searchFor('bilby trail 7'), { kind: 'text', chunks: ['See ', 'trails.md.'] });
    const id = await conversation(user);
    const chat = new TestChat({ id, transport: chatTransport(t.baseUrl, user.accessToken, recorder) });
    await chat.sendMessage({ text: 'Where is bilby trail 7?' });
    const assistant = chat.messages.findLast((message) => message.role === 'assistant')!;
    expect(textOf(assistant)).toBe('See trails.md.');
    const parts = assistant.parts.filter((part) => part.type === 'source-document');
    expect(parts.length).toBeGreaterThan(0);
    expect(parts[0]).toMatchObject({
      type: 'source-document',
      sourceId: expect.stringMatching(new RegExp(`^${documentId}#\\d+$`)),
      mediaType: 'text/markdown',
      title: 'trails.md',
      filename: 'trails.md',
      providerMetadata: { agentChat: expect.objectContaining({ type: 'document', id: documentId }) },
    });
    const { chunks } = recorder.streams[0]!;
    const firstSource = chunks.findIndex((chunk) => chunk.type === 'source-document');
    expect(firstSource).toBeGreaterThan(chunks.findIndex((chunk) => chunk.type === 'tool-output-available'));
    expect(firstSource).toBeLessThan(chunks.findIndex((chunk) => chunk.type === 'text-start'));
    const [, reply] = (await t.http(`${API}/conversations/${id}/messages`, { token: user.accessToken })).body.items as Reply[];
    expect(parts.map((part) => part.sourceId)).toEqual(reply!.metadata.sources!.map((source) => `${source.id}#${source.chunk}`));
  });
});
