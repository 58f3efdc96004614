import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, type Registered } from '../support/auth.js';
import { startTestApp, type TestApp, type TestResponse } from '../support/test-app.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

const API = '/api/v1';

type Role = 'owner' | 'member' | 'viewer' | 'stranger' | 'admin';
type Location = 'private' | 'byOwner' | 'byMember';
type Outcome = [status: number, code?: string];

const ROLES: Role[] = ['owner', 'member', 'viewer', 'stranger', 'admin'];
const LOCATIONS: Location[] = ['private', 'byOwner', 'byMember'];

const OK: Outcome = [200];
const GONE: Outcome = [404, 'DOCUMENT_NOT_FOUND'];
const NO_CONVERSATION: Outcome = [404, 'CONVERSATION_NOT_FOUND'];
const FORBIDDEN: Outcome = [403, 'FORBIDDEN'];
const DELETED: Outcome = [204];

/**
 * Reading (get, content): participants read the conversation's documents; nobody else, admins
 * included, sees that they exist; a private document is its owner's alone (here another user's).
 */
const READ: Record<Location, Record<Role, Outcome>> = {
  private: { owner: GONE, member: GONE, viewer: GONE, stranger: GONE, admin: GONE },
  byOwner: { owner: OK, member: OK, viewer: OK, stranger: GONE, admin: GONE },
  byMember: { owner: OK, member: OK, viewer: OK, stranger: GONE, admin: GONE },
};

/** Deleting: the uploader or the conversation's owner; other participants are told no. */
const DELETE: Record<Location, Record<Role, Outcome>> = {
  private: { owner: GONE, member: GONE, viewer: GONE, stranger: GONE, admin: GONE },
  byOwner: { owner: DELETED, member: FORBIDDEN, viewer: FORBIDDEN, stranger: GONE, admin: GONE },
  byMember: { owner: DELETED, member: DELETED, viewer: FORBIDDEN, stranger: GONE, admin: GONE },
};

/** Adding to the conversation: members and the owner (ConversationsService.authorize 'send'). */
const UPLOAD: Record<Role, Outcome> = { owner: [201], member: [201], viewer: FORBIDDEN, stranger: NO_CONVERSATION, admin: NO_CONVERSATION };

/** Listing the conversation's documents: every participant. */
const LIST: Record<Role, Outcome> = { owner: OK, member: OK, viewer: OK, stranger: NO_CONVERSATION, admin: NO_CONVERSATION };

/** What a response says, to compare with an Outcome. */
function outcomeOf(response: TestResponse): { status: number; code?: string } {
  return { status: response.status, code: response.body?.code };
}

function outcome([status, code]: Outcome): { status: number; code?: string } {
  return { status, code };
}

describe('document access', () => {
  let t: TestApp;
  let world: World;
  /** A user with a private library, in no conversation of the world. */
  let librarian: Registered;

  beforeAll(async () => {
    t = await startTestApp(ADMIN_ENV);
    world = await createWorld(t);
    librarian = await register(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  const token = (role: Role | 'librarian') => (role === 'librarian' ? librarian : role === 'stranger' ? world.outsider : world[role]).accessToken;

  async function upload(as: string, filename: string, conversationId?: string): Promise<TestResponse> {
    const form = new FormData();
    form.append('file', new Blob([`the content of ${filename}`]), filename);
    const query = conversationId ? `?conversationId=${conversationId}` : '';
    return t.http(`${API}/documents${query}`, { method: 'POST', token: as, body: form });
  }

  async function documentAt(location: Location): Promise<string> {
    const response =
      location === 'private'
        ? await upload(token('librarian'), 'private.txt')
        : await upload(token(location === 'byOwner' ? 'owner' : 'member'), `${location}.txt`, world.conversationId);
    expect(response.status).toBe(201);
    return response.body.id as string;
  }

  const cases = ROLES.flatMap((role) => LOCATIONS.map((location) => [role, location] as const));

  describe.each(cases)('%s, document %s', (role, location) => {
    it(`get: ${READ[location][role].join(' ')}`, async () => {
      const id = await documentAt(location);
      const response = await t.http(`${API}/documents/${id}`, { token: token(role) });
      const expected = READ[location][role];
      expect({ ...outcomeOf(response), id: response.body.id }).toEqual({ ...outcome(expected), id: expected[0] === 200 ? id : undefined });
    });

    it(`content: ${READ[location][role].join(' ')}`, async () => {
      const id = await documentAt(location);
      const response = await t.http(`${API}/documents/${id}/content`, { token: token(role) });
      const expected = READ[location][role];
      const text = response.status === 200 ? response.text : undefined;
      expect({ ...outcomeOf(response), text }).toEqual({ ...outcome(expected), text: expected[0] === 200 ? `the content of ${location}.txt` : undefined });
    });

    it(`delete: ${DELETE[location][role].join(' ')}`, async () => {
      const id = await documentAt(location);
      const response = await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: token(role) });
      const expected = DELETE[location][role];
      expect(outcomeOf(response)).toEqual(outcome(expected));
      // A refused delete leaves the document where it was.
      const uploader = location === 'private' ? 'librarian' : location === 'byOwner' ? 'owner' : 'member';
      expect((await t.http(`${API}/documents/${id}`, { token: token(uploader) })).status).toBe(expected[0] === 204 ? 404 : 200);
    });
  });

  describe.each(ROLES)('%s and the conversation', (role) => {
    it(`uploads to it: ${UPLOAD[role].join(' ')}`, async () => {
      const response = await upload(token(role), `by-${role}.txt`, world.conversationId);
      expect(outcomeOf(response)).toEqual(outcome(UPLOAD[role]));
      // A refused upload is nowhere to be seen.
      const listed = await t.http(`${API}/documents?conversationId=${world.conversationId}&limit=100`, { token: token('owner') });
      expect(listed.body.items.some((d: { filename: string }) => d.filename === `by-${role}.txt`)).toBe(UPLOAD[role][0] === 201);
    });

    it(`lists its documents, and never a private one: ${LIST[role].join(' ')}`, async () => {
      const privateIds = [await documentAt('private'), (await upload(token(role), 'mine.txt')).body.id as string];
      const shared = await documentAt('byMember');
      const listed = await t.http(`${API}/documents?conversationId=${world.conversationId}&limit=100`, { token: token(role) });
      expect(outcomeOf(listed)).toEqual(outcome(LIST[role]));
      const ids: string[] = listed.body.items?.map((d: { id: string }) => d.id) ?? [];
      expect(ids.includes(shared)).toBe(LIST[role][0] === 200);
      expect(ids.filter((id) => privateIds.includes(id))).toEqual([]);
      expect((listed.body.items ?? []).filter((d: { conversationId: string }) => d.conversationId !== world.conversationId)).toEqual([]);
      // The library holds the caller's own private documents and nothing else.
      const library = await t.http(`${API}/documents?limit=100`, { token: token(role) });
      expect(library.status).toBe(200);
      expect(library.body.items.map((d: { id: string }) => d.id)).toContain(privateIds[1]);
      const self = role === 'stranger' ? world.outsider.id : world[role].id;
      expect(library.body.items.filter((d: { ownerId: string; conversationId: string | null }) => d.conversationId !== null || d.ownerId !== self)).toEqual([]);
    });
  });

  it('a removed participant loses access at once, to their own uploads too', async () => {
    const w = await createWorld(t);
    const own = (await upload(w.member.accessToken, 'mine.txt', w.conversationId)).body.id as string;
    const others = (await upload(w.owner.accessToken, 'owners.txt', w.conversationId)).body.id as string;
    expect((await t.http(`${API}/documents/${own}`, { token: w.member.accessToken })).status).toBe(200);
    const removed = await t.http(`${API}/conversations/${w.conversationId}/participants/${w.member.id}`, { method: 'DELETE', token: w.owner.accessToken });
    expect(removed.status).toBe(204);
    const as = w.member.accessToken;
    for (const id of [own, others]) {
      expect(outcomeOf(await t.http(`${API}/documents/${id}`, { token: as }))).toEqual(outcome(GONE));
      expect(outcomeOf(await t.http(`${API}/documents/${id}/content`, { token: as }))).toEqual(outcome(GONE));
      expect(outcomeOf(await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: as }))).toEqual(outcome(GONE));
    }
    expect(outcomeOf(await t.http(`${API}/documents?conversationId=${w.conversationId}`, { token: as }))).toEqual(outcome(NO_CONVERSATION));
    expect(outcomeOf(await upload(as, 'again.txt', w.conversationId))).toEqual(outcome(NO_CONVERSATION));
    // Their upload stays with the conversation.
    expect((await t.http(`${API}/documents/${own}`, { token: w.owner.accessToken })).status).toBe(200);
  });

  it("a deleted conversation's documents are gone for everyone, its owner included", async () => {
    const w = await createWorld(t);
    const ids = [
      (await upload(w.owner.accessToken, 'a.txt', w.conversationId)).body.id as string,
      (await upload(w.member.accessToken, 'b.txt', w.conversationId)).body.id as string,
    ];
    expect((await t.http(`${API}/conversations/${w.conversationId}`, { method: 'DELETE', token: w.owner.accessToken })).status).toBe(204);
    for (const participant of [w.owner, w.member, w.viewer]) {
      for (const id of ids) {
        expect(outcomeOf(await t.http(`${API}/documents/${id}`, { token: participant.accessToken }))).toEqual(outcome(GONE));
        expect(outcomeOf(await t.http(`${API}/documents/${id}/content`, { token: participant.accessToken }))).toEqual(outcome(GONE));
        expect(outcomeOf(await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: participant.accessToken }))).toEqual(outcome(GONE));
      }
      expect(outcomeOf(await t.http(`${API}/documents?conversationId=${w.conversationId}`, { token: participant.accessToken }))).toEqual(outcome(NO_CONVERSATION));
      expect(outcomeOf(await upload(participant.accessToken, 'late.txt', w.conversationId))).toEqual(outcome(NO_CONVERSATION));
    }
  });

  describe('malformed input', () => {
    const cursors: [string, string][] = [
      ['not base64 JSON', 'not-a-cursor'],
      ['JSON that is not a list', Buffer.from('{"a":1}').toString('base64url')],
      ['a list of the wrong length', Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z'])).toString('base64url')],
      ['an id that is not a UUID', Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', "x' OR 1=1 --"])).toString('base64url')],
      ['a time that is not a date', Buffer.from(JSON.stringify(['yesterday', randomUUID()])).toString('base64url')],
      ['a number for the time', Buffer.from(JSON.stringify([0, randomUUID()])).toString('base64url')],
    ];

    it.each(cursors)('a tampered cursor (%s) is a 400, in the library and in a conversation', async (_, cursor) => {
      for (const query of ['', `conversationId=${world.conversationId}&`]) {
        const response = await t.http(`${API}/documents?${query}cursor=${encodeURIComponent(cursor)}`, { token: token('owner') });
        expect(outcomeOf(response)).toEqual(outcome([400, 'VALIDATION']));
        expect(response.body.details).toEqual({ cursor: ['cursor is not valid'] });
      }
    });

    it('a cursor longer than any real one is a 400', async () => {
      const response = await t.http(`${API}/documents?cursor=${'a'.repeat(201)}`, { token: token('owner') });
      expect(outcomeOf(response)).toEqual(outcome([400, 'VALIDATION']));
      expect(Object.keys(response.body.details)).toEqual(['cursor']);
    });

    it('a real cursor of one list does not page another', async () => {
      const mine = await t.http(`${API}/documents?limit=1`, { token: token('librarian') });
      expect(mine.body.nextCursor).toEqual(expect.any(String));
      // A keyset position carries no rights: another user's cursor only positions their own list.
      const borrowed = await t.http(`${API}/documents?limit=100&cursor=${mine.body.nextCursor}`, { token: token('owner') });
      expect(borrowed.status).toBe(200);
      expect(borrowed.body.items.every((d: { ownerId: string }) => d.ownerId === world.owner.id)).toBe(true);
    });

    it.each(['not-a-uuid', '123', `${randomUUID()}x`, '%20'])('a document id that is not a UUID (%s) is a 400 naming it, on every route', async (id) => {
      for (const [method, path] of [
        ['GET', `documents/${id}`],
        ['GET', `documents/${id}/content`],
        ['DELETE', `documents/${id}`],
      ] as const) {
        const response = await t.http(`${API}/${path}`, { method, token: token('owner') });
        expect(outcomeOf(response)).toEqual(outcome([400, 'VALIDATION']));
        expect(response.body.details).toEqual({ id: ['id must be a UUID'] });
      }
      // The same as for a conversation id elsewhere in the API.
      expect(outcomeOf(await t.http(`${API}/conversations/${id}`, { token: token('owner') }))).toEqual(outcome([400, 'VALIDATION']));
    });

    it('a conversationId that is not a UUID is a 400 naming it, to list and to upload', async () => {
      const listed = await t.http(`${API}/documents?conversationId=nope`, { token: token('owner') });
      expect(outcomeOf(listed)).toEqual(outcome([400, 'VALIDATION']));
      expect(Object.keys(listed.body.details)).toEqual(['conversationId']);
      const uploaded = await upload(token('owner'), 'x.txt', 'nope');
      expect(outcomeOf(uploaded)).toEqual(outcome([400, 'VALIDATION']));
      expect(Object.keys(uploaded.body.details)).toEqual(['conversationId']);
    });

    it('a UUID that names no document, or no conversation, is a 404', async () => {
      const id = randomUUID();
      expect(outcomeOf(await t.http(`${API}/documents/${id}`, { token: token('owner') }))).toEqual(outcome(GONE));
      expect(outcomeOf(await t.http(`${API}/documents/${id}/content`, { token: token('owner') }))).toEqual(outcome(GONE));
      expect(outcomeOf(await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: token('owner') }))).toEqual(outcome(GONE));
      expect(outcomeOf(await t.http(`${API}/documents?conversationId=${id}`, { token: token('owner') }))).toEqual(outcome(NO_CONVERSATION));
      expect(outcomeOf(await upload(token('owner'), 'x.txt', id))).toEqual(outcome(NO_CONVERSATION));
    });
  });
});
