import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { RealtimeBus } from '../../src/realtime/realtime-bus.js';
import { register } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

const API = '/api/v1';
type Role = 'owner' | 'member' | 'viewer' | 'outsider' | 'admin';
const ROLES: Role[] = ['owner', 'member', 'viewer', 'outsider', 'admin'];

interface Case {
  name: string;
  /** Changes shared state: each role gets a fresh world. */
  destructive?: boolean;
  request: (world: World) => Promise<{ method: string; path: string; json?: unknown }>;
  expected: Record<Role, number>;
}

describe('conversations', () => {
  let t: TestApp;
  let events: RealtimeEvent[];
  beforeAll(async () => {
    // openai set up and gpt-4o-mini allowed, so that conversations may pick them; the default stays builtin.
    t = await startTestApp({ ...ADMIN_ENV, MESSAGE_RATE_LIMIT: '10000', OPENAI_API_KEY: 'sk-test', AGENT_ALLOWED_MODELS: 'gpt-4o-mini' });
    events = [];
    t.app.get(RealtimeBus).events$.subscribe((event) => events.push(event));
  });
  afterAll(() => t?.close());

  const as = (token: string) => ({
    get: (path: string) => t.http(`${API}${path}`, { token }),
    post: (path: string, json?: unknown) => t.http(`${API}${path}`, { method: 'POST', token, json: json ?? {} }),
    patch: (path: string, json: unknown) => t.http(`${API}${path}`, { method: 'PATCH', token, json }),
    delete: (path: string) => t.http(`${API}${path}`, { method: 'DELETE', token }),
  });

  async function memberMessage(world: World): Promise<string> {
    const sent = await as(world.member.accessToken).post(`/conversations/${world.conversationId}/messages`, { content: 'by member' });
    return sent.body.message.id;
  }

  describe('authorization matrix', () => {
    const cases: Case[] = [
      { name: 'GET conversation', request: async (w) => ({ method: 'GET', path: `/conversations/${w.conversationId}` }), expected: { owner: 200, member: 200, viewer: 200, outsider: 404, admin: 404 } },
      { name: 'PATCH title', request: async (w) => ({ method: 'PATCH', path: `/conversations/${w.conversationId}`, json: { title: 'Renamed' } }), expected: { owner: 200, member: 403, viewer: 403, outsider: 404, admin: 404 } },
      { name: 'PATCH agent settings', request: async (w) => ({ method: 'PATCH', path: `/conversations/${w.conversationId}`, json: { agent: { mode: 'mention' } } }), expected: { owner: 200, member: 403, viewer: 403, outsider: 404, admin: 404 } },
      { name: 'PATCH agent tools', request: async (w) => ({ method: 'PATCH', path: `/conversations/${w.conversationId}`, json: { agent: { tools: ['calculator'] } } }), expected: { owner: 200, member: 403, viewer: 403, outsider: 404, admin: 404 } },
      { name: 'PATCH pin/archive (own view)', request: async (w) => ({ method: 'PATCH', path: `/conversations/${w.conversationId}`, json: { pinned: true, archived: true } }), expected: { owner: 200, member: 200, viewer: 200, outsider: 404, admin: 404 } },
      { name: 'DELETE conversation', destructive: true, request: async (w) => ({ method: 'DELETE', path: `/conversations/${w.conversationId}` }), expected: { owner: 204, member: 403, viewer: 403, outsider: 404, admin: 404 } },
      { name: 'POST participant', destructive: true, request: async (w) => ({ method: 'POST', path: `/conversations/${w.conversationId}/participants`, json: { userId: (await register(t)).id, role: 'member' } }), expected: { owner: 201, member: 403, viewer: 403, outsider: 404, admin: 404 } },
      { name: 'DELETE participant (the member)', destructive: true, request: async (w) => ({ method: 'DELETE', path: `/conversations/${w.conversationId}/participants/${w.member.id}` }), expected: { owner: 204, member: 204, viewer: 403, outsider: 404, admin: 404 } },
      { name: 'POST read marker', request: async (w) => ({ method: 'POST', path: `/conversations/${w.conversationId}/read`, json: { seq: 0 } }), expected: { owner: 204, member: 204, viewer: 204, outsider: 404, admin: 404 } },
      { name: 'POST message', request: async (w) => ({ method: 'POST', path: `/conversations/${w.conversationId}/messages`, json: { content: 'hi' } }), expected: { owner: 201, member: 201, viewer: 403, outsider: 404, admin: 404 } },
      { name: 'GET messages', request: async (w) => ({ method: 'GET', path: `/conversations/${w.conversationId}/messages` }), expected: { owner: 200, member: 200, viewer: 200, outsider: 404, admin: 404 } },
      { name: "PATCH the member's message", destructive: true, request: async (w) => ({ method: 'PATCH', path: `/conversations/${w.conversationId}/messages/${await memberMessage(w)}`, json: { content: 'edited' } }), expected: { owner: 403, member: 200, viewer: 403, outsider: 404, admin: 404 } },
      { name: "DELETE the member's message", destructive: true, request: async (w) => ({ method: 'DELETE', path: `/conversations/${w.conversationId}/messages/${await memberMessage(w)}` }), expected: { owner: 204, member: 204, viewer: 403, outsider: 404, admin: 404 } },
      { name: 'GET export', request: async (w) => ({ method: 'GET', path: `/conversations/${w.conversationId}/export` }), expected: { owner: 200, member: 200, viewer: 200, outsider: 404, admin: 404 } },
    ];

    let shared: World;
    beforeAll(async () => {
      shared = await createWorld(t);
    });

    it.each(cases.flatMap((c) => ROLES.map((role) => [c.name, role, c] as const)))('%s as %s', async (_, role, c) => {
      const world = c.destructive ? await createWorld(t) : shared;
      const { method, path, json } = await c.request(world);
      const response = await t.http(`${API}${path}`, { method, token: world[role].accessToken, ...(json !== undefined && { json }) });
      expect(response.status).toBe(c.expected[role]);
      const errorShaped = response.body?.statusCode === response.status && typeof response.body?.requestId === 'string';
      expect(response.status < 400 || errorShaped).toBe(true);
    });
  });

  describe('create and read', () => {
    it('creates with the caller as owner, members added, agent settings and per-user state', async () => {
      const owner = await register(t);
      const friend = await register(t);
      const response = await as(owner.accessToken).post('/conversations', {
        title: '  Planning  ',
        participantIds: [friend.id, friend.id, owner.id],
        agent: { mode: 'mention', provider: 'openai', model: 'gpt-4o-mini', systemPrompt: 'Be brief.', tools: ['calculator', 'github__*'] },
      });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: expect.any(String),
        title: 'Planning',
        ownerId: owner.id,
        participants: [
          { userId: owner.id, role: 'owner', lastReadSeq: 0 },
          { userId: friend.id, role: 'member', lastReadSeq: 0 },
        ],
        agent: { mode: 'mention', provider: 'openai', model: 'gpt-4o-mini', systemPrompt: 'Be brief.', tools: ['calculator', 'github__*'] },
        lastSeq: 0,
        version: 0,
        unreadCount: 0,
        lastMessageAt: null,
        archived: false,
        pinned: false,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect((await as(friend.accessToken).get(`/conversations/${response.body.id}`)).status).toBe(200);
    });

    it('defaults: untitled, agent auto with server defaults', async () => {
      const owner = await register(t);
      const response = await as(owner.accessToken).post('/conversations', {});
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ title: '', agent: { mode: 'auto', provider: null, model: null, systemPrompt: null, tools: null } });
    });

    it.each([
      ['unknown participant', { participantIds: [randomUUID()] }, 'participantIds'],
      ['participant id that is not a UUID', { participantIds: ['nope'] }, 'participantIds'],
      ['title too long', { title: 't'.repeat(201) }, 'title'],
      ['bad agent mode', { agent: { mode: 'always' } }, 'agent.mode'],
      ['unknown field', { color: 'blue' }, 'color'],
      ['unknown nested field', { agent: { temperature: 2 } }, 'agent.temperature'],
      ['wrong type', { title: 42 }, 'title'],
    ])('rejects %s with 400', async (_, body, field) => {
      const owner = await register(t);
      const response = await as(owner.accessToken).post('/conversations', body);
      expect(response.status).toBe(400);
      expect(response.body.details).toHaveProperty([field]);
    });

    it('answers a malformed id with 400 and an unknown one with 404', async () => {
      const owner = await register(t);
      const bad = await as(owner.accessToken).get('/conversations/not-a-uuid');
      expect(bad.status).toBe(400);
      expect(bad.body.details).toHaveProperty('id');
      expect((await as(owner.accessToken).get(`/conversations/${randomUUID()}`)).status).toBe(404);
      expect((await as(owner.accessToken).get(`/conversations/1%27%20OR%201=1--`)).status).toBe(400);
    });

    it.each([{ title: null }, { archived: null }, { pinned: null }, { agent: { mode: null } }, { agent: null }])('refuses PATCH %j with 400, never a 500', async (json) => {
      const owner = await register(t);
      const created = await as(owner.accessToken).post('/conversations', { title: 'Nulls' });
      const response = await as(owner.accessToken).patch(`/conversations/${created.body.id}`, json);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('VALIDATION');
      expect((await as(owner.accessToken).get(`/conversations/${created.body.id}`)).body).toMatchObject({ title: 'Nulls', archived: false, pinned: false });
    });

    it('publishes conversation.updated on changes', async () => {
      const owner = await register(t);
      const created = await as(owner.accessToken).post('/conversations', { title: 'Events' });
      events.length = 0;
      await as(owner.accessToken).patch(`/conversations/${created.body.id}`, { title: 'Events 2' });
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'conversation.updated', conversationId: created.body.id, conversation: expect.objectContaining({ title: 'Events 2' }) }),
      );
    });
  });

  describe('list', () => {
    it('orders by last activity, pages with an opaque cursor exactly once, and filters archived and q', async () => {
      const user = await register(t);
      const api = as(user.accessToken);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await api.post('/conversations', { title: `Topic ${i}${i === 3 ? ' budget' : ''}` })).body.id);
      // Activity moves a conversation to the top.
      await api.post(`/conversations/${ids[1]}/messages`, { content: 'bump' });

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await api.get(`/conversations?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.body.items.map((item: { id: string }) => item.id));
        cursor = page.body.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual([ids[1], ids[6], ids[5], ids[4], ids[3], ids[2], ids[0]]);

      await api.patch(`/conversations/${ids[6]}`, { archived: true });
      const active = await api.get('/conversations');
      expect(active.body.items.map((item: { id: string }) => item.id)).not.toContain(ids[6]);
      const archived = await api.get('/conversations?archived=true');
      expect(archived.body.items.map((item: { id: string }) => item.id)).toEqual([ids[6]]);

      const search = await api.get('/conversations?q=BUDGET');
      expect(search.body.items.map((item: { id: string }) => item.id)).toEqual([ids[3]]);
      const wildcard = await api.get(`/conversations?q=${encodeURIComponent('%')}`);
      expect(wildcard.body.items).toEqual([]);
    });

    it.each(['limit=0', 'limit=101', 'limit=abc', 'cursor=garbage', `cursor=${Buffer.from('["x","y"]').toString('base64url')}`,
      `cursor=${Buffer.from(`["junk 1","${'0'.repeat(8)}-0000-4000-8000-000000000000"]`).toString('base64url')}`, 'archived=maybe', 'extra=1'])(
      'rejects ?%s with 400',
      async (query) => {
        const user = await register(t);
        const response = await as(user.accessToken).get(`/conversations?${query}`);
        expect(response.status).toBe(400);
        expect(response.body.code).toBe('VALIDATION');
      },
    );
  });

  describe('participants, read markers, pin and archive', () => {
    it('tracks unread counts per participant and moves read markers forward only', async () => {
      const world = await createWorld(t);
      const owner = as(world.owner.accessToken);
      const member = as(world.member.accessToken);
      for (let i = 0; i < 3; i++) await owner.post(`/conversations/${world.conversationId}/messages`, { content: `m${i}` });

      expect((await owner.get(`/conversations/${world.conversationId}`)).body.unreadCount).toBe(0);
      expect((await member.get(`/conversations/${world.conversationId}`)).body.unreadCount).toBe(3);

      expect((await member.post(`/conversations/${world.conversationId}/read`, { seq: 2 })).status).toBe(204);
      expect((await member.get(`/conversations/${world.conversationId}`)).body.unreadCount).toBe(1);
      await member.post(`/conversations/${world.conversationId}/read`, { seq: 1 });
      await member.post(`/conversations/${world.conversationId}/read`, { seq: 999 });
      const after = (await member.get(`/conversations/${world.conversationId}`)).body;
      expect(after.unreadCount).toBe(0);
      expect(after.participants.find((p: { userId: string }) => p.userId === world.member.id).lastReadSeq).toBe(3);
      // A marker that does not move tells nobody anything.
      events.length = 0;
      expect((await member.post(`/conversations/${world.conversationId}/read`, { seq: 3 })).status).toBe(204);
      expect(events.filter((e) => e.type === 'conversation.updated')).toEqual([]);

      for (const bad of [{ seq: -1 }, { seq: 'x' }, {}, { seq: 1.5 }]) {
        expect((await member.post(`/conversations/${world.conversationId}/read`, bad)).status).toBe(400);
      }
    });

    it('keeps pin and archive per participant', async () => {
      const world = await createWorld(t);
      await as(world.member.accessToken).patch(`/conversations/${world.conversationId}`, { pinned: true, archived: true });
      expect((await as(world.member.accessToken).get(`/conversations/${world.conversationId}`)).body).toMatchObject({ pinned: true, archived: true });
      expect((await as(world.owner.accessToken).get(`/conversations/${world.conversationId}`)).body).toMatchObject({ pinned: false, archived: false });
    });

    it('applies settings and the caller\'s pin under one version, or neither', async () => {
      const world = await createWorld(t);
      const owner = as(world.owner.accessToken);
      const path = `/conversations/${world.conversationId}`;
      const before = (await owner.get(path)).body;

      vi.spyOn(t.app.get(ConversationsRepository), 'updateSettings').mockRejectedValueOnce(new Error('connection lost'));
      expect((await owner.patch(path, { title: 'Renamed', pinned: true })).status).toBe(500);
      // Read past the conversation cache, which a failed change does not touch.
      const [stored] = await t.app.get(DataSource).query(
        `SELECT c.title, c.version::int, p.pinned FROM conversations c JOIN conversation_participants p ON p.conversation_id = c.id AND p.user_id = $2 WHERE c.id = $1`,
        [world.conversationId, world.owner.id],
      );
      expect(stored).toEqual({ title: before.title, version: before.version, pinned: false });

      const updated = await owner.patch(path, { title: 'Renamed', pinned: true });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ title: 'Renamed', pinned: true, version: before.version + 1 });
      expect((await owner.get(path)).body).toMatchObject({ title: 'Renamed', pinned: true, version: before.version + 1 });
    });

    it('changes roles, refuses to touch the owner, and lets a removed user see nothing', async () => {
      const world = await createWorld(t);
      const owner = as(world.owner.accessToken);
      const promoted = await owner.post(`/conversations/${world.conversationId}/participants`, { userId: world.viewer.id, role: 'member' });
      expect(promoted.status).toBe(201);
      expect(promoted.body.participants).toContainEqual({ userId: world.viewer.id, role: 'member', lastReadSeq: 0 });
      expect((await owner.post(`/conversations/${world.conversationId}/participants`, { userId: world.owner.id, role: 'viewer' })).status).toBe(409);
      expect((await owner.post(`/conversations/${world.conversationId}/participants`, { userId: randomUUID(), role: 'member' })).status).toBe(404);
      expect((await owner.post(`/conversations/${world.conversationId}/participants`, { userId: world.outsider.id, role: 'owner' })).status).toBe(400);
      expect((await owner.delete(`/conversations/${world.conversationId}/participants/${world.owner.id}`)).status).toBe(409);

      events.length = 0;
      expect((await owner.delete(`/conversations/${world.conversationId}/participants/${world.member.id}`)).status).toBe(204);
      expect(events).toContainEqual({ type: 'participant.removed', conversationId: world.conversationId, userId: world.member.id });
      expect((await as(world.member.accessToken).get(`/conversations/${world.conversationId}`)).status).toBe(404);
      expect((await owner.delete(`/conversations/${world.conversationId}/participants/${world.member.id}`)).status).toBe(404);
    });

    it('revokes access at once, even right after the conversation was read (cached)', async () => {
      const world = await createWorld(t);
      const member = as(world.member.accessToken);
      expect((await member.get(`/conversations/${world.conversationId}/messages`)).status).toBe(200);
      await as(world.owner.accessToken).post(`/conversations/${world.conversationId}/participants`, { userId: world.member.id, role: 'viewer' });
      expect((await member.post(`/conversations/${world.conversationId}/messages`, { content: 'demoted' })).status).toBe(403);
      await as(world.owner.accessToken).delete(`/conversations/${world.conversationId}/participants/${world.member.id}`);
      expect((await member.get(`/conversations/${world.conversationId}/messages`)).status).toBe(404);
      const sent = await as(world.owner.accessToken).post(`/conversations/${world.conversationId}/messages`, { content: 'fresh' });
      expect((await as(world.owner.accessToken).get(`/conversations/${world.conversationId}`)).body).toMatchObject({ lastSeq: sent.body.message.seq, unreadCount: 0 });
    });

    it('hides a deleted conversation from everyone, everywhere', async () => {
      const world = await createWorld(t);
      expect((await as(world.owner.accessToken).delete(`/conversations/${world.conversationId}`)).status).toBe(204);
      for (const user of [world.owner, world.member]) {
        expect((await as(user.accessToken).get(`/conversations/${world.conversationId}`)).status).toBe(404);
        expect((await as(user.accessToken).get(`/conversations/${world.conversationId}/messages`)).status).toBe(404);
        const list = await as(user.accessToken).get('/conversations');
        expect(list.body.items.map((item: { id: string }) => item.id)).not.toContain(world.conversationId);
      }
    });
  });
});
