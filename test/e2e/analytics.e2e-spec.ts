import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Registered, register } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN, ADMIN_ENV } from '../support/world.js';

const API = '/api/v1';

const zeros = {
  messages: { total: 0, user: 0, assistant: 0, system: 0, tool: 0 },
  activeUsers: 0,
  conversations: { created: 0, active: 0 },
  runs: { total: 0, completed: 0, failed: 0, cancelled: 0, interrupted: 0 },
  ttftMs: { count: 0, p50: null, p95: null },
  durationMs: { count: 0, p50: null, p95: null },
  tokens: [],
  feedback: { up: 0, down: 0, ratio: null },
};

/**
 * A small history around 10–12 March 2024 (UTC), with rows on either side of every bucket edge.
 * Times are written as the database should read them, offsets included.
 */
async function seed(db: DataSource): Promise<void> {
  const users: { id: string }[] = await db.query(
    `INSERT INTO users (email, display_name) VALUES ('u1@example.com', 'U1'), ('u2@example.com', 'U2'), ('u3@example.com', 'U3') RETURNING id`,
  );
  const [u1, u2, u3] = users.map((user) => user.id);
  const conversation = async (createdAt: string) =>
    ((await db.query(`INSERT INTO conversations (owner_id, created_at) VALUES ($1, $2) RETURNING id`, [u1, createdAt])) as { id: string }[])[0]!.id;
  const c1 = await conversation('2024-03-09T12:00:00Z');
  const c2 = await conversation('2024-03-10T00:00:00Z');
  const c3 = await conversation('2024-03-11T23:59:59.999Z');
  const message = async (conversationId: string, seq: number, role: string, authorId: string | null, createdAt: string) =>
    ((await db.query(
      `INSERT INTO messages (conversation_id, seq, version, role, author_id, content, created_at) VALUES ($1, $2::int, $2::int, $3, $4, 'x', $5) RETURNING id`,
      [conversationId, seq, role, authorId, createdAt],
    )) as { id: string }[])[0]!.id;
  await message(c1, 1, 'user', u1!, '2024-03-09T23:59:59.999Z'); // the day before the range
  const m1 = await message(c1, 2, 'user', u1!, '2024-03-10T00:00:00Z');
  const m2 = await message(c1, 3, 'assistant', null, '2024-03-10T00:00:05Z');
  await message(c2, 1, 'user', u2!, '2024-03-11T01:30:00+02:00'); // 10 March, 23:30 UTC
  const m4 = await message(c2, 2, 'assistant', null, '2024-03-10T23:59:59.999Z');
  await message(c2, 3, 'user', u2!, '2024-03-11T00:00:00Z');
  await message(c3, 1, 'user', u3!, '2024-03-11T12:00:00Z');
  await message(c3, 2, 'system', null, '2024-03-11T12:00:01Z');
  await message(c1, 4, 'tool', null, '2024-03-13T00:00:00Z'); // the end of the range is exclusive
  await db.query(`UPDATE conversations SET last_seq = 4, version = 4 WHERE id = $1`, [c1]);
  await db.query(`UPDATE conversations SET last_seq = 3, version = 3 WHERE id = $1`, [c2]);
  await db.query(`UPDATE conversations SET last_seq = 2, version = 2 WHERE id = $1`, [c3]);

  const run = (status: string, model: string, started: string | null, ttftMs: number | null, finished: string | null, usage: object | null) =>
    db.query(
      `INSERT INTO agent_runs (conversation_id, trigger_message_id, status, provider, model, usage, created_at, started_at, first_token_at, finished_at)
       VALUES ($1, $2, $3, 'openai', $4, $5, coalesce($6::timestamptz, now()), $6::timestamptz, $6::timestamptz + make_interval(secs => $7::float8 / 1000), $8::timestamptz)`,
      [c1, m1, status, model, usage && JSON.stringify(usage), started, ttftMs, finished],
    );
  await run('completed', 'gpt-a', '2024-03-10T10:00:00Z', 100, '2024-03-10T10:00:02Z', { inputTokens: 10, outputTokens: 5 });
  await run('completed', 'gpt-a', '2024-03-10T11:00:00Z', 300, '2024-03-10T11:00:01.234Z', { inputTokens: 1, outputTokens: 2 });
  await run('failed', 'gpt-b', '2024-03-10T23:59:59Z', null, '2024-03-11T00:00:00.5Z', { inputTokens: 7, outputTokens: 0 });
  await run('completed', 'gpt-b', '2024-03-11T05:00:00Z', 200, '2024-03-11T05:00:05Z', { inputTokens: 20, outputTokens: 30 });
  await run('cancelled', 'gpt-a', '2024-03-11T06:00:00Z', 400, '2024-03-11T06:00:00.6Z', null);
  await run('running', 'gpt-a', '2024-03-11T07:00:00Z', 50, null, null);
  await run('completed', 'gpt-a', '2024-03-12T23:00:00Z', 10, '2024-03-13T00:00:00Z', { inputTokens: 99, outputTokens: 99 });

  const rate = (messageId: string, userId: string, rating: string, at: string) =>
    db.query(
      `INSERT INTO message_feedback (message_id, user_id, conversation_id, rating, created_at, updated_at)
       SELECT $1, $2, conversation_id, $3, $4, $4 FROM messages WHERE id = $1`,
      [messageId, userId, rating, at],
    );
  await rate(m2, u1!, 'up', '2024-03-10T08:00:00Z');
  await rate(m2, u2!, 'down', '2024-03-11T00:00:00Z');
  await rate(m4, u3!, 'up', '2024-03-11T10:00:00Z');
  await rate(m4, u1!, 'up', '2024-03-12T23:59:59.999Z');
}

const MARCH_10 = {
  ...zeros,
  start: '2024-03-10T00:00:00.000Z',
  end: '2024-03-11T00:00:00.000Z',
  messages: { total: 4, user: 2, assistant: 2, system: 0, tool: 0 },
  activeUsers: 2,
  conversations: { created: 1, active: 2 },
  runs: { total: 2, completed: 2, failed: 0, cancelled: 0, interrupted: 0 },
  ttftMs: { count: 2, p50: 100, p95: 300 },
  // 1234 ms is reported to three significant digits.
  durationMs: { count: 2, p50: 1230, p95: 2000 },
  tokens: [{ model: 'gpt-a', runs: 2, inputTokens: 11, outputTokens: 7 }],
  feedback: { up: 1, down: 0, ratio: 1 },
};
const MARCH_11 = {
  ...zeros,
  start: '2024-03-11T00:00:00.000Z',
  end: '2024-03-12T00:00:00.000Z',
  messages: { total: 3, user: 2, assistant: 0, system: 1, tool: 0 },
  activeUsers: 2,
  conversations: { created: 1, active: 2 },
  runs: { total: 3, completed: 1, failed: 1, cancelled: 1, interrupted: 0 },
  ttftMs: { count: 2, p50: 200, p95: 400 },
  durationMs: { count: 1, p50: 5000, p95: 5000 },
  tokens: [
    { model: 'gpt-b', runs: 2, inputTokens: 27, outputTokens: 30 },
    { model: 'gpt-a', runs: 1, inputTokens: 0, outputTokens: 0 },
  ],
  feedback: { up: 1, down: 1, ratio: 0.5 },
};
const MARCH_12 = { ...zeros, start: '2024-03-12T00:00:00.000Z', end: '2024-03-13T00:00:00.000Z', feedback: { up: 1, down: 0, ratio: 1 } };
const THREE_DAYS = {
  from: '2024-03-10T00:00:00.000Z',
  to: '2024-03-13T00:00:00.000Z',
  interval: 'day',
  buckets: [MARCH_10, MARCH_11, MARCH_12],
  total: {
    messages: { total: 7, user: 4, assistant: 2, system: 1, tool: 0 },
    // Distinct over the range: u2 and c2 were active on both days.
    activeUsers: 3,
    conversations: { created: 2, active: 3 },
    runs: { total: 5, completed: 3, failed: 1, cancelled: 1, interrupted: 0 },
    ttftMs: { count: 4, p50: 200, p95: 400 },
    durationMs: { count: 3, p50: 2000, p95: 5000 },
    tokens: [
      { model: 'gpt-b', runs: 2, inputTokens: 27, outputTokens: 30 },
      { model: 'gpt-a', runs: 3, inputTokens: 11, outputTokens: 7 },
    ],
    feedback: { up: 3, down: 1, ratio: 0.75 },
  },
};

describe('admin analytics', () => {
  let t: TestApp;
  let db: DataSource;
  let admin: string;
  let user: Registered;

  const report = (query: string, token = admin) => t.http(`${API}/admin/analytics${query}`, { token });

  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, MESSAGE_RATE_LIMIT: '100000' });
    db = t.app.get(DataSource);
    await seed(db);
    admin = (await t.http(`${API}/auth/login`, { method: 'POST', json: ADMIN })).body.accessToken;
    user = await register(t);
  });
  afterAll(() => t?.close());

  it('counts each UTC day of a range exactly, and the range as a whole with distinct people and conversations', async () => {
    const response = await report('?from=2024-03-10&to=2024-03-13&interval=day');
    expect(response.status).toBe(200);
    expect(response.body).toEqual(THREE_DAYS);
  });

  it('keeps closed days once computed, and answers the same from them', async () => {
    const [{ days }] = await db.query(`SELECT count(*)::int AS days FROM analytics_days WHERE day BETWEEN '2024-03-10' AND '2024-03-12'`);
    expect(days).toBe(3);
    // Reads the rollups, not the tables: a row written into a closed day afterwards is not counted again.
    const [{ id }] = await db.query(`SELECT id FROM conversations WHERE created_at = '2024-03-10T00:00:00Z'`);
    await db.query(`INSERT INTO messages (conversation_id, seq, role, content, created_at) VALUES ($1, 99, 'system', 'late', '2024-03-10T12:00:00Z')`, [id]);
    expect((await report('?from=2024-03-10&to=2024-03-13')).body).toEqual(THREE_DAYS);
    await db.query(`DELETE FROM messages WHERE conversation_id = $1 AND seq = 99`, [id]);
  });

  it('reads a range given with an offset as the UTC instant it names', async () => {
    const response = await report('?from=2024-03-10T02:00:00%2B02:00&to=2024-03-11T00:00:00Z');
    expect(response.status).toBe(200);
    expect(response.body.buckets).toEqual([MARCH_10]);
  });

  it('splits by hour across midnight, each hour read live', async () => {
    const response = await report('?from=2024-03-10T23:00:00Z&to=2024-03-11T01:00:00Z&interval=hour');
    expect(response.status).toBe(200);
    expect(response.body.buckets).toEqual([
      { ...zeros, start: '2024-03-10T23:00:00.000Z', end: '2024-03-11T00:00:00.000Z', messages: { total: 2, user: 1, assistant: 1, system: 0, tool: 0 }, activeUsers: 1, conversations: { created: 0, active: 1 } },
      {
        ...zeros,
        start: '2024-03-11T00:00:00.000Z',
        end: '2024-03-11T01:00:00.000Z',
        messages: { total: 1, user: 1, assistant: 0, system: 0, tool: 0 },
        activeUsers: 1,
        conversations: { created: 0, active: 1 },
        runs: { total: 1, completed: 0, failed: 1, cancelled: 0, interrupted: 0 },
        tokens: [{ model: 'gpt-b', runs: 1, inputTokens: 7, outputTokens: 0 }],
        feedback: { up: 0, down: 1, ratio: 0 },
      },
    ]);
    expect(response.body.total).toMatchObject({ messages: { total: 3 }, activeUsers: 1, conversations: { created: 0, active: 1 } });
  });

  it('counts today live, from the tables', async () => {
    const today = (await report('')).body;
    expect(today.interval).toBe('day');
    expect(today.buckets).toHaveLength(30);
    const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'today', agent: { mode: 'off' } } });
    await t.http(`${API}/conversations/${conversation.body.id}/messages`, { method: 'POST', token: user.accessToken, json: { content: 'hello' } });
    const after = (await report('')).body;
    const [before, now] = [today.buckets.at(-1), after.buckets.at(-1)];
    expect(now.start).toBe(before.start);
    expect(now.messages.user).toBe(before.messages.user + 1);
    expect(now.conversations.created).toBe(before.conversations.created + 1);
    expect(after.total.activeUsers).toBeGreaterThanOrEqual(1);
  });

  it('is for admins only', async () => {
    const response = await report('', user.accessToken);
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
    expect((await t.http(`${API}/admin/analytics`)).status).toBe(401);
  });

  it.each([
    ['from after to', '?from=2024-03-12&to=2024-03-10', 'to'],
    ['an empty range', '?from=2024-03-10&to=2024-03-10', 'to'],
    ['a day that starts off UTC midnight', '?from=2024-03-10T12:00:00Z&to=2024-03-12', 'from'],
    ['a local midnight that is not UTC midnight', '?from=2024-03-10T00:00:00%2B02:00&to=2024-03-12', 'from'],
    ['an hour that does not start on the hour', '?from=2024-03-10T00:30:00Z&to=2024-03-10T05:00:00Z&interval=hour', 'from'],
    ['more than 366 days', '?from=2023-01-01&to=2024-01-03', 'to'],
    ['more than 7 days of hours', '?from=2024-03-01T00:00:00Z&to=2024-03-08T01:00:00Z&interval=hour', 'to'],
    ['a date that does not exist', '?from=2024-02-30&to=2024-03-10', 'from'],
    ['words for a date', '?from=yesterday', 'from'],
    ['a time without an offset', '?from=2024-03-10T00:00:00&to=2024-03-11', 'from'],
    ['an unknown interval', '?interval=week', 'interval'],
    ['an unknown parameter', '?tz=Europe/Paris', 'tz'],
  ])('answers %s with a 400 naming the parameter', async (_case, query, field) => {
    const response = await report(query);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION', details: { [field]: [expect.any(String)] }, requestId: expect.any(String) });
  });
});
