import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentSearchService } from '../../src/documents/document-search.service.js';
import { DOCUMENT_PART_BYTES } from '../../src/documents/document-storage.js';
import { waitUntil } from '../support/conditions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

const API = '/api/v1';
/** A real ZIP archive holding hello.txt. */
const ZIP = Buffer.from(
  'UEsDBBQAAAAAABOFgV2GphA2BQAAAAUAAAAJAAAAaGVsbG8udHh0aGVsbG9QSwECFAMUAAAAAAAThYFdhqYQNgUAAAAFAAAACQAAAAAAAAAAAAAAgAEAAAAAaGVsbG8udHh0UEsFBgAAAAABAAEANwAAACwAAAAAAA==',
  'base64',
);
/** A PNG signature, an IHDR chunk and the header of an IDAT chunk: image data may follow. */
const PNG_SIGNATURE = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.alloc(13 + 4),
  Buffer.from([0, 0, 0, 0]),
  Buffer.from('IDAT'),
]);

const BOUNDARY = 'upload-boundary';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

/**
 * A multipart body that sends its head and one chunk of the file, then the same chunk again only
 * once `gate` settles: a server that waits for the whole file before `gate` can settle never answers.
 */
function gatedUpload(filename: string, chunk: Buffer, gate: Promise<void>, conversationId?: string) {
  const field = conversationId ? `--${BOUNDARY}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n${conversationId}\r\n` : '';
  const head = `${field}--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n`;
  const steps = [Buffer.from(head), chunk, gate, chunk, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)];
  let fileBytes = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const step = steps.shift();
      if (step === undefined) return controller.close();
      if (!Buffer.isBuffer(step)) return step;
      if (step === chunk) fileBytes += chunk.length;
      controller.enqueue(step);
    },
  });
  return { body, sent: () => fileBytes };
}

function failAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

type Role = 'owner' | 'member' | 'viewer' | 'outsider';

describe('documents', () => {
  let t: TestApp;
  let world: World;
  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, DOCUMENT_MAX_BYTES: String(256 * 1024), IMAGE_MAX_BYTES: String(128 * 1024), UPLOAD_IDLE_TIMEOUT_MS: '3000' });
    world = await createWorld(t);
  });
  afterAll(() => t?.close());

  const token = (role: Role) => world[role].accessToken;

  function upload(as: string, content: Buffer | string, filename: string, conversationId?: string) {
    const form = new FormData();
    if (conversationId) form.append('conversationId', conversationId);
    form.append('file', new Blob([content]), filename);
    return t.http(`${API}/documents`, { method: 'POST', token: as, body: form });
  }

  async function download(as: string, id: string): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
    const response = await fetch(new URL(`${API}/documents/${id}/content`, t.baseUrl), { headers: { authorization: `Bearer ${as}` } });
    return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
  }

  it('round-trips a private document byte for byte', async () => {
    const text = '# Notes\n\nÜber alles: ünïcödé\n';
    const created = await upload(token('owner'), text, '../../notes ü (final).md');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ownerId: world.owner.id, conversationId: null, filename: 'notes ü (final).md', mediaType: 'text/markdown', bytes: Buffer.byteLength(text), status: 'processing', chunks: 0, error: null });

    const listed = await t.http(`${API}/documents`, { token: token('owner') });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((d: { id: string }) => d.id)).toContain(created.body.id);
    // Processing goes on in the background: only its fields may have moved on.
    expect((await t.http(`${API}/documents/${created.body.id}`, { token: token('owner') })).body).toEqual({ ...created.body, status: expect.any(String), chunks: expect.any(Number) });

    const got = await download(token('owner'), created.body.id);
    expect(got.status).toBe(200);
    expect(got.bytes.toString('utf8')).toBe(text);
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="notes _ (final).md"; filename*=UTF-8''notes%20%C3%BC%20%28final%29.md`);
    // Validated against the API document too.
    expect((await t.http(`${API}/documents/${created.body.id}/content`, { token: token('owner') })).status).toBe(200);
  });

  it('extracts a text document into chunks that full-text search finds, with their headings', async () => {
    const text = '# Tides\n\nThe harbour floods at spring tide.\n\n## Locks\n\nThe lock gates close two hours before high water.\n';
    const created = await upload(token('owner'), text, 'harbour.md');
    const ready = await waitUntil(async () => {
      const { body } = await t.http(`${API}/documents/${created.body.id}`, { token: token('owner') });
      return body.status === 'ready' && body;
    }, 'the document to be ready', 30_000);
    expect(ready).toMatchObject({ status: 'ready', chunks: 2, error: null });
    const search = t.app.get(DocumentSearchService);
    const hits = await search.search({ userId: world.owner.id }, 'gates', { limit: 5 });
    expect(hits).toEqual([expect.objectContaining({ documentId: created.body.id, title: 'harbour.md', heading: 'Locks', chunk: 1, page: null })]);
    expect(hits[0]!.snippet).toContain('**gates**');
    expect(await search.search({ userId: world.member.id }, 'gates', { limit: 5 })).toEqual([]);
  });

  it('stores binary content exactly, across several parts', async () => {
    const png = Buffer.concat([PNG_SIGNATURE, randomBytes(20 * 1024)]);
    const created = await upload(token('owner'), png, 'picture.bin');
    expect(created.status).toBe(201);
    expect(created.body.mediaType).toBe('image/png');
    expect((await download(token('owner'), created.body.id)).bytes.equals(png)).toBe(true);

    // Above the JSON body limit (64 KB): uploads have their own.
    const big = Buffer.alloc(200 * 1024, 'a');
    const text = await upload(token('owner'), big, 'big.txt');
    expect(text.body.mediaType).toBe('text/plain');
    expect((await download(token('owner'), text.body.id)).bytes.equals(big)).toBe(true);
  });

  it('detects the type from the content, not the name', async () => {
    const zip = await upload(token('owner'), ZIP, 'report.pdf');
    expect(zip.status).toBe(415);
    expect(zip.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const json = await upload(token('owner'), '{"a": [1, 2]}', 'data.txt');
    expect(json.body.mediaType).toBe('application/json');
    const html = await upload(token('owner'), '<!DOCTYPE html><p>hi</p>', 'page.txt');
    expect(html.body.mediaType).toBe('text/html');
    expect((await upload(token('owner'), Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'notes.txt')).status).toBe(415);
  });

  it('refuses uploads over the limits with 413', async () => {
    const tooBig = await upload(token('owner'), Buffer.alloc(256 * 1024 + 1, 'a'), 'big.txt');
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.code).toBe('PAYLOAD_TOO_LARGE');
    const bigImage = await upload(token('owner'), Buffer.concat([PNG_SIGNATURE, Buffer.alloc(130 * 1024)]), 'big.png');
    expect(bigImage.status).toBe(413);
    const listed = await t.http(`${API}/documents`, { token: token('owner') });
    expect(listed.body.items.map((d: { filename: string }) => d.filename)).not.toContain('big.png');
  });

  it('stores nothing of an upload refused for its type or size', async () => {
    const user = await createWorld(t);
    const as = user.outsider.accessToken;
    expect((await upload(as, Buffer.alloc(256 * 1024 + 1, 'a'), 'big.txt')).status).toBe(413);
    expect((await upload(as, Buffer.concat([PNG_SIGNATURE, Buffer.alloc(200 * 1024)]), 'big.png')).status).toBe(413);
    expect((await upload(as, ZIP, 'a.zip')).status).toBe(415);
    // Not UTF-8 only in its last part: found out after whole parts were written.
    expect((await upload(as, Buffer.concat([Buffer.alloc(DOCUMENT_PART_BYTES - 10, 'a'), Buffer.from([0xff])]), 'late.txt')).status).toBe(415);
    const db = t.app.get(DataSource);
    const [{ documents, contents }] = await db.query(
      `SELECT (SELECT count(*)::int FROM documents WHERE owner_id = $1) AS documents,
              (SELECT count(*)::int FROM document_contents c JOIN documents d ON d.id = c.document_id WHERE d.owner_id = $1) AS contents`,
      [user.outsider.id],
    );
    expect({ documents, contents }).toEqual({ documents: 0, contents: 0 });
    expect(await db.query(`SELECT count(*)::int AS n FROM document_contents c LEFT JOIN documents d ON d.id = c.document_id WHERE d.id IS NULL`)).toEqual([{ n: 0 }]);
  });

  it('keeps serving everyone while an upload is still arriving, and stores nothing of it until it is complete', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { body, sent } = gatedUpload('slow.txt', Buffer.alloc(64 * 1024, 'a'), gate);
    const uploading = t.http(`${API}/documents`, { method: 'POST', token: token('member'), headers: { 'content-type': MULTIPART }, body, duplex: 'half' } as RequestInit);
    await waitUntil(() => sent() > 0, 'the first part of the file to be sent');
    // A slow client holds no database connection: on the embedded database there is only one.
    const others = await Promise.race([
      t.http(`${API}/documents`, { token: token('owner') }),
      failAfter(5000, 'a request waited for an upload that is still arriving'),
    ]);
    expect(others.status).toBe(200);
    const stored = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM documents WHERE filename = 'slow.txt'`);
    expect(stored[0].n).toBe(0);
    release();
    const response = await uploading;
    expect(response.status).toBe(201);
    expect(response.body.bytes).toBe(2 * 64 * 1024);
  });

  it('gives up an upload that stops sending (408), keeping nothing of it on disk or in the database', async () => {
    const spools = () => readdirSync(tmpdir()).filter((name) => name.startsWith('agent-chat-upload-'));
    const before = new Set(spools());
    const { body } = gatedUpload('stalled.txt', Buffer.alloc(32 * 1024, 'a'), new Promise<void>(() => undefined));
    const response = await t.http(`${API}/documents`, { method: 'POST', token: token('viewer'), headers: { 'content-type': MULTIPART }, body, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(408);
    expect(response.body).toMatchObject({ statusCode: 408, code: 'ERROR', message: 'The upload stalled: no data for 3 s' });
    expect(spools().filter((name) => !before.has(name))).toEqual([]);
    const stored = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM documents WHERE filename = 'stalled.txt'`);
    expect(stored[0].n).toBe(0);
  });

  it('lets one user have at most UPLOADS_PER_USER_AT_ONCE uploads under way (429), others are not held', async () => {
    const user = (await createWorld(t)).outsider.accessToken;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const open = [0, 1, 2].map((i) => gatedUpload(`held-${i}.txt`, Buffer.alloc(1024, 'a'), gate));
    const held = open.map(({ body }) =>
      t.http(`${API}/documents`, { method: 'POST', token: user, headers: { 'content-type': MULTIPART }, body, duplex: 'half' } as RequestInit),
    );
    await waitUntil(() => open.every(({ sent }) => sent() > 0), 'three uploads under way');
    const fourth = await upload(user, 'fourth.txt', 'fourth.txt');
    expect(fourth.status).toBe(429);
    expect(fourth.body.code).toBe('RATE_LIMITED');
    expect(fourth.headers.get('retry-after')).toBe('1');
    // Someone else uploads meanwhile.
    expect((await upload(token('owner'), 'other.txt', 'other.txt')).status).toBe(201);
    release();
    for (const response of await Promise.all(held)) expect(response.status).toBe(201);
    expect((await upload(user, 'fifth.txt', 'fifth.txt')).status).toBe(201);
  });

  it('answers a malformed multipart body with 400 in the error shape, never a 500', async () => {
    const send = (body: string, type = MULTIPART) => t.http(`${API}/documents`, { method: 'POST', token: token('owner'), headers: { 'content-type': type }, body });
    const truncated = await send(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhalf a fi`);
    expect(truncated.status).toBe(400);
    expect(truncated.body).toMatchObject({ code: 'VALIDATION', details: { file: ['the body could not be read as multipart/form-data'] } });
    const noBoundary = await send('whatever', 'multipart/form-data');
    expect(noBoundary.status).toBe(400);
    const twoFiles = new FormData();
    twoFiles.append('file', new Blob(['a']), 'a.txt');
    twoFiles.append('file', new Blob(['b']), 'b.txt');
    const two = await t.http(`${API}/documents`, { method: 'POST', token: token('owner'), body: twoFiles });
    expect(two.status).toBe(413);
    expect(two.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: 'Send one file, and at most a conversationId field, per upload' });
  });

  it('tells JSON from text without parsing a large file, and reads a file of blanks as text', async () => {
    const blanks = await upload(token('owner'), ' '.repeat(200 * 1024), 'blank.txt');
    expect(blanks.body.mediaType).toBe('text/plain');
    const nested = '['.repeat(100_000) + ']'.repeat(100_000);
    expect((await upload(token('owner'), nested, 'deep.json')).body.mediaType).toBe('application/json');
    expect((await upload(token('owner'), nested, 'deep.txt')).body.mediaType).toBe('text/plain');
    expect((await upload(token('owner'), '[1, 2, 3]', 'small.txt')).body.mediaType).toBe('application/json');
  });

  it('pages the library by cursor', async () => {
    const user = (await createWorld(t)).outsider.accessToken;
    for (let i = 0; i < 3; i++) expect((await upload(user, `doc ${i}`, `doc-${i}.txt`)).status).toBe(201);
    const first = await t.http(`${API}/documents?limit=2`, { token: user });
    expect(first.body.items.map((d: { filename: string }) => d.filename)).toEqual(['doc-2.txt', 'doc-1.txt']);
    const second = await t.http(`${API}/documents?limit=2&cursor=${first.body.nextCursor}`, { token: user });
    expect(second.body.items.map((d: { filename: string }) => d.filename)).toEqual(['doc-0.txt']);
    expect(second.body.nextCursor).toBeNull();
  });

  describe('access', () => {
    const expectedUpload: Record<Role, number> = { owner: 201, member: 201, viewer: 403, outsider: 404 };
    const expectedRead: Record<Role, number> = { owner: 200, member: 200, viewer: 200, outsider: 404 };

    it.each(Object.keys(expectedUpload) as Role[])('%s uploads, lists, reads and downloads a conversation document', async (role) => {
      expect((await upload(token(role), `by ${role}`, 'a.txt', world.conversationId)).status).toBe(expectedUpload[role]);
      const shared = await upload(token('member'), 'shared', 'shared.txt', world.conversationId);
      const id = shared.body.id as string;
      expect((await t.http(`${API}/documents?conversationId=${world.conversationId}`, { token: token(role) })).status).toBe(expectedRead[role]);
      expect((await t.http(`${API}/documents/${id}`, { token: token(role) })).status).toBe(expectedRead[role]);
      expect((await download(token(role), id)).status).toBe(expectedRead[role]);
    });

    it.each([
      ['owner', 204],
      ['member', 204],
      ['viewer', 403],
      ['outsider', 404],
    ] as [Role, number][])("%s deletes the member's conversation document: %i", async (role, status) => {
      const id = (await upload(token('member'), 'to delete', 'x.txt', world.conversationId)).body.id as string;
      expect((await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: token(role) })).status).toBe(status);
      const after = await t.http(`${API}/documents/${id}`, { token: token('member') });
      expect(after.status).toBe(status === 204 ? 404 : 200);
    });

    it('takes the conversation from the query, or from a field before the file only', async () => {
      const form = new FormData();
      form.append('file', new Blob(['by query']), 'q.txt');
      const byQuery = await t.http(`${API}/documents?conversationId=${world.conversationId}`, { method: 'POST', token: token('member'), body: form });
      expect(byQuery.status).toBe(201);
      expect(byQuery.body.conversationId).toBe(world.conversationId);

      const late = new FormData();
      late.append('file', new Blob(['late']), 'late.txt');
      late.append('conversationId', world.conversationId);
      const refused = await t.http(`${API}/documents`, { method: 'POST', token: token('member'), body: late });
      expect(refused.status).toBe(400);
      expect(refused.body.details.conversationId[0]).toMatch(/before the file/);
      const listed = await t.http(`${API}/documents?conversationId=${world.conversationId}`, { token: token('member') });
      expect(listed.body.items.map((d: { filename: string }) => d.filename)).not.toContain('late.txt');
    });

    it.each([
      ['outsider', 404],
      ['viewer', 403],
    ] as [Role, number][])("refuses the %s's upload to the conversation before reading the file: %i", async (role, status) => {
      let answered!: () => void;
      const answer = new Promise<void>((resolve) => (answered = resolve));
      const { body, sent } = gatedUpload('big.txt', Buffer.alloc(64 * 1024, 'a'), answer, world.conversationId);
      let sentBeforeAnswer = 0;
      const response = await Promise.race([
        fetch(new URL(`${API}/documents`, t.baseUrl), {
          method: 'POST',
          headers: { authorization: `Bearer ${token(role)}`, 'content-type': MULTIPART },
          body,
          duplex: 'half',
        } as RequestInit),
        failAfter(5000, 'no answer while the file was still being sent'),
      ]).finally(() => {
        sentBeforeAnswer = sent();
        answered();
      });
      expect(response.status).toBe(status);
      expect(sentBeforeAnswer).toBe(64 * 1024);
      await response.body?.cancel();
    });

    it('keeps a private document to its owner', async () => {
      const id = (await upload(token('owner'), 'private', 'p.txt')).body.id as string;
      for (const role of ['member', 'viewer', 'outsider'] as Role[]) {
        expect((await t.http(`${API}/documents/${id}`, { token: token(role) })).body.code).toBe('DOCUMENT_NOT_FOUND');
        expect((await download(token(role), id)).status).toBe(404);
        expect((await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: token(role) })).status).toBe(404);
        const listed = await t.http(`${API}/documents`, { token: token(role) });
        expect(listed.body.items.map((d: { id: string }) => d.id)).not.toContain(id);
      }
      expect((await t.http(`${API}/documents/${randomUUID()}`, { token: token('owner') })).status).toBe(404);
      expect((await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: token('owner') })).status).toBe(204);
    });
  });
});
