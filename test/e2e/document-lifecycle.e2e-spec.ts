import { DataSource } from 'typeorm';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentsLifecycle } from '../../src/documents/documents.lifecycle.js';
import { DocumentsRepository } from '../../src/documents/documents.repository.js';
import { register, type Registered } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { startTestApp, type TestApp, type TestResponse } from '../support/test-app.js';
import { ADMIN_ENV, createWorld } from '../support/world.js';

const API = '/api/v1';
const USER_BYTES = 10_000;
const USER_DOCUMENTS = 6;
const CONVERSATION_BYTES = 6_000;
const CONVERSATION_DOCUMENTS = 4;

const BOUNDARY = 'lifecycle-boundary';

/**
 * A multipart upload whose file arrives in two halves, the second only once `gate` settles: uploads
 * gated on one promise are all in their transactions at once when it settles.
 */
function gatedBody(filename: string, content: Buffer, started: () => void, gate: Promise<void>): ReadableStream<Uint8Array> {
  const head = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n`;
  const half = Math.floor(content.length / 2);
  const steps: (Buffer | (() => Promise<void>))[] = [
    Buffer.concat([Buffer.from(head), content.subarray(0, half)]),
    async () => {
      started();
      await gate;
    },
    Buffer.concat([content.subarray(half), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]),
  ];
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const step = steps.shift();
      if (step === undefined) return controller.close();
      if (typeof step === 'function') await step();
      else controller.enqueue(step);
    },
  });
}

describe('document lifecycle', () => {
  let t: TestApp;
  let db: DataSource;

  beforeAll(async () => {
    t = await startTestApp({
      ...ADMIN_ENV,
      DOCUMENT_QUOTA_BYTES_PER_USER: String(USER_BYTES),
      DOCUMENTS_PER_USER: String(USER_DOCUMENTS),
      DOCUMENT_QUOTA_BYTES_PER_CONVERSATION: String(CONVERSATION_BYTES),
      DOCUMENTS_PER_CONVERSATION: String(CONVERSATION_DOCUMENTS),
      // The quota under parallel uploads is what is tested here, not the cap on them.
      UPLOADS_PER_USER_AT_ONCE: '100',
    });
    db = t.app.get(DataSource);
  });
  afterAll(async () => {
    // Background processing does not outlive the app: let it finish what was uploaded.
    if (db) await waitUntil(async () => (await db.query(`SELECT 1 FROM documents WHERE status = 'processing' LIMIT 1`)).length === 0, 'processing to finish');
    await t?.close();
  });

  function upload(as: Registered, bytes: number, filename = 'notes.txt', conversationId?: string): Promise<TestResponse> {
    const form = new FormData();
    form.append('file', new Blob([Buffer.alloc(bytes, 'a')]), filename);
    return t.http(`${API}/documents${conversationId ? `?conversationId=${conversationId}` : ''}`, { method: 'POST', token: as.accessToken, body: form });
  }

  function gatedUploads(as: Registered[], bytes: number, conversationId?: string): Promise<TestResponse[]> {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let waiting = as.length;
    const dispatcher = new Agent();
    const started = () => {
      if (--waiting === 0) release();
    };
    return Promise.all(
      as.map((user, i) =>
        t.http(`${API}/documents${conversationId ? `?conversationId=${conversationId}` : ''}`, {
          method: 'POST',
          token: user.accessToken,
          headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
          body: gatedBody(`parallel-${i}.txt`, Buffer.alloc(bytes, 'p'), started, gate),
          duplex: 'half',
          dispatcher,
        } as RequestInit),
      ),
    ).finally(() => dispatcher.close());
  }

  async function stored(where: { ownerId?: string; conversationId?: string }): Promise<{ documents: number; bytes: number; parts: number; partBytes: number; chunks: number }> {
    const condition = where.ownerId ? 'd.owner_id = $1' : 'd.conversation_id = $1';
    const [row] = await db.query(
      `SELECT (SELECT count(*)::int FROM documents d WHERE ${condition}) AS documents,
              (SELECT coalesce(sum(d.bytes), 0)::int FROM documents d WHERE ${condition}) AS bytes,
              (SELECT count(*)::int FROM document_contents c JOIN documents d ON d.id = c.document_id WHERE ${condition}) AS parts,
              (SELECT coalesce(sum(length(c.data)), 0)::int FROM document_contents c JOIN documents d ON d.id = c.document_id WHERE ${condition}) AS "partBytes",
              (SELECT count(*)::int FROM document_chunks k JOIN documents d ON d.id = k.document_id WHERE ${condition}) AS chunks`,
      [where.ownerId ?? where.conversationId],
    );
    return row;
  }

  async function rowsOf(ids: string[]): Promise<{ documents: number; parts: number; chunks: number }> {
    const [row] = await db.query(
      `SELECT (SELECT count(*)::int FROM documents WHERE id = ANY($1::uuid[])) AS documents,
              (SELECT count(*)::int FROM document_contents WHERE document_id = ANY($1::uuid[])) AS parts,
              (SELECT count(*)::int FROM document_chunks WHERE document_id = ANY($1::uuid[])) AS chunks`,
      [ids],
    );
    return row;
  }

  async function ready(as: Registered, id: string): Promise<void> {
    // Behind the documents earlier tests left queued, one per user at a time: more than the default deadline.
    await waitUntil(async () => (await t.http(`${API}/documents/${id}`, { token: as.accessToken })).body.status === 'ready', `document ${id} to be ready`, 30_000);
  }

  function expectQuotaError(response: TestResponse, scope: 'user' | 'conversation', used: { bytes: number; documents: number }): void {
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({
      statusCode: 409,
      code: 'STORAGE_QUOTA_EXCEEDED',
      details: {
        scope,
        quota: scope === 'user' ? { bytes: USER_BYTES, documents: USER_DOCUMENTS } : { bytes: CONVERSATION_BYTES, documents: CONVERSATION_DOCUMENTS },
        used,
      },
    });
    expect(response.body.message).toMatch(/storage quota/);
  }

  describe('quotas', () => {
    it("refuses an upload past the user's bytes with 409, keeps nothing of it, and takes one that fits exactly", async () => {
      const user = await register(t);
      expect((await upload(user, 4000)).status).toBe(201);
      expect((await upload(user, 4000)).status).toBe(201);
      expectQuotaError(await upload(user, 2001, 'over.txt'), 'user', { bytes: 8000, documents: 2 });
      expect(await stored({ ownerId: user.id })).toMatchObject({ documents: 2, bytes: 8000, partBytes: 8000 });
      expect((await upload(user, 2000, 'exact.txt')).status).toBe(201);
      expectQuotaError(await upload(user, 1), 'user', { bytes: USER_BYTES, documents: 3 });
    });

    it('deleting a document makes room again', async () => {
      const user = await register(t);
      const first = await upload(user, 6000);
      expect((await upload(user, 4000)).status).toBe(201);
      expect((await upload(user, 100)).status).toBe(409);
      expect((await t.http(`${API}/documents/${first.body.id}`, { method: 'DELETE', token: user.accessToken })).status).toBe(204);
      expect((await upload(user, 5000)).status).toBe(201);
    });

    it("refuses the document past the user's count, before its file is read", async () => {
      const user = await register(t);
      for (let i = 0; i < USER_DOCUMENTS; i++) expect((await upload(user, 10, `n${i}.txt`)).status).toBe(201);
      const refused = await upload(user, 10, 'one-too-many.txt');
      expectQuotaError(refused, 'user', { bytes: 10 * USER_DOCUMENTS, documents: USER_DOCUMENTS });
      // Nothing was read: the connection is not worth keeping for the rest of the file.
      expect(refused.headers.get('connection')).toBe('close');
      expect((await stored({ ownerId: user.id })).documents).toBe(USER_DOCUMENTS);
    });

    it("holds a conversation to its own quota, whoever uploads, and counts its uploads against the uploader's", async () => {
      const w = await createWorld(t);
      expect((await upload(w.owner, 3000, 'a.txt', w.conversationId)).status).toBe(201);
      expect((await upload(w.member, 2500, 'b.txt', w.conversationId)).status).toBe(201);
      expectQuotaError(await upload(w.member, 501, 'c.txt', w.conversationId), 'conversation', { bytes: 5500, documents: 2 });
      expect(await stored({ conversationId: w.conversationId })).toMatchObject({ documents: 2, bytes: 5500 });
      // The member's own library is not the conversation's: 2500 of their 10000 bytes are used.
      expectQuotaError(await upload(w.member, 7501, 'private.txt'), 'user', { bytes: 2500, documents: 1 });
      expect((await upload(w.member, 7500, 'private.txt')).status).toBe(201);
      // Full for the member, so the user's quota is reported first even where the conversation's has room.
      expectQuotaError(await upload(w.member, 1, 'd.txt', w.conversationId), 'user', { bytes: USER_BYTES, documents: 2 });
      expect((await upload(w.owner, 10, 'd.txt', w.conversationId)).status).toBe(201);
      expect((await upload(w.owner, 10, 'e.txt', w.conversationId)).status).toBe(201);
      expectQuotaError(await upload(w.owner, 10, 'f.txt', w.conversationId), 'conversation', { bytes: 5520, documents: CONVERSATION_DOCUMENTS });
    });

    it('an upload left in a conversation still counts against its uploader, who cannot store without limit by leaving', async () => {
      const w = await createWorld(t);
      expect((await upload(w.member, 5000, 'left-behind.txt', w.conversationId)).status).toBe(201);
      expectQuotaError(await upload(w.member, 5001), 'user', { bytes: 5000, documents: 1 });
      const left = await t.http(`${API}/conversations/${w.conversationId}/participants/${w.member.id}`, { method: 'DELETE', token: w.member.accessToken });
      expect(left.status).toBe(204);
      expectQuotaError(await upload(w.member, 5001), 'user', { bytes: 5000, documents: 1 });
      expect((await upload(w.member, 5000)).status).toBe(201);
      // The conversation still holds it; once its owner deletes it, the uploader has the room again.
      expectQuotaError(await upload(w.owner, 1001, 'x.txt', w.conversationId), 'conversation', { bytes: 5000, documents: 1 });
      const [leftBehind] = (await t.http(`${API}/documents?conversationId=${w.conversationId}`, { token: w.owner.accessToken })).body.items;
      expect((await t.http(`${API}/documents/${leftBehind.id}`, { method: 'DELETE', token: w.owner.accessToken })).status).toBe(204);
      expect((await upload(w.member, 5000)).status).toBe(201);
    });

    it('parallel uploads by one user never pass the quota together', async () => {
      const user = await register(t);
      // Each fits alone; three fit together (9000 of 10000 bytes).
      const responses = await gatedUploads(Array.from({ length: 8 }, () => user), 3000);
      const statuses = responses.map((response) => response.status).sort();
      expect(statuses).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
      for (const refused of responses.filter((response) => response.status === 409)) expect(refused.body.code).toBe('STORAGE_QUOTA_EXCEEDED');
      expect(await stored({ ownerId: user.id })).toMatchObject({ documents: 3, bytes: 9000, partBytes: 9000 });
    });

    it("parallel uploads by several participants never pass the conversation's quota together", async () => {
      const w = await createWorld(t);
      const uploaders = [w.owner, w.member, w.owner, w.member, w.owner, w.member, w.owner, w.member];
      const responses = await gatedUploads(uploaders, 2000, w.conversationId);
      expect(responses.filter((response) => response.status === 201)).toHaveLength(3);
      const refused = responses.filter((response) => response.status !== 201);
      expect(refused.map((response) => [response.status, response.body.code, response.body.details.scope])).toEqual(
        Array.from({ length: 5 }, () => [409, 'STORAGE_QUOTA_EXCEEDED', 'conversation']),
      );
      expect(await stored({ conversationId: w.conversationId })).toMatchObject({ documents: 3, bytes: 6000, partBytes: 6000 });
    });

    // On PGlite transactions take turns, so the deletion could not run while the upload's is open.
    it.runIf(process.env.TEST_DATABASE_URL)('an upload to a conversation deleted while its file arrives is refused, and kept nowhere', async () => {
      const w = await createWorld(t);
      let sent!: () => void;
      const halfSent = new Promise<void>((resolve) => (sent = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const dispatcher = new Agent();
      const uploading = t.http(`${API}/documents?conversationId=${w.conversationId}`, {
        method: 'POST',
        token: w.member.accessToken,
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: gatedBody('racing.txt', Buffer.alloc(1000, 'r'), sent, gate),
        duplex: 'half',
        dispatcher,
      } as RequestInit);
      await halfSent;
      expect((await t.http(`${API}/conversations/${w.conversationId}`, { method: 'DELETE', token: w.owner.accessToken })).status).toBe(204);
      release();
      const response = await uploading.finally(() => dispatcher.close());
      expect({ status: response.status, code: response.body.code }).toEqual({ status: 404, code: 'CONVERSATION_NOT_FOUND' });
      expect(await stored({ conversationId: w.conversationId })).toMatchObject({ documents: 0, parts: 0 });
    });

    it('a refused upload leaves no bytes anywhere', async () => {
      const [{ orphans }] = await db.query(
        `SELECT count(*)::int AS orphans FROM document_contents c LEFT JOIN documents d ON d.id = c.document_id WHERE d.id IS NULL`,
      );
      expect(orphans).toBe(0);
    });
  });

  describe('deletion', () => {
    it("deleting a conversation deletes its documents, their bytes and their chunks, at once", async () => {
      const w = await createWorld(t);
      const ids = [
        (await upload(w.owner, 1000, 'owners.txt', w.conversationId)).body.id as string,
        (await upload(w.member, 1000, 'members.txt', w.conversationId)).body.id as string,
      ];
      const privateId = (await upload(w.owner, 100, 'private.txt')).body.id as string;
      for (const id of ids) await ready(w.owner, id);
      expect(await rowsOf(ids)).toEqual({ documents: 2, parts: 2, chunks: expect.any(Number) });
      expect((await rowsOf(ids)).chunks).toBeGreaterThan(0);

      expect((await t.http(`${API}/conversations/${w.conversationId}`, { method: 'DELETE', token: w.owner.accessToken })).status).toBe(204);
      // No waiting: the documents went in the transaction that deleted the conversation.
      expect(await rowsOf(ids)).toEqual({ documents: 0, parts: 0, chunks: 0 });
      for (const id of ids) expect((await t.http(`${API}/documents/${id}`, { token: w.owner.accessToken })).status).toBe(404);
      // The owner's private library is not the conversation's.
      expect((await t.http(`${API}/documents/${privateId}`, { token: w.owner.accessToken })).status).toBe(200);
      // And the conversation's room is not counted against its uploaders any more.
      expect((await upload(w.member, USER_BYTES)).status).toBe(201);
    });

    it("deleting an account deletes its private documents and its uploads to conversations that live on, and nobody else's", async () => {
      const w = await createWorld(t);
      const elsewhere = await register(t);
      const other = await t.http(`${API}/conversations`, { method: 'POST', token: elsewhere.accessToken, json: { participantIds: [w.member.id] } });
      const mine = [
        (await upload(w.member, 500, 'private.txt')).body.id as string,
        (await upload(w.member, 500, 'in-world.txt', w.conversationId)).body.id as string,
        (await upload(w.member, 500, 'in-other.txt', other.body.id)).body.id as string,
      ];
      const theirs = [
        (await upload(w.owner, 500, 'owners.txt', w.conversationId)).body.id as string,
        (await upload(elsewhere, 500, 'elsewhere.txt', other.body.id)).body.id as string,
      ];
      for (const id of mine) await ready(w.member, id);

      expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: w.member.accessToken })).status).toBe(204);
      expect(await rowsOf(mine)).toEqual({ documents: 0, parts: 0, chunks: 0 });
      expect((await rowsOf(theirs)).documents).toBe(2);
      expect((await t.http(`${API}/documents/${mine[1]}`, { token: w.owner.accessToken })).status).toBe(404);
      expect((await t.http(`${API}/documents/${theirs[0]}`, { token: w.owner.accessToken })).status).toBe(200);
      expect((await t.http(`${API}/documents/${theirs[1]}`, { token: elsewhere.accessToken })).status).toBe(200);
    });

    it("deleting the account that owns a conversation alone takes the conversation's documents with it", async () => {
      const w = await createWorld(t);
      // Everyone else leaves: the owner is alone, and the conversation goes with the account.
      for (const participant of [w.member, w.viewer]) {
        await t.http(`${API}/conversations/${w.conversationId}/participants/${participant.id}`, { method: 'DELETE', token: w.owner.accessToken });
      }
      const id = (await upload(w.owner, 500, 'alone.txt', w.conversationId)).body.id as string;
      expect((await t.http(`${API}/auth/me`, { method: 'DELETE', token: w.owner.accessToken })).status).toBe(204);
      expect(await rowsOf([id])).toEqual({ documents: 0, parts: 0, chunks: 0 });
    });

    it('documents that earlier versions left in deleted conversations or accounts are swept at start-up', async () => {
      const w = await createWorld(t);
      const inConversation = (await upload(w.member, 500, 'kept.txt', w.conversationId)).body.id as string;
      const erased = await register(t);
      const ofErased = (await upload(erased, 500, 'kept.txt')).body.id as string;
      const alive = (await upload(w.owner, 500, 'alive.txt')).body.id as string;
      // As a version without the deletion steps would have left them.
      await db.query(`UPDATE conversations SET deleted_at = now() WHERE id = $1`, [w.conversationId]);
      await db.query(`UPDATE users SET deleted_at = now(), email = NULL WHERE id = $1`, [erased.id]);
      expect((await rowsOf([inConversation, ofErased])).documents).toBe(2);

      await t.app.get(DocumentsLifecycle).onApplicationBootstrap();
      expect(await rowsOf([inConversation, ofErased])).toEqual({ documents: 0, parts: 0, chunks: 0 });
      expect((await rowsOf([alive])).documents).toBe(1);
      // Running it again finds nothing more to do.
      await t.app.get(DocumentsLifecycle).onApplicationBootstrap();
      expect((await rowsOf([alive])).documents).toBe(1);
    });
  });

  describe('export', () => {
    it('lists every document the user uploaded, with where to download it, and none of their bytes', async () => {
      const w = await createWorld(t);
      const privateDoc = (await upload(w.member, 300, 'private.txt')).body;
      const shared = (await upload(w.member, 400, 'shared.md', w.conversationId)).body;
      await upload(w.owner, 500, 'not-mine.txt', w.conversationId);
      await ready(w.member, privateDoc.id);

      const response = await t.http(`${API}/auth/me/export`, { token: w.member.accessToken });
      expect(response.status).toBe(200);
      expect(response.body.documents).toEqual([
        {
          id: privateDoc.id,
          conversationId: null,
          filename: 'private.txt',
          mediaType: 'text/plain',
          bytes: 300,
          status: 'ready',
          createdAt: privateDoc.createdAt,
          contentPath: `/api/v1/documents/${privateDoc.id}/content`,
        },
        expect.objectContaining({ id: shared.id, conversationId: w.conversationId, filename: 'shared.md', bytes: 400, contentPath: `/api/v1/documents/${shared.id}/content` }),
      ]);
      expect(response.text).not.toContain('aaaaaaaaaa');
      const download = await t.http(response.body.documents[0].contentPath, { token: w.member.accessToken });
      expect(download.text).toBe('a'.repeat(300));

      // Once they leave the conversation, their upload there is still listed, but theirs to download no more.
      await t.http(`${API}/conversations/${w.conversationId}/participants/${w.member.id}`, { method: 'DELETE', token: w.member.accessToken });
      const after = await t.http(`${API}/auth/me/export`, { token: w.member.accessToken });
      expect(after.body.documents[1]).toMatchObject({ id: shared.id, contentPath: null });
    });

    it('pages the documents by keyset, oldest first, without skipping or repeating', async () => {
      const user = await register(t);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await upload(user, 10, `p${i}.txt`)).body.id as string);
      const pages: string[][] = [];
      for await (const page of t.app.get(DocumentsRepository).streamOwnedBy(user.id, 2)) pages.push(page.map(({ document }) => document.id));
      expect(pages).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
    });
  });
});
