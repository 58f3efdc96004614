import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import { type Registered, register } from '../support/auth.js';
import { readEvents, untilLive } from '../support/sse-frames.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

describe('the builtin offline agent', () => {
  let t: TestApp;
  let user: Registered;
  let conversationId: string;

  beforeAll(async () => {
    t = await startTestApp({ MESSAGE_RATE_LIMIT: '100000' });
    user = await register(t, { displayName: 'Grace' });
    conversationId = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'Ops' } })).body.id;
  });
  afterAll(() => t?.close());

  const ask = async (content: string) => {
    const response = await t.http(`${API}/conversations/${conversationId}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content } });
    expect(response.status).toBe(201);
    expect(response.body.run).toMatchObject({ status: 'completed', provider: 'builtin', model: 'builtin' });
    return response.body as { reply: { content: string; metadata: { toolCalls?: { name: string }[]; usage: unknown; sources?: unknown[] } }; run: { id: string } };
  };

  it('answers /calc 2+2 with 4 through the tool pipeline', async () => {
    const { reply, run } = await ask('/calc 2+2');
    expect(reply.content).toBe('2+2 = 4');
    expect(reply.metadata.toolCalls).toEqual([expect.objectContaining({ name: 'calculator', args: { expression: '2+2' }, result: { expression: '2+2', result: '4' } })]);
    expect(reply.metadata.usage).toMatchObject({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) });
    const [invocation] = await t.app.get(DataSource).query(`SELECT name, status FROM tool_invocations WHERE run_id = $1`, [run.id]);
    expect(invocation).toEqual({ name: 'calculator', status: 'completed' });
  });

  it.each([
    ['/help', /\/calc/],
    ['/time', /^It is .+ \(UTC\)\.$/],
    ['/time Europe/Paris', /\(Europe\/Paris\)/],
    ['what time is it in Tokyo?', /\(Asia\/Tokyo\)/],
    ['calculate (1 + 2) * 3', /= 9$/],
    ['/calc 1/0', /calculator tool failed: .*Division by zero/],
    ['/stats', /This conversation has \d+ messages/],
    ['/summary', /^Summary of \d+ messages:\n- Grace: /],
    ['/frobnicate', /Unknown command \/frobnicate/],
  ])('answers %s', async (command, expected) => {
    const { reply } = await ask(command);
    expect(reply.content).toMatch(expected);
  });

  it('searches history and cites the hits as sources', async () => {
    await ask('/calc 6*7');
    const { reply } = await ask('/search calc');
    expect(reply.content).toMatch(/^Found \d+ messages? matching "calc":/);
    expect(reply.metadata.sources?.length).toBeGreaterThan(0);
    expect(reply.metadata.sources![0]).toMatchObject({ type: 'message', id: expect.any(String), conversationId, seq: expect.any(Number), snippet: expect.any(String), score: expect.any(Number) });
  });

  it('is honest about not being a language model', async () => {
    const { reply } = await ask('Write me a poem about the sea');
    expect(reply.content).toContain('no language model is configured');
    expect(reply.content).toContain('AGENT_PROVIDER=openai');
    expect(reply.metadata.toolCalls).toBeUndefined();
  });

  it('streams the conversation over SSE and resumes from Last-Event-ID without losing or repeating anything', async () => {
    const open = (headers: Record<string, string> = {}, query = '') =>
      fetch(new URL(`${API}/conversations/${conversationId}/events${query}`, t.baseUrl), {
        headers: { authorization: `Bearer ${user.accessToken}`, accept: 'text/event-stream', ...headers },
      });
    const opened = await open();
    expect(opened.headers.get('content-type')).toContain('text/event-stream');
    const live = await untilLive(opened);
    const framesPromise = readEvents(live, (frames) => frames.some((f) => f.event === 'run:completed'));
    await ask('/time');
    const frames = await framesPromise;
    const names = frames.map((f) => f.event);
    expect(names).toEqual(expect.arrayContaining(['message:created', 'run:started', 'run:tool', 'run:delta', 'message:updated', 'run:completed']));
    const created = frames.filter((f) => f.event === 'message:created');
    const userFrame = created[0]!;
    const { seq, version } = (userFrame.data as { message: { seq: number; version: number } }).message;
    // The id is the version up to which every change has been delivered.
    expect(userFrame.id).toBe(String(version));
    const replyCreated = created[1]!;
    expect(replyCreated.id).toBe(String(version + 1));
    // The reply's final state is a change of its own, so resuming from before it replays the reply.
    const completed = frames.find((f) => f.event === 'message:updated')!;
    expect(completed.id).toBe(String(version + 2));
    expect(frames.find((f) => f.event === 'run:completed')!.id).toBe(String(version + 2));

    const missed = await ask('/calc 3+4');
    const resumed = await readEvents(await open({ 'last-event-id': String(version + 2) }), (f) => f.length >= 3, 3000);
    const replayed = resumed.filter((f) => f.event === 'message:updated').map((f) => (f.data as { message: { seq: number; content: string; status: string } }).message);
    expect(replayed.map((m) => m.seq)).toEqual([seq + 2, seq + 3]);
    expect(replayed[1]).toMatchObject({ content: missed.reply.content, status: 'complete' });
    expect(resumed.map((f) => f.id)).toEqual([String(version + 3), String(version + 5), undefined]);
    expect(resumed[2]!.event).toBe('conversation:updated');

    // A Last-Event-ID that is not a version is refused before the stream opens.
    expect((await open({ 'last-event-id': "1' OR 1=1" })).status).toBe(400);

    // The deprecated seq resume point still replays the messages created after it.
    const fromQuery = await readEvents(await open({}, `?afterSeq=${seq + 2}`), (f) => f.length >= 1, 3000);
    const fromSeq = fromQuery.filter((f) => f.event === 'message:updated');
    expect(fromSeq.map((f) => (f.data as { message: { seq: number } }).message.seq)).toEqual([seq + 3]);
  });

  it('streams a send as SSE with versions, and replays the end of an ended run to a retry of the same message', async () => {
    const send = () =>
      fetch(new URL(`${API}/conversations/${conversationId}/messages`, t.baseUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, accept: 'text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ content: '/calc 6*7', clientMessageId: 'sse-send-replay' }),
      });
    const first = await readEvents(await send(), (frames) => frames.some((f) => f.event === 'run:completed'));
    const created = first[0]!;
    expect(created.event).toBe('message:created');
    const sent = created.data as { message: { id: string; version: number }; version: number };
    expect(sent.version).toBe(sent.message.version);
    const live = first.find((f) => f.event === 'run:completed')!.data as { message: { id: string; content: string }; version: number };

    // The same message again: nothing new is stored, and the run's end is told as it was live.
    const again = await readEvents(await send(), (frames) => frames.some((f) => f.event === 'run:completed'));
    expect(again.map((f) => f.event)).toEqual(['message:created', 'run:completed']);
    expect((again[0]!.data as { message: { id: string } }).message.id).toBe(sent.message.id);
    expect(again[1]!.data).toMatchObject({ message: { id: live.message.id, content: live.message.content }, version: live.version });
  });

  it('refuses the event stream to outsiders', async () => {
    const outsider = await register(t);
    const response = await t.http(`${API}/conversations/${conversationId}/events`, { token: outsider.accessToken });
    expect(response.status).toBe(404);
  });

  it('answers a message crafted to make its request matcher backtrack at once, and answers everyone else meanwhile', async () => {
    // Backtracking matchers once spent minutes on this, holding the event loop for every user.
    const crafted = `calculate ${' '.repeat(7_994)}1${' '.repeat(7_994)}x`;
    expect(crafted).toHaveLength(16_000);
    const other = await register(t, { displayName: 'Lin' });
    const otherConversationId = (await t.http(`${API}/conversations`, { method: 'POST', token: other.accessToken, json: {} })).body.id;
    const started = Date.now();
    const timed = async <T>(work: Promise<T>) => ({ result: await work, ms: Date.now() - started });

    const craftedReply = timed(ask(crafted));
    // The other message goes in once the crafted one's run is queued.
    const db = t.app.get(DataSource);
    const queued = `SELECT 1 FROM agent_runs r JOIN messages m ON m.id = r.trigger_message_id WHERE m.conversation_id = $1 AND m.content = $2`;
    await vi.waitUntil(async () => (await db.query(queued, [conversationId, crafted])).length > 0, { timeout: 5_000, interval: 10 });
    const otherReply = timed(
      t.http(`${API}/conversations/${otherConversationId}/messages?wait=true`, { method: 'POST', token: other.accessToken, json: { content: 'calculate 12 * 7' } }),
    );
    const [mine, theirs] = await Promise.all([craftedReply, otherReply]);

    expect(mine.result.reply.content).toContain('no language model is configured');
    expect(theirs.result.body.reply.content).toBe('12 * 7 = 84');
    expect(mine.ms).toBeLessThan(5_000);
    expect(theirs.ms).toBeLessThan(5_000);
  });
});

describe('the agent never shows a participant what they could not read', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ MESSAGE_RATE_LIMIT: '100000' });
  });
  afterAll(() => t?.close());

  const post = (token: string, path: string, json: unknown) => t.http(`${API}${path}`, { method: 'POST', token, json });
  const ask = async (token: string, conversationId: string, content: string) => {
    const response = await post(token, `/conversations/${conversationId}/messages?wait=true`, { content });
    expect(response.body.run).toMatchObject({ status: 'completed' });
    return response.body.reply as { content: string; metadata: { sources?: { conversationId: string; snippet: string }[] } };
  };

  it("/search in a shared conversation finds only that conversation, alone also your own messages elsewhere (never other people's), with clean excerpts", async () => {
    const [owner, viewer] = await Promise.all([register(t), register(t)]);
    const privateId = (await post(owner.accessToken, '/conversations', { title: 'Private', agent: { mode: 'off' } })).body.id as string;
    await post(owner.accessToken, `/conversations/${privateId}/messages`, { content: 'The private budget for the quarter is the budget we agreed: zebra42' });
    const sharedId = (await post(owner.accessToken, '/conversations', { title: 'Shared' })).body.id as string;
    await post(owner.accessToken, `/conversations/${sharedId}/participants`, { userId: viewer.id, role: 'viewer' });
    await post(owner.accessToken, `/conversations/${sharedId}/messages?wait=true`, { content: 'the shared plan for everyone here' });

    for (const query of ['budget', 'zebra42']) {
      const shared = await ask(owner.accessToken, sharedId, `/search ${query}`);
      // It finds the question itself, asked here, and nothing from elsewhere.
      expect(shared.metadata.sources).toEqual([expect.objectContaining({ conversationId: sharedId, snippet: `/search **${query}**` })]);
      expect(shared.content).not.toContain('private');
    }
    const seenByViewer = await t.http(`${API}/conversations/${sharedId}/messages`, { token: viewer.accessToken });
    expect(JSON.stringify(seenByViewer.body.items)).not.toContain(privateId);
    expect(JSON.stringify(seenByViewer.body.items)).not.toContain('The private');
    expect((await ask(owner.accessToken, sharedId, '/search plan')).metadata.sources).toContainEqual(
      expect.objectContaining({ conversationId: sharedId, snippet: 'shared **plan** for everyone here' }),
    );

    const aloneId = (await post(owner.accessToken, '/conversations', { title: 'Alone' })).body.id as string;
    const alone = await ask(owner.accessToken, aloneId, '/search zebra42');
    expect(alone.metadata.sources).toContainEqual(
      expect.objectContaining({ conversationId: privateId, snippet: expect.stringMatching(/budget we agreed: \*\*zebra42\*\*$/) }),
    );
    const excerpts = (await ask(owner.accessToken, aloneId, '/search budget')).metadata.sources!.map((source) => source.snippet);
    expect(excerpts).toContainEqual(expect.stringMatching(/^(The )?private \*\*budget\*\* for the quarter is the \*\*budget\*\* we agreed: zebra42$/));
    expect(excerpts.join(' ')).not.toContain(',');

    // Alone, never what other people wrote elsewhere: whoever is added here later reads the reply.
    const theirsId = (await post(viewer.accessToken, '/conversations', { title: 'Theirs', participantIds: [owner.id], agent: { mode: 'off' } })).body.id as string;
    await post(viewer.accessToken, `/conversations/${theirsId}/messages`, { content: 'my salary is okapi77' });
    await post(owner.accessToken, `/conversations/${theirsId}/messages`, { content: 'mine is okapi77 too' });
    const found = (await ask(owner.accessToken, aloneId, '/search okapi77')).metadata.sources!.filter((source) => source.conversationId === theirsId);
    expect(found.map((source) => source.snippet)).toEqual([expect.stringMatching(/^mine is \*\*okapi77\*\*/)]);
  });
});

describe('agent quotas', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ AGENT_DAILY_RUNS: '2', MESSAGE_RATE_LIMIT: '100000' });
  });
  afterAll(() => t?.close());

  it('refuses a run past the daily quota with 429 QUOTA_EXCEEDED, and stores nothing', async () => {
    const user = await register(t);
    const id = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: {} })).body.id;
    const send = (content: string) => t.http(`${API}/conversations/${id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content } });
    expect((await send('/time')).status).toBe(201);
    expect((await send('/time')).status).toBe(201);
    const refused = await send('/time');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    // Until the quota resets at midnight UTC.
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(24 * 3600);
    expect(refused.body.details).toEqual({ retryAfterSeconds: retryAfter });
    const history = await t.http(`${API}/conversations/${id}/messages`, { token: user.accessToken });
    expect(history.body.items.filter((m: { role: string }) => m.role === 'user')).toHaveLength(2);
    // Messages the agent would not answer are not limited by it.
    await t.http(`${API}/conversations/${id}`, { method: 'PATCH', token: user.accessToken, json: { agent: { mode: 'off' } } });
    expect((await send('just talking')).status).toBe(201);
  });
});

describe('agent memory', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ AGENT_CONTEXT_TOKENS: '300', MESSAGE_RATE_LIMIT: '100000' });
  });
  afterAll(() => t?.close());

  it('folds turns that outgrow the token budget into a stored summary', async () => {
    const user = await register(t, { displayName: 'Lin' });
    const id = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { agent: { mode: 'mention' } } })).body.id;
    for (let i = 0; i < 30; i++) {
      await t.http(`${API}/conversations/${id}/messages`, {
        method: 'POST',
        token: user.accessToken,
        json: { content: `Fact number ${i}: the launch code word is item${i}. More words follow here to use tokens.` },
      });
    }
    const asked = await t.http(`${API}/conversations/${id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content: '@agent /stats' } });
    expect(asked.body.run.status).toBe('completed');
    const [row] = await t.app.get(DataSource).query(`SELECT summary, summary_seq FROM conversations WHERE id = $1`, [id]);
    expect(row.summary_seq).toBeGreaterThan(0);
    expect(row.summary_seq).toBeLessThan(30);
    expect(row.summary).toContain('- Lin: Fact number');
  });

  /** A conversation of 30 facts whose agent has summarized the older ones; its id, messages and summary row. */
  async function summarized(user: Registered) {
    const id = (await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { agent: { mode: 'mention' } } })).body.id as string;
    const sent: { id: string; seq: number; version: number }[] = [];
    for (let i = 0; i < 30; i++) {
      const content = `Fact number ${i}: the launch code word is item${i}. More words follow here to use tokens.`;
      sent.push((await t.http(`${API}/conversations/${id}/messages`, { method: 'POST', token: user.accessToken, json: { content } })).body.message);
    }
    const ask = async () => {
      const asked = await t.http(`${API}/conversations/${id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content: '@agent /stats' } });
      expect(asked.body.run.status).toBe('completed');
    };
    const summary = async (): Promise<{ summary: string | null; summary_seq: number }> =>
      (await t.app.get(DataSource).query(`SELECT summary, summary_seq FROM conversations WHERE id = $1`, [id]))[0];
    await ask();
    // The facts it quotes (the newest of the older turns that fit in its budget).
    const quoted = [...((await summary()).summary ?? '').matchAll(/item(\d+)\./g)].map((match) => Number(match[1]));
    expect(quoted.length).toBeGreaterThan(2);
    return { id, sent, ask, summary, quoted };
  }

  it('forgets what a deleted or edited message said: the summary is dropped and worked out again from what remains', async () => {
    const user = await register(t, { displayName: 'Lin' });
    const { id, sent, ask, summary, quoted } = await summarized(user);
    const [gone, changed, kept] = quoted.slice(-3) as [number, number, number];
    const deleted = await t.http(`${API}/conversations/${id}/messages/${sent[gone]!.id}`, { method: 'DELETE', token: user.accessToken });
    expect(deleted.status).toBe(204);
    expect(await summary()).toEqual({ summary: null, summary_seq: 0 });
    const edited = await t.http(`${API}/conversations/${id}/messages/${sent[changed]!.id}`, { method: 'PATCH', token: user.accessToken, json: { content: `Fact number ${changed} was withdrawn.` } });
    expect(edited.status).toBe(200);
    await ask();
    const again = (await summary()).summary;
    expect(again).toContain(`item${kept}.`);
    expect(again).not.toContain(`item${gone}.`);
    expect(again).not.toContain(`item${changed}.`);
    expect(again).toContain(`- Lin: Fact number ${changed} was withdrawn.`);
  });

  it('stores a summary only if nothing it was worked out from changed meanwhile', async () => {
    const user = await register(t, { displayName: 'Lin' });
    const { id, sent, summary, quoted } = await summarized(user);
    const repository = t.app.get(ConversationsRepository);
    const held = await summary();
    const newest = Math.max(...sent.map((message) => message.version));
    const base = { summary: held.summary, summarySeq: held.summary_seq, readAfter: 0, readVersion: newest };
    // Worked out from another summary than the one held (another write came first)…
    expect(await repository.updateSummary(id, 'stale', 25, { ...base, summarySeq: held.summary_seq - 1 })).toBe(false);
    // …or from one that was dropped, then worked out again up to the same turn (the same seq).
    expect(await repository.updateSummary(id, 'stale', 25, { ...base, summary: `${held.summary}\n- Lin: a deleted turn.` })).toBe(false);
    // A message it read was edited after the read (the read saw versions up to `newest`).
    expect((await t.http(`${API}/conversations/${id}/messages/${sent[quoted.at(-1)! + 1]!.id}`, { method: 'PATCH', token: user.accessToken, json: { content: 'Changed.' } })).status).toBe(200);
    expect(await repository.updateSummary(id, 'stale', 28, base)).toBe(false);
    // Messages read after that change: stored.
    expect(await repository.updateSummary(id, 'fresh', 28, { ...base, readVersion: newest + 100 })).toBe(true);
    expect(await summary()).toEqual({ summary: 'fresh', summary_seq: 28 });
  });

  it('does not store a summary whose write waited for a deletion of a message it read (the deletion holds the conversation)', async () => {
    const user = await register(t, { displayName: 'Lin' });
    const { id, sent, summary, quoted } = await summarized(user);
    const repository = t.app.get(ConversationsRepository);
    const held = await summary();
    const target = sent[quoted.at(-1)! + 1]!;
    let entered!: () => void;
    let commit!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const committing = new Promise<void>((resolve) => (commit = resolve));
    const deleting = repository.versioned(id, async (manager, version) => {
      const deleted = await t.app.get(MessagesRepository).softDelete(id, target.id, version, manager);
      entered();
      await committing;
      return deleted;
    });
    await inside;
    // Worked out from messages read before the deletion, written while it holds the conversation.
    const writing = repository.updateSummary(id, 'quotes the deleted message', target.seq, {
      summary: held.summary,
      summarySeq: held.summary_seq,
      readAfter: 0,
      readVersion: Math.max(...sent.map((m) => m.version)),
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    commit();
    expect(await deleting).toBeDefined();
    expect(await writing).toBe(false);
    expect((await summary()).summary).toBe(held.summary);
  });
});
