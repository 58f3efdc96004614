import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessagesRepository } from '../../src/messages/messages.repository.js';
import { type Registered, register } from '../support/auth.js';
import { connectClient, expectNoEvent, type RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

const API = '/api/v1';
const SECRET_COMMENT = 'only-the-author-and-admins-read-this-7f3a';

describe('feedback on agent replies', () => {
  let t: TestApp;
  let world: World;
  let watcher: RecordingClient;

  const call = (user: Registered, method: string, path: string, json?: unknown) => t.http(`${API}${path}`, { method, token: user.accessToken, json });
  const feedbackPath = (messageId: string, conversationId = world.conversationId) => `/conversations/${conversationId}/messages/${messageId}/feedback`;
  const rate = (user: Registered, messageId: string, body: unknown, conversationId?: string) => call(user, 'PUT', feedbackPath(messageId, conversationId), body);
  const unrate = (user: Registered, messageId: string) => call(user, 'DELETE', feedbackPath(messageId));
  const version = async () => (await call(world.owner, 'GET', `/conversations/${world.conversationId}`)).body.version as number;

  /** A finished reply of the built-in agent to a message of the owner. */
  async function reply(): Promise<{ id: string; version: number }> {
    const response = await call(world.owner, 'POST', `/conversations/${world.conversationId}/messages?wait=true`, { content: '/calc 6*7' });
    expect(response.status).toBe(201);
    expect(response.body.reply).toMatchObject({ role: 'assistant', status: 'complete', feedback: { up: 0, down: 0 } });
    return response.body.reply;
  }

  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, MESSAGE_RATE_LIMIT: '100000', FEEDBACK_RATE_LIMIT: '1000' });
    world = await createWorld(t, 'auto');
    watcher = await connectClient(t.baseUrl, world.member.accessToken);
    const joined = await watcher.emit('conversation:join', { conversationId: world.conversationId });
    if (!joined.ok) throw new Error(`join failed: ${JSON.stringify(joined)}`);
  });
  afterAll(async () => {
    watcher?.socket.close();
    await t?.close();
  });

  it('counts a rating on the reply with the next version, announced as message:updated without the comment', async () => {
    const { id } = await reply();
    const before = await version();
    const rated = await rate(world.owner, id, { rating: 'up', comment: `  ${SECRET_COMMENT}  ` });
    expect(rated.status).toBe(200);
    expect(rated.body.feedback).toMatchObject({ messageId: id, conversationId: world.conversationId, rating: 'up', comment: SECRET_COMMENT });
    expect(rated.body.message).toMatchObject({ id, version: before + 1, feedback: { up: 1, down: 0 } });
    expect(await version()).toBe(before + 1);

    const updated = await watcher.waitFor('message:updated', (payload) => payload.message.id === id && payload.version === before + 1);
    expect(updated.message).toMatchObject({ version: before + 1, feedback: { up: 1, down: 0 } });
    expect(JSON.stringify(watcher.received)).not.toContain(SECRET_COMMENT);

    const changes = await call(world.member, 'GET', `/conversations/${world.conversationId}/changes?afterVersion=${before}`);
    expect(changes.body.items).toEqual([expect.objectContaining({ id, version: before + 1, feedback: { up: 1, down: 0 } })]);
    expect(changes.text).not.toContain(SECRET_COMMENT);
  });

  it('keeps one rating per person: the same again changes nothing others see, another replaces it, a second person adds theirs', async () => {
    const { id } = await reply();
    await rate(world.owner, id, { rating: 'up' });
    const afterFirst = await version();

    const commentOnly = await rate(world.owner, id, { rating: 'up', comment: 'on second thought, a comment' });
    expect(commentOnly.body).toMatchObject({ feedback: { rating: 'up', comment: 'on second thought, a comment' }, message: { feedback: { up: 1, down: 0 } } });
    expect(await version()).toBe(afterFirst);

    const changed = await rate(world.owner, id, { rating: 'down' });
    // A PUT replaces the whole rating: no comment given, none kept.
    expect(changed.body).toMatchObject({ feedback: { rating: 'down', comment: null }, message: { version: afterFirst + 1, feedback: { up: 0, down: 1 } } });

    const second = await rate(world.member, id, { rating: 'down', comment: null });
    expect(second.body.message).toMatchObject({ version: afterFirst + 2, feedback: { up: 0, down: 2 } });
    const [row] = await t.app.get(DataSource).query(`SELECT feedback_up, feedback_down FROM messages WHERE id = $1`, [id]);
    expect(row).toEqual({ feedback_up: 0, feedback_down: 2 });
    const [{ n }] = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM message_feedback WHERE message_id = $1`, [id]);
    expect(n).toBe(2);
  });

  it('takes a rating back with a 204 and a new version; taking back none is a 204 that changes nothing', async () => {
    const { id } = await reply();
    await rate(world.member, id, { rating: 'up' });
    const rated = await version();
    expect((await unrate(world.member, id)).status).toBe(204);
    expect(await version()).toBe(rated + 1);
    const updated = await watcher.waitFor('message:updated', (payload) => payload.message.id === id && payload.version === rated + 1);
    expect(updated.message.feedback).toEqual({ up: 0, down: 0 });

    expect((await unrate(world.member, id)).status).toBe(204);
    expect(await version()).toBe(rated + 1);
    await expectNoEvent(watcher, 'message:updated', (payload) => payload.message.id === id && payload.version > rated + 1, 200);
  });

  it('lets viewers rate (they read the replies) and hides the conversation from outsiders and non-participant admins', async () => {
    const { id } = await reply();
    expect((await rate(world.viewer, id, { rating: 'up' })).body.message.feedback).toEqual({ up: 1, down: 0 });
    for (const stranger of [world.outsider, world.admin]) {
      for (const response of [await rate(stranger, id, { rating: 'down' }), await unrate(stranger, id), await call(stranger, 'GET', `/conversations/${world.conversationId}/feedback`)]) {
        expect(response.status).toBe(404);
        expect(response.body).toMatchObject({ statusCode: 404, code: 'CONVERSATION_NOT_FOUND', requestId: expect.any(String) });
      }
    }
    const [row] = await t.app.get(DataSource).query(`SELECT feedback_up, feedback_down FROM messages WHERE id = $1`, [id]);
    expect(row).toEqual({ feedback_up: 1, feedback_down: 0 });
  });

  it('rates only finished assistant replies that exist', async () => {
    const sent = await call(world.member, 'POST', `/conversations/${world.conversationId}/messages?wait=true`, { content: '/time' });
    const notAReply = await rate(world.owner, sent.body.message.id, { rating: 'up' });
    expect(notAReply.status).toBe(400);
    expect(notAReply.body).toMatchObject({ code: 'VALIDATION', details: { messageId: ['only assistant replies can be rated'] } });

    const streaming = await t.app.get(MessagesRepository).append({ conversationId: world.conversationId, role: 'assistant', authorId: null, content: 'half a', status: 'streaming' });
    const tooEarly = await rate(world.owner, streaming!.message.id, { rating: 'down' });
    expect(tooEarly.status).toBe(409);
    expect(tooEarly.body).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/still being written/) });

    expect((await rate(world.owner, randomUUID(), { rating: 'up' })).body).toMatchObject({ statusCode: 404, code: 'MESSAGE_NOT_FOUND' });
    const deleted = sent.body.reply.id as string;
    expect((await call(world.member, 'DELETE', `/conversations/${world.conversationId}/messages/${deleted}`)).status).toBe(403);
    expect((await call(world.owner, 'DELETE', `/conversations/${world.conversationId}/messages/${deleted}`)).status).toBe(204);
    expect((await rate(world.owner, deleted, { rating: 'up' })).status).toBe(404);
    expect((await unrate(world.owner, deleted)).status).toBe(404);
    // A reply in another conversation is not a message of this one.
    const elsewhere = (await call(world.outsider, 'POST', '/conversations', { title: 'elsewhere' })).body.id as string;
    const foreign = (await call(world.outsider, 'POST', `/conversations/${elsewhere}/messages?wait=true`, { content: '/time' })).body.reply.id as string;
    expect((await rate(world.owner, foreign, { rating: 'up' })).body.code).toBe('MESSAGE_NOT_FOUND');
  });

  it('keeps comments to their authors and admins', async () => {
    const MEMBERS_NOTE = 'a-note-the-owner-never-sees-2c9e';
    const { id } = await reply();
    await rate(world.member, id, { rating: 'down', comment: MEMBERS_NOTE });
    const history = await call(world.owner, 'GET', `/conversations/${world.conversationId}/messages?limit=100`);
    expect(history.body.items.find((item: { id: string }) => item.id === id).feedback).toEqual({ up: 0, down: 1 });
    expect(history.text).not.toContain(MEMBERS_NOTE);

    const ownersView = await call(world.owner, 'GET', `/conversations/${world.conversationId}/feedback`);
    expect(ownersView.text).not.toContain(MEMBERS_NOTE);
    const membersView = await call(world.member, 'GET', `/conversations/${world.conversationId}/feedback`);
    expect(membersView.body.items).toContainEqual(expect.objectContaining({ messageId: id, rating: 'down', comment: MEMBERS_NOTE, seq: expect.any(Number) }));
    const seqs: number[] = membersView.body.items.map((item: { seq: number }) => item.seq);
    expect(seqs).toEqual(seqs.toSorted((a, b) => a - b));

    const admins = await call(world.admin, 'GET', `/admin/feedback?conversationId=${world.conversationId}&rating=down`);
    expect(admins.status).toBe(200);
    expect(admins.body.items[0]).toMatchObject({ messageId: id, userId: world.member.id, rating: 'down', comment: MEMBERS_NOTE });
    expect(admins.body.items.every((item: { rating: string }) => item.rating === 'down')).toBe(true);
    const notAdmin = await call(world.member, 'GET', '/admin/feedback');
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.text).not.toContain(MEMBERS_NOTE);
  });

  it("erases a deleted account's comments and keeps its ratings as counts", async () => {
    const { id } = await reply();
    const leaving = await register(t);
    expect((await call(world.owner, 'POST', `/conversations/${world.conversationId}/participants`, { userId: leaving.id, role: 'member' })).status).toBe(201);
    await rate(leaving, id, { rating: 'up', comment: 'my name is Leaving McLeaveface' });
    expect((await call(leaving, 'DELETE', '/auth/me')).status).toBe(204);
    const [row] = await t.app.get(DataSource).query(`SELECT rating, comment FROM message_feedback WHERE message_id = $1 AND user_id = $2`, [id, leaving.id]);
    expect(row).toEqual({ rating: 'up', comment: null });
    const history = await call(world.owner, 'GET', `/conversations/${world.conversationId}/messages?limit=100`);
    expect(history.body.items.find((item: { id: string }) => item.id === id)).toMatchObject({ feedback: { up: 1, down: 0 } });
  });

  it('pages the admin listing without repeating or skipping a rating', async () => {
    const ids = [(await reply()).id, (await reply()).id, (await reply()).id];
    for (const id of ids) await rate(world.viewer, id, { rating: 'up', comment: `page ${id}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(world.admin, 'GET', `/admin/feedback?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((item: { messageId: string; userId: string }) => `${item.messageId}/${item.userId}`));
      cursor = page.body.nextCursor;
    } while (cursor);
    const [{ n }] = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM message_feedback`);
    expect(new Set(seen).size).toBe(n);
    expect(seen).toHaveLength(n);
    expect((await call(world.admin, 'GET', '/admin/feedback?cursor=bm90LWEtY3Vyc29y')).body).toMatchObject({ statusCode: 400, details: { cursor: expect.any(Array) } });
  });

  it.each([
    ['an unknown rating', { rating: 'meh' }, 'rating'],
    ['a rating of the wrong type', { rating: 1 }, 'rating'],
    ['no rating', { comment: 'just words' }, 'rating'],
    ['a comment over 2000 characters', { rating: 'up', comment: 'x'.repeat(2001) }, 'comment'],
    ['a comment of the wrong type', { rating: 'up', comment: { text: 'hi' } }, 'comment'],
    ['a comment with a NUL character', { rating: 'up', comment: 'a\u0000b' }, 'comment'],
    ['an unknown field', { rating: 'up', stars: 5 }, 'stars'],
  ])('answers %s with a 400 naming the field', async (_case, body, field) => {
    const { id } = await reply();
    const response = await rate(world.owner, id, body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION', details: { [field]: expect.any(Array) }, requestId: expect.any(String) });
  });

  it('refuses a body that is not an object and ids that are not UUIDs', async () => {
    const { id } = await reply();
    expect((await rate(world.owner, id, ['up'])).status).toBe(400);
    expect((await rate(world.owner, 'not-a-uuid', { rating: 'up' })).body).toMatchObject({ details: { messageId: expect.any(Array) } });
    expect((await t.http(`${API}${feedbackPath(id)}`, { method: 'PUT', token: world.owner.accessToken, headers: { 'content-type': 'application/json' }, body: '{"rating":' })).status).toBe(400);
    expect((await t.http(`${API}${feedbackPath(id)}`, { method: 'PUT', json: { rating: 'up' } })).status).toBe(401);
  });
});

describe('feedback floods', () => {
  let t: TestApp;
  let world: World;

  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, FEEDBACK_RATE_LIMIT: '3' });
    world = await createWorld(t, 'auto');
  });
  afterAll(() => t?.close());

  it('are refused with a 429 and Retry-After once the per-user limit is spent, without touching anyone else', async () => {
    const sent = await t.http(`${API}/conversations/${world.conversationId}/messages?wait=true`, { method: 'POST', token: world.owner.accessToken, json: { content: '/time' } });
    const path = `${API}/conversations/${world.conversationId}/messages/${sent.body.reply.id}/feedback`;
    const statuses: number[] = [];
    for (const rating of ['up', 'down', 'up', 'down', 'up']) {
      statuses.push((await t.http(path, { method: 'PUT', token: world.member.accessToken, json: { rating } })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const refused = await t.http(path, { method: 'DELETE', token: world.member.accessToken });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const reply = (await t.http(`${API}/conversations/${world.conversationId}/messages`, { token: world.owner.accessToken })).body.items.at(-1);
    expect(reply.feedback).toEqual({ up: 1, down: 0 });
    expect((await t.http(path, { method: 'PUT', token: world.owner.accessToken, json: { rating: 'up' } })).body.message.feedback).toEqual({ up: 2, down: 0 });
  });
});
