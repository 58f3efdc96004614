import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RunsRepository } from '../../src/agent/runs.repository.js';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { UsersRepository } from '../../src/users/users.repository.js';
import { PASSWORD, type Registered, register } from '../support/auth.js';
import { testDatabaseServerUrl } from '../support/database.js';
import { startTestApp, type TestApp, type TestResponse } from '../support/test-app.js';
import { waitUntil } from '../support/conditions.js';
import { ADMIN, ADMIN_ENV } from '../support/world.js';

const API = '/api/v1';
/** Bookkeeping of the schema itself, not data anyone put in. */
const SCHEMA_TABLES = ['migrations', 'typeorm_metadata'];
/** Every column type that can hold what a user wrote (tsvector: the search index of message text). */
const TEXT_TYPES = ['text', 'character varying', 'character', 'json', 'jsonb', 'tsvector', 'ARRAY'];

/**
 * Every table of the schema (those added later included) with every column that can hold text:
 * each table as its name followed by its rows, those columns only.
 */
async function dumpText(db: DataSource): Promise<{ tables: string[]; text: string }> {
  const columns: { table_name: string; column_name: string }[] = await db.query(
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
     WHERE c.table_schema = current_schema() AND NOT (c.table_name = ANY($1::text[])) AND c.data_type = ANY($2::text[])
     ORDER BY c.table_name, c.ordinal_position`,
    [SCHEMA_TABLES, TEXT_TYPES],
  );
  const tables: { table_name: string }[] = await db.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND NOT (table_name = ANY($1::text[])) ORDER BY 1`,
    [SCHEMA_TABLES],
  );
  const parts: string[] = [];
  for (const { table_name: table } of tables) {
    const names = columns.filter((column) => column.table_name === table).map((column) => `"${column.column_name}"::text`);
    parts.push(`-- ${table}`);
    if (!names.length) continue;
    const rows: { row: string }[] = await db.query(`SELECT concat_ws(E'\\t', ${names.join(', ')}) AS row FROM "${table}"`);
    parts.push(...rows.map((r) => r.row));
  }
  return { tables: tables.map((t) => t.table_name), text: parts.join('\n').toLowerCase() };
}

/** Everything the departing user put into the service; none of it may survive anywhere. */
const ALICE = {
  displayName: 'Alice Quillfeather',
  soloTitle: 'Solo title marigold',
  soloPrompt: 'Solo prompt periwinkle',
  soloText: 'solo words aubergine',
  soloCalc: '/calc 1111+2222',
  sharedTitle: 'Shared title tamarind',
  sharedPrompt: 'Shared prompt vermilion',
  sharedSearch: '/search pangolin',
  sharedText: 'shared words pangolin',
  guestText: 'guest words narwhal',
  deletedTitle: 'Deleted title sassafras',
  deletedText: 'deleted room words kumquat',
};

describe('DELETE /auth/me erases the account', () => {
  let t: TestApp;
  let db: DataSource;
  let alice: Registered;
  let bob: Registered;
  let carol: Registered;
  const conversations: Record<'solo' | 'shared' | 'bobs' | 'deleted', string> = { solo: '', shared: '', bobs: '', deleted: '' };
  const events: RealtimeEvent[] = [];
  let before = '';

  /** Setup steps must succeed; they run before any test. */
  const succeed = async (request: Promise<TestResponse>, status: number) => {
    const response = await request;
    if (response.status !== status) throw new Error(`expected ${status}, got ${response.status} ${response.text}`);
    return response;
  };
  const create = async (owner: Registered, json: unknown) =>
    (await succeed(t.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json }), 201)).body.id as string;
  const send = async (user: Registered, conversationId: string, content: string) => {
    const response = await succeed(
      t.http(`${API}/conversations/${conversationId}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content } }),
      201,
    );
    return response.body as { message: { id: string }; run: { id: string } | null; reply: { id: string } | null };
  };
  const dump = async () => (await dumpText(db)).text;

  let aliceShared: Awaited<ReturnType<typeof send>>;
  let aliceSearch: Awaited<ReturnType<typeof send>>;
  let aliceGuest: Awaited<ReturnType<typeof send>>;
  let bobShared: Awaited<ReturnType<typeof send>>;
  let bobOwn: Awaited<ReturnType<typeof send>>;

  beforeAll(async () => {
    t = await startTestApp();
    db = t.app.get(DataSource);
    [alice, bob, carol] = await Promise.all([register(t, { displayName: ALICE.displayName }), register(t, { displayName: 'Bob' }), register(t, { displayName: 'Carol' })]);

    conversations.solo = await create(alice, { title: ALICE.soloTitle, agent: { mode: 'auto', systemPrompt: ALICE.soloPrompt } });
    await send(alice, conversations.solo, ALICE.soloCalc);
    await send(alice, conversations.solo, ALICE.soloText);

    // Carol joined first but only as a viewer: Bob, the longest-standing member, inherits.
    conversations.shared = await create(alice, { title: ALICE.sharedTitle, participantIds: [], agent: { mode: 'auto', systemPrompt: ALICE.sharedPrompt } });
    for (const [user, role] of [[carol, 'viewer'], [bob, 'member']] as const) {
      await succeed(t.http(`${API}/conversations/${conversations.shared}/participants`, { method: 'POST', token: alice.accessToken, json: { userId: user.id, role } }), 201);
    }
    aliceShared = await send(alice, conversations.shared, ALICE.sharedText);
    aliceSearch = await send(alice, conversations.shared, ALICE.sharedSearch);
    bobShared = await send(bob, conversations.shared, 'bob says hello in the shared room');

    conversations.bobs = await create(bob, { title: 'Bob room', participantIds: [alice.id], agent: { mode: 'auto' } });
    aliceGuest = await send(alice, conversations.bobs, ALICE.guestText);
    bobOwn = await send(bob, conversations.bobs, 'bob says hello in his own room');

    // Deleted by its owner before: invisible to everyone, but still her data.
    conversations.deleted = await create(alice, { title: ALICE.deletedTitle, participantIds: [bob.id], agent: { mode: 'off' } });
    await send(alice, conversations.deleted, ALICE.deletedText);
    await succeed(t.http(`${API}/conversations/${conversations.deleted}`, { method: 'DELETE', token: alice.accessToken }), 204);

    before = await dump();
    const subscription = t.app.get(RealtimeBus).events$.subscribe((event) => events.push(event));
    // The erasure announces its changes before it answers.
    await succeed(t.http(`${API}/auth/me`, { method: 'DELETE', token: alice.accessToken }), 204);
    subscription.unsubscribe();
  });
  afterAll(() => t?.close());

  it('had her data in the database before (so the absence below means something)', () => {
    for (const value of [alice.email, ALICE.displayName, ALICE.soloTitle, ALICE.sharedPrompt, ALICE.sharedText, '1111+2222', 'pangolin', ALICE.deletedText]) {
      expect(before, value).toContain(value.toLowerCase());
    }
  });

  it('looks for them in every table of the schema, sessions and refresh tokens included', async () => {
    const { tables } = await dumpText(db);
    expect(tables).toEqual(expect.arrayContaining(['users', 'sessions', 'refresh_tokens', 'conversations', 'messages', 'agent_runs', 'tool_invocations']));
    expect(tables).not.toEqual(expect.arrayContaining(SCHEMA_TABLES));
  });

  it('leaves no trace of her email, name, titles, prompts, messages or tool arguments in any table', async () => {
    const after = await dump();
    for (const value of [alice.email, ALICE.displayName, ...Object.values(ALICE), 'quillfeather', '1111', 'pangolin']) {
      expect(after, value).not.toContain(value.toLowerCase());
    }
  });

  it('keeps of the user row only the id and timestamps', async () => {
    const [row] = await db.query(`SELECT email, display_name, password_hash, role, deleted_at FROM users WHERE id = $1`, [alice.id]);
    expect(row).toMatchObject({ email: null, display_name: 'Deleted user', password_hash: null, role: 'user' });
    expect(row.deleted_at).not.toBeNull();
  });

  it('deletes the conversations she owned alone, or had deleted, with everything in them', async () => {
    const ids = [conversations.solo, conversations.deleted];
    const count = async (sql: string) => (await db.query(sql, [ids]))[0].count as number;
    expect(await count(`SELECT count(*)::int AS count FROM conversations WHERE id = ANY($1::uuid[])`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS count FROM messages WHERE conversation_id = ANY($1::uuid[])`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS count FROM agent_runs WHERE conversation_id = ANY($1::uuid[])`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS count FROM conversation_participants WHERE conversation_id = ANY($1::uuid[])`)).toBe(0);
    expect((await t.http(`${API}/conversations/${conversations.deleted}`, { token: bob.accessToken })).status).toBe(404);
  });

  it('hands a shared conversation she owned to its longest-standing member, without her title and prompt', async () => {
    const response = await t.http(`${API}/conversations/${conversations.shared}`, { token: bob.accessToken });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ ownerId: bob.id, title: '', agent: { systemPrompt: null } });
    expect(response.body.participants.map((p: { userId: string; role: string }) => [p.userId, p.role])).toEqual([
      [bob.id, 'owner'],
      [carol.id, 'viewer'],
    ]);
    const renamed = await t.http(`${API}/conversations/${conversations.shared}`, { method: 'PATCH', token: bob.accessToken, json: { title: 'Ours now' } });
    expect(renamed.status).toBe(200);
  });

  it('turns her messages and the replies to them into tombstones, and leaves everyone else\'s intact', async () => {
    const history = async (conversationId: string) => {
      const response = await t.http(`${API}/conversations/${conversationId}/messages`, { token: bob.accessToken });
      expect(response.status).toBe(200);
      return new Map<string, { authorId: string | null; content: string; deletedAt: string | null; metadata: object; clientMessageId: string | null }>(
        response.body.items.map((m: { id: string }) => [m.id, m]),
      );
    };
    const shared = await history(conversations.shared);
    const bobs = await history(conversations.bobs);
    for (const [messages, sent] of [[shared, aliceShared], [shared, aliceSearch], [bobs, aliceGuest]] as const) {
      expect(messages.get(sent.message.id)).toMatchObject({ authorId: alice.id, content: '', deletedAt: expect.any(String), metadata: {} });
      expect(messages.get(sent.reply!.id)).toMatchObject({ content: '', deletedAt: expect.any(String), metadata: {} });
    }
    for (const [messages, sent, text] of [
      [shared, bobShared, 'bob says hello in the shared room'],
      [bobs, bobOwn, 'bob says hello in his own room'],
    ] as const) {
      expect(messages.get(sent.message.id)).toMatchObject({ authorId: bob.id, content: text, deletedAt: null });
      expect(messages.get(sent.reply!.id)).toMatchObject({ deletedAt: null, content: expect.stringMatching(/\S/) });
    }
    const [names] = await db.query(`SELECT display_name FROM users WHERE id = $1`, [alice.id]);
    expect(names.display_name).toBe('Deleted user');
  });

  it('blanks the runs she triggered and their tool calls; others\' runs keep theirs', async () => {
    const runs: { id: string; requested_by_id: string | null }[] = await db.query(
      `SELECT id, requested_by_id FROM agent_runs WHERE id = ANY($1::uuid[])`,
      [[aliceSearch.run!.id, aliceGuest.run!.id]],
    );
    expect(runs.map((run) => run.requested_by_id)).toEqual([null, null]);
    const [search] = await db.query(`SELECT name, arguments, result, error FROM tool_invocations WHERE run_id = $1`, [aliceSearch.run!.id]);
    expect(search).toEqual({ name: 'search_history', arguments: {}, result: null, error: null });
    const [bobRun] = await db.query(`SELECT requested_by_id FROM agent_runs WHERE id = $1`, [bobShared.run!.id]);
    expect(bobRun.requested_by_id).toBe(bob.id);
  });

  it('removes her from every conversation and ends her sessions', async () => {
    const [{ count }] = await db.query(`SELECT count(*)::int AS count FROM conversation_participants WHERE user_id = $1`, [alice.id]);
    expect(count).toBe(0);
    const [{ live }] = await db.query(`SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL`, [alice.id]);
    expect(live).toBe(0);
    expect((await t.http(`${API}/auth/me`, { token: alice.accessToken })).status).toBe(401);
  });

  it('announces every change on the realtime bus, so open clients follow', () => {
    const of = <T extends RealtimeEvent['type']>(type: T) => events.filter((event): event is Extract<RealtimeEvent, { type: T }> => event.type === type);
    expect(of('conversation.deleted').map((event) => event.conversationId)).toEqual([conversations.solo]);
    expect(of('participant.removed').map((event) => [event.conversationId, event.userId]).sort()).toEqual(
      [[conversations.shared, alice.id], [conversations.bobs, alice.id]].sort(),
    );
    const updated = of('conversation.updated').find((event) => event.conversationId === conversations.shared);
    expect(updated?.conversation).toMatchObject({ ownerId: bob.id, title: '' });
    const deletedMessages = of('message.deleted').map((event) => event.messageId);
    for (const sent of [aliceShared, aliceSearch, aliceGuest]) expect(deletedMessages).toEqual(expect.arrayContaining([sent.message.id, sent.reply!.id]));
    expect(deletedMessages).not.toContain(bobShared.message.id);
  });

  it('is described in the OpenAPI document', async () => {
    const { body } = await t.http('/api/docs-json');
    expect(body.paths[`${API}/auth/me`].delete.description).toMatch(/owned alone.*deleted/is);
  });
});

describe('DELETE /auth/me while the agent or a sign-in is at work', () => {
  let t: TestApp;
  let fake: FakeOpenAI;
  let db: DataSource;

  const until = (probe: () => Promise<unknown>, what: string) => waitUntil(probe, what);
  const deleteAccount = (user: Registered) => t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken });
  /** Starts a reply that streams for seconds, and waits until its run is running and streaming. */
  const streaming = async (user: Registered, conversationId: string) => {
    const requests = fake.requests.length;
    fake.enqueue({ kind: 'text', chunks: Array.from({ length: 500 }, (_, i) => `w${i} `), delayMs: 20 });
    const sent = await t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token: user.accessToken, json: { content: 'talk for a while' } });
    expect(sent.status).toBe(201);
    const runId = sent.body.run.id as string;
    await until(async () => (await db.query(`SELECT status FROM agent_runs WHERE id = $1`, [runId]))[0]?.status === 'running', 'the run running');
    await until(async () => fake.requests.length > requests, 'the provider request');
    return runId;
  };
  const conversation = async (owner: Registered, participantIds: string[] = []) => {
    const response = await t.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { title: 'room', participantIds, agent: { mode: 'auto' } } });
    expect(response.status).toBe(201);
    return response.body.id as string;
  };

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp({ AGENT_PROVIDER: 'openai', OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'test' });
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('stops a reply still streaming in a conversation it deletes: the provider request is cut off', async () => {
    const alice = await register(t);
    const conversationId = await conversation(alice);
    const runId = await streaming(alice, conversationId);
    const events: RealtimeEvent[] = [];
    const subscription = t.app.get(RealtimeBus).events$.subscribe((event) => events.push(event));

    expect((await deleteAccount(alice)).status).toBe(204);

    subscription.unsubscribe();
    expect(events).toContainEqual({ type: 'run.cancel', conversationId, runId });
    expect((await db.query(`SELECT count(*)::int AS count FROM conversations WHERE id = $1`, [conversationId]))[0].count).toBe(0);
    await until(async () => fake.requests.at(-1)!.aborted, 'the provider request cut off');
  });

  it('records nothing more of the tool calls of a run it erased, though the run has not stopped yet', async () => {
    const [alice, bob] = await Promise.all([register(t), register(t)]);
    const conversationId = await conversation(bob, [alice.id]);
    const runId = await streaming(alice, conversationId);
    const runs = t.app.get(RunsRepository);
    const started = await runs.recordToolStart({ runId, callId: 'before', name: 'search_history', arguments: { query: 'started before' } });
    expect(started).toEqual(expect.any(String));

    expect((await deleteAccount(alice)).status).toBe(204);

    // What the instance executing the run would still write until it hears that it must stop.
    expect(await runs.recordToolEnd(started!, { result: ['ended after'] })).toBe(false);
    expect(await runs.recordToolStart({ runId, callId: 'after', name: 'search_history', arguments: { query: 'started after' } })).toBeUndefined();
    const calls = await db.query(`SELECT call_id, arguments, result, error FROM tool_invocations WHERE run_id = $1`, [runId]);
    expect(calls).toEqual([{ call_id: 'before', arguments: {}, result: null, error: null }]);
  });

  it('ends a session that signed in while the account was being deleted, and lets none start after', async () => {
    for (let round = 0; round < 10; round++) {
      const user = await register(t);
      const [signedIn, deleted] = await Promise.all([
        t.http(`${API}/auth/login`, { method: 'POST', json: { email: user.email, password: PASSWORD } }),
        deleteAccount(user),
      ]);
      expect(deleted.status).toBe(204);
      const [{ live }] = await db.query(`SELECT count(*)::int AS live FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, [user.id]);
      expect(live, `round ${round}: live sessions of a deleted account`).toBe(0);
      expect([200, 401]).toContain(signedIn.status);
      if (signedIn.status !== 200) continue;
      // Signed in before the erasure committed: with a session that has ended since.
      expect((await t.http(`${API}/auth/me`, { token: signedIn.body.accessToken })).status).toBe(401);
      expect((await t.http(`${API}/auth/refresh`, { method: 'POST', json: { refreshToken: signedIn.body.refreshToken } })).status).toBe(401);
    }
  });
});

// PGlite runs one transaction at a time, so only PostgreSQL can show two of them waiting on each other.
describe.skipIf(!testDatabaseServerUrl())('DELETE /auth/me alongside versioned changes of the same conversations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  it('locks the conversations first, as every versioned change does: neither side deadlocks or retries', async () => {
    const [alice, bob] = await Promise.all([register(t), register(t)]);
    const created = await t.http(`${API}/conversations`, { method: 'POST', token: bob.accessToken, json: { participantIds: [alice.id], agent: { mode: 'off' } } });
    const conversationId = created.body.id as string;
    const sent = await t.http(`${API}/conversations/${conversationId}/messages`, { method: 'POST', token: alice.accessToken, json: { content: 'hello' } });
    expect(sent.status).toBe(201);
    const conversations = t.app.get(ConversationsRepository);
    // Called once per attempt of the erasure's transaction.
    const anonymise = vi.spyOn(t.app.get(UsersRepository), 'anonymise');
    // Like a run's final write: the conversation's version first, then the messages in it.
    const touchMessages = (holdLock?: () => Promise<void>) =>
      conversations.versioned(conversationId, async (manager) => {
        await holdLock?.();
        await manager.query(`UPDATE messages SET metadata = metadata WHERE conversation_id = $1`, [conversationId]);
        return true;
      });
    const db = t.app.get(DataSource);
    const someoneWaitsOnALock = async () =>
      (await db.query(`SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0].waiting > 0;

    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    // Holds the conversation's lock until the erasure waits for it, then writes the messages.
    const first = touchMessages(async () => {
      locked();
      await vi.waitUntil(someoneWaitsOnALock, { timeout: 5_000, interval: 10 });
    });
    await holding;
    const erased = t.http(`${API}/auth/me`, { method: 'DELETE', token: alice.accessToken });
    const more = Array.from({ length: 5 }, () => touchMessages());

    const outcomes = await Promise.allSettled([first, ...more]);
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    expect((await erased).status).toBe(204);
    expect(anonymise).toHaveBeenCalledTimes(1);
    const [message] = await db.query(`SELECT content, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = $1`, [sent.body.message.id]);
    expect(message).toEqual({ content: '', deleted: true });
  });
});

describe('DELETE /auth/me of an admin', () => {
  let t: TestApp;
  let db: DataSource;
  let admin: Registered;

  const signIn = async (email: string, password: string): Promise<Registered> => {
    const response = await t.http(`${API}/auth/login`, { method: 'POST', json: { email, password } });
    expect(response.status).toBe(200);
    const { user, accessToken, refreshToken } = response.body;
    return { id: user.id, email, password, accessToken, refreshToken };
  };
  const setRole = (by: Registered, userId: string, role: 'admin' | 'user') =>
    t.http(`${API}/admin/users/${userId}`, { method: 'PATCH', token: by.accessToken, json: { role } });
  const deleteAccount = (user: Registered) => t.http(`${API}/auth/me`, { method: 'DELETE', token: user.accessToken });
  const adminIds = async () =>
    ((await db.query(`SELECT id FROM users WHERE role = 'admin' AND deleted_at IS NULL ORDER BY id`)) as { id: string }[]).map((row) => row.id);

  beforeAll(async () => {
    t = await startTestApp(ADMIN_ENV);
    db = t.app.get(DataSource);
    admin = await signIn(ADMIN.email, ADMIN.password);
  });
  afterAll(() => t?.close());

  it('refuses the last admin with 409 and changes nothing: the account, its role and its sessions stay', async () => {
    const refused = await deleteAccount(admin);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/last admin.*make another user an admin first/i) });
    expect(await adminIds()).toEqual([admin.id]);
    expect((await t.http(`${API}/auth/me`, { token: admin.accessToken })).status).toBe(200);
    const [{ deleted }] = await db.query(`SELECT count(*)::int AS deleted FROM audit_events WHERE action = 'account.deleted' AND actor_id = $1`, [admin.id]);
    expect(deleted).toBe(0);
  });

  it('erases an admin who is not the last one', async () => {
    const other = await register(t);
    expect((await setRole(admin, other.id, 'admin')).status).toBe(200);
    expect((await deleteAccount(await signIn(other.email, PASSWORD))).status).toBe(204);
    expect(await adminIds()).toEqual([admin.id]);
  });

  // Only a server with many connections runs the two transactions at once: the embedded database
  // has one connection, which runs them one after the other, so there the race cannot happen.
  it.runIf(testDatabaseServerUrl())('of an admin stepping down while the only other one deletes her account, one admin remains', async () => {
    let current = admin;
    for (let round = 0; round < 15; round++) {
      const other = await register(t);
      expect((await setRole(current, other.id, 'admin')).status).toBe(200);
      const [demoted, deleted] = await Promise.all([setRole(current, current.id, 'user'), deleteAccount(other)]);
      expect([demoted.status, deleted.status].sort(), `round ${round}`).toEqual(demoted.status === 200 ? [200, 409] : [204, 409]);
      const remaining = await adminIds();
      expect(remaining, `round ${round}: the admins left`).toHaveLength(1);
      // Whoever won remains the admin for the next round (a refused deletion may have ended her sessions).
      if (remaining[0] === other.id) current = await signIn(other.email, PASSWORD);
    }
  });
});
