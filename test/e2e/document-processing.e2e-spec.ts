import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentSearchService } from '../../src/documents/document-search.service.js';
import { DocumentStorage } from '../../src/documents/document-storage.js';
import { DocumentsRepository } from '../../src/documents/documents.repository.js';
import { buildDocx, buildPdf, docxBomb, headingDocx, PAGE_WITH_SCRIPT, PNG, twoPagePdf, zip } from '../fixtures/documents/index.js';
import { register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { createTestDatabase } from '../support/database.js';
import { readEvents, untilLive } from '../support/sse-frames.js';
import { connectClient, type RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { ADMIN_ENV, createWorld, type World } from '../support/world.js';

const API = '/api/v1';
/** Processing waits behind other documents and starts a process: more than the default deadline. */
const PROCESSED_WITHIN_MS = 30_000;

function upload(t: TestApp, token: string, content: Buffer | string, filename: string, conversationId?: string) {
  const form = new FormData();
  if (conversationId) form.append('conversationId', conversationId);
  form.append('file', new Blob([content]), filename);
  return t.http(`${API}/documents`, { method: 'POST', token, body: form });
}

async function processed(t: TestApp, token: string, id: string, deadlineMs = PROCESSED_WITHIN_MS) {
  return waitUntil(
    async () => {
      const { body } = await t.http(`${API}/documents/${id}`, { token });
      return body.status !== 'processing' && body;
    },
    `document ${id} to be processed`,
    deadlineMs,
  );
}

/** A stored document left `processing`, as an instance that stopped before extracting it leaves it. */
async function storeUnprocessed(t: TestApp, ownerId: string, text: string): Promise<string> {
  const documents = t.app.get(DocumentsRepository);
  const storage = t.app.get(DocumentStorage);
  return documents.transaction(async (manager) => {
    const bytes = Buffer.from(text);
    const document = await documents.insert({ ownerId, conversationId: null, filename: 'left.txt', mediaType: 'text/plain', bytes: bytes.length }, manager);
    await storage.put(document.id, (async function* () {
      yield bytes;
    })(), manager);
    return document.id;
  });
}

/** 9.5 MB of one-word sections: one chunk each would be 175,000 chunks of the first 2,000,000 characters. */
function tinyHeadings(): string {
  const parts: string[] = [];
  for (let i = 0, size = 0; size < 9.5 * 1024 * 1024; i++) size += parts[parts.push(`# h${i}\nx\n`) - 1]!.length;
  return parts.join('');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The extraction worker processes this process started that are alive now, as the system lists them. */
function extractionProcesses(): number[] {
  return execFileSync('ps', ['-A', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, ...args]) => Number(ppid) === process.pid && args.join(' ').includes('extraction.worker'))
    .map(([pid]) => Number(pid));
}

describe('document processing', () => {
  let t: TestApp;
  let world: World;
  let ownerSocket: RecordingClient;
  let memberSocket: RecordingClient;
  const token = (role: 'owner' | 'member' | 'outsider') => world[role].accessToken;

  beforeAll(async () => {
    // One document at a time, so that a document uploaded after another is processed after it.
    t = await startTestApp({ ...ADMIN_ENV, DOCUMENT_EXTRACTION_CONCURRENCY: '1' });
    world = await createWorld(t);
    [ownerSocket, memberSocket] = await Promise.all([connectClient(t.baseUrl, token('owner')), connectClient(t.baseUrl, token('member'))]);
    await memberSocket.emit('conversation:join', { conversationId: world.conversationId });
  });
  afterAll(async () => {
    ownerSocket?.socket.close();
    memberSocket?.socket.close();
    await t?.close();
  });

  it('indexes a PDF page by page: search finds the page a word is on, under its heading', async () => {
    const created = await upload(t, token('owner'), twoPagePdf(), 'harbour.pdf');
    expect(created.body).toMatchObject({ mediaType: 'application/pdf', status: 'processing' });
    expect(await processed(t, token('owner'), created.body.id)).toMatchObject({ status: 'ready', chunks: 2, error: null });
    const search = t.app.get(DocumentSearchService);
    const [first] = await search.search({ userId: world.owner.id }, 'harbourmaster', { limit: 5 });
    expect(first).toMatchObject({ documentId: created.body.id, page: 1, heading: 'Harbour Regulations', chunk: 0 });
    const [second] = await search.search({ userId: world.owner.id }, 'anchoring fairway', { limit: 5 });
    expect(second).toMatchObject({ documentId: created.body.id, page: 2, heading: 'Harbour Regulations', chunk: 1 });
  });

  it('indexes a DOCX under its Heading 1', async () => {
    const created = await upload(t, token('owner'), headingDocx(), 'keeping.docx');
    expect(created.body.mediaType).toBe('application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    expect(await processed(t, token('owner'), created.body.id)).toMatchObject({ status: 'ready', chunks: 1 });
    const hits = await t.app.get(DocumentSearchService).search({ userId: world.owner.id }, 'lamp dusk', { limit: 5 });
    expect(hits).toEqual([expect.objectContaining({ documentId: created.body.id, heading: 'Lighthouse Keeping', page: null })]);
  });

  it('indexes the text of an HTML page, never its scripts, styles or comments', async () => {
    const created = await upload(t, token('owner'), PAGE_WITH_SCRIPT, 'tides.html');
    expect(created.body.mediaType).toBe('text/html');
    expect(await processed(t, token('owner'), created.body.id)).toMatchObject({ status: 'ready' });
    const search = t.app.get(DocumentSearchService);
    expect(await search.search({ userId: world.owner.id }, 'estuary', { limit: 5 })).toEqual([expect.objectContaining({ heading: 'Spring tides' })]);
    for (const hidden of ['tidesecret', 'tidestyle', 'tidenoscript', 'tidecomment']) {
      expect(await search.search({ userId: world.owner.id }, hidden, { limit: 5 }), hidden).toEqual([]);
    }
  });

  it('keeps an image as an attachment: ready, with no chunks', async () => {
    const created = await upload(t, token('owner'), PNG, 'pixel.png');
    expect(created.body.mediaType).toBe('image/png');
    expect(await processed(t, token('owner'), created.body.id)).toMatchObject({ status: 'ready', chunks: 0, error: null });
  });

  it.each([
    ['a corrupt PDF', () => Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(5000, 0x41)]), 'broken.pdf', 'The PDF is damaged or is not a PDF'],
    ['an encrypted PDF', () => buildPdf([[{ text: 'Secret plans' }]], { encrypted: true }), 'locked.pdf', 'The PDF is password-protected: upload it without a password'],
    ['a scanned PDF', () => buildPdf([[], []]), 'scan.pdf', 'The PDF has no text to extract: it may hold only scanned images, and text recognition (OCR) is not supported'],
    ['a DOCX that is a broken zip', () => headingDocx().subarray(0, 600), 'broken.docx', 'The DOCX file is damaged or is not a Word document'],
    ['a DOCX without text', () => buildDocx([]), 'empty.docx', 'The DOCX has no text to extract: it may hold only scanned images, and text recognition (OCR) is not supported'],
  ])('fails %s with a reason people can read', async (_, content, filename, reason) => {
    const created = await upload(t, token('owner'), content(), filename);
    expect(created.status).toBe(201);
    expect(await processed(t, token('owner'), created.body.id)).toMatchObject({ status: 'failed', chunks: 0, error: reason });
  });

  it('fails a DOCX that unpacks to a gigabyte, whatever sizes it declares, and keeps serving', async () => {
    const bomb = docxBomb(1024 * 1024 * 1024, { forged: true });
    const created = await upload(t, token('owner'), bomb, 'bomb.docx');
    expect(created.body).toMatchObject({ mediaType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', bytes: bomb.length });
    const failed = await processed(t, token('owner'), created.body.id);
    expect(failed).toMatchObject({ status: 'failed', chunks: 0 });
    expect(failed.error).toMatch(/^The DOCX file expands to more than [\d,.]+ MB when unpacked$/);
    const next = await upload(t, token('owner'), headingDocx(), 'after-bomb.docx');
    expect(await processed(t, token('owner'), next.body.id)).toMatchObject({ status: 'ready', error: null });
  });

  it('refuses a ZIP named .pdf at upload', async () => {
    const refused = await upload(t, token('owner'), zip({ 'hello.txt': 'hello' }), 'report.pdf');
    expect(refused.status).toBe(415);
    expect(refused.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it("announces a private document's processing to its owner's sockets only", async () => {
    const created = await upload(t, token('owner'), buildPdf([[{ text: 'x' }]], { encrypted: true }), 'mine.pdf');
    const id = created.body.id;
    const { document } = await ownerSocket.waitFor('document:updated', (payload) => payload.document.id === id, PROCESSED_WITHIN_MS);
    // The same shape and values as GET /documents/:id.
    expect(document).toEqual((await t.http(`${API}/documents/${id}`, { token: token('owner') })).body);
    expect(document).toMatchObject({ status: 'failed', error: 'The PDF is password-protected: upload it without a password' });
    expect(memberSocket.of('document:updated').some((payload) => payload.document.id === id)).toBe(false);
  });

  it("announces a conversation document to the conversation's sockets and its event stream", async () => {
    const feed = await untilLive(
      await fetch(new URL(`${API}/conversations/${world.conversationId}/events`, t.baseUrl), {
        headers: { authorization: `Bearer ${token('member')}`, accept: 'text/event-stream' },
      }),
    );
    const created = await upload(t, token('owner'), twoPagePdf(), 'shared.pdf', world.conversationId);
    const id = created.body.id;
    const [frame] = await readEvents(feed, (events) => events.some((event) => event.event === 'document:updated'), PROCESSED_WITHIN_MS);
    expect(frame).toMatchObject({ event: 'document:updated', data: { document: { id, conversationId: world.conversationId, status: 'ready', chunks: 2 } } });
    const { document } = await memberSocket.waitFor('document:updated', (payload) => payload.document.id === id);
    expect(document).toEqual((await t.http(`${API}/documents/${id}`, { token: token('member') })).body);
  });

  it('keeps answering requests quickly while a large document is extracted, and a deletion meanwhile stays a deletion', async () => {
    // About 8 MB of text without a sentence break: seconds of extraction and chunking.
    const large = Array.from({ length: 1_600_000 }, (_, i) => `w${i % 5000}`).join(' ');
    const created = await upload(t, token('owner'), large, 'large.txt');
    const id = created.body.id;
    const slowest = { ms: 0, requests: 0 };
    const documents = t.app.get(DataSource);
    const leased = async () => (await documents.query(`SELECT "lease_expires_at" FROM "documents" WHERE "id" = $1`, [id]))[0]?.lease_expires_at;
    await waitUntil(leased, 'the large document to be claimed', PROCESSED_WITHIN_MS);
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const { status } = await t.http(`${API}/documents`, { token: token('owner') });
      expect(status).toBe(200);
      slowest.ms = Math.max(slowest.ms, performance.now() - started);
      slowest.requests++;
    }
    // Parsing and chunking happen in another process: the event loop here stays free.
    expect(slowest.ms).toBeLessThan(1000);
    expect((await t.http(`${API}/documents/${id}`, { token: token('owner') })).body.status).toBe('processing');

    expect((await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: token('owner') })).status).toBe(204);
    // Processed one at a time: once a document uploaded after it is done, the large one is too.
    const after = await upload(t, token('owner'), 'After the large one.', 'after.txt');
    expect(await processed(t, token('owner'), after.body.id)).toMatchObject({ status: 'ready' });
    expect((await t.http(`${API}/documents/${id}`, { token: token('owner') })).status).toBe(404);
    expect(await documents.query(`SELECT count(*)::int AS n FROM "document_chunks" WHERE "document_id" = $1`, [id])).toEqual([{ n: 0 }]);
  }, 120_000);

  it("indexes a document of countless tiny headings in at most DOCUMENT_MAX_CHUNKS chunks, and others' requests keep answering meanwhile", async () => {
    const bomber = await register(t);
    const created = await upload(t, bomber.accessToken, tinyHeadings(), 'headings.md');
    expect(created.status).toBe(201);
    const id = created.body.id;
    const documents = t.app.get(DataSource);
    await waitUntil(async () => (await documents.query(`SELECT "lease_expires_at" FROM "documents" WHERE "id" = $1`, [id]))[0]?.lease_expires_at, 'the document to be claimed', PROCESSED_WITHIN_MS);
    let slowest = 0;
    let requests = 0;
    let document: { status: string; chunks: number; error: string | null } | undefined;
    await waitUntil(
      async () => {
        const started = performance.now();
        const { status } = await t.http(`${API}/documents`, { token: token('outsider') });
        expect(status).toBe(200);
        slowest = Math.max(slowest, performance.now() - started);
        requests++;
        document = (await t.http(`${API}/documents/${id}`, { token: bomber.accessToken })).body;
        return document?.status !== 'processing';
      },
      'the document to be processed',
      120_000,
    );
    expect(document).toMatchObject({ status: 'ready', chunks: 5000, error: 'Only the first 5,000 chunks of the text were indexed: the rest of the document cannot be searched' });
    expect(await documents.query(`SELECT count(*)::int AS n FROM "document_chunks" WHERE "document_id" = $1`, [id])).toEqual([{ n: 5000 }]);
    // Chunks are written in short transactions: another user's request waits for one at most.
    expect(requests).toBeGreaterThan(1);
    expect(slowest).toBeLessThan(2000);
    const [first] = await t.app.get(DocumentSearchService).search({ userId: bomber.id }, 'h0', { limit: 1 });
    expect(first).toMatchObject({ documentId: id, heading: 'h0', chunk: 0 });
  }, 180_000);

  it('lets concurrent claims take different documents, each once', async () => {
    const repository = t.app.get(DocumentsRepository);
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => storeUnprocessed(t, world.owner.id, `Left behind ${i}.`)));
    const claimed = (await Promise.all(Array.from({ length: 8 }, () => repository.claimNext(60_000)))).filter((id) => id !== undefined);
    expect(new Set(claimed).size).toBe(claimed.length);
    for (const id of claimed) expect(ids).toContain(id);
    // Claimed and not renewed: no other instance takes them before the lease ends.
    expect(claimed.filter((id) => ids.includes(id)).length).toBeGreaterThan(0);
    expect(await repository.claimNext(60_000).then((id) => claimed.includes(id!))).toBe(false);
  });
});

describe('document processing limits and restarts', () => {
  it('fails a document whose extraction takes too long, and indexes the beginning of a document past the text limit', async () => {
    const t = await startTestApp({ DOCUMENT_EXTRACTION_TIMEOUT_MS: '100' });
    try {
      const user = await register(t);
      const created = await upload(t, user.accessToken, 'Too slow for a tenth of a second.', 'slow.txt');
      expect(await processed(t, user.accessToken, created.body.id)).toMatchObject({
        status: 'failed',
        error: 'Extracting the text took too long (over 0.1 s); try a smaller document',
      });
    } finally {
      await t.close();
    }
    const capped = await startTestApp({ DOCUMENT_MAX_TEXT_CHARS: '1000' });
    try {
      const user = await register(capped);
      const created = await upload(capped, user.accessToken, `${'early words. '.repeat(100)}${'late words. '.repeat(100)}`, 'long.txt');
      expect(await processed(capped, user.accessToken, created.body.id)).toMatchObject({
        status: 'ready',
        error: 'Only the first 1,000 characters of the text were indexed: the rest of the document cannot be searched',
      });
      const search = capped.app.get(DocumentSearchService);
      expect(await search.search({ userId: user.id }, 'early', { limit: 1 })).toHaveLength(1);
      expect(await search.search({ userId: user.id }, 'late', { limit: 1 })).toEqual([]);
    } finally {
      await capped.close();
    }
  }, 120_000);

  it('stores many chunks in short transactions before the document is ready, and makes it ready with all of them', async () => {
    // No cap on chunks: 175,000 of them, as many as the first 2,000,000 characters make.
    const t = await startTestApp({ DOCUMENT_MAX_CHUNKS: '1000000' });
    try {
      const [bomber, other] = [await register(t), await register(t)];
      const created = await upload(t, bomber.accessToken, tinyHeadings(), 'headings.md');
      const id = created.body.id;
      const documents = t.app.get(DataSource);
      const state = async () =>
        (await documents.query(`SELECT d."status", (SELECT count(*)::int FROM "document_chunks" c WHERE c."document_id" = d."id") AS "stored" FROM "documents" d WHERE d."id" = $1`, [id]))[0] as { status: string; stored: number };
      // Chunks committed while the document is still processing: written batch by batch, not all at once.
      await waitUntil(async () => {
        const { status, stored } = await state();
        expect(status).toBe('processing');
        return stored > 0;
      }, 'chunks stored before the document is ready', 120_000);
      let slowest = 0;
      await waitUntil(
        async () => {
          const started = performance.now();
          expect((await t.http(`${API}/documents`, { token: other.accessToken })).status).toBe(200);
          slowest = Math.max(slowest, performance.now() - started);
          return (await state()).status !== 'processing';
        },
        'the document to be processed',
        120_000,
      );
      const done = (await t.http(`${API}/documents/${id}`, { token: bomber.accessToken })).body;
      expect(done).toMatchObject({ status: 'ready', error: 'Only the first 2,000,000 characters of the text were indexed: the rest of the document cannot be searched' });
      expect(done.chunks).toBeGreaterThan(150_000);
      expect((await state()).stored).toBe(done.chunks);
      expect(slowest).toBeLessThan(2000);
    } finally {
      await t.close();
    }
  }, 240_000);

  it("gives a user's documents one slot at a time, so another user's document goes before their queue", async () => {
    const t = await startTestApp({ DOCUMENT_EXTRACTION_CONCURRENCY: '2' });
    try {
      const [busy, other] = [await register(t), await register(t)];
      // Seconds of chunking each.
      const slow = Array.from({ length: 400_000 }, (_, i) => `w${i % 5000}`).join(' ');
      const queued: string[] = [];
      for (let i = 0; i < 5; i++) queued.push((await upload(t, busy.accessToken, slow, `slow-${i}.txt`)).body.id);
      const mine = (await upload(t, other.accessToken, 'Uploaded after five slow ones.', 'quick.txt')).body.id;
      const documents = t.app.get(DataSource);
      const held = async () =>
        (await documents.query(`SELECT count(*)::int AS n FROM "documents" WHERE "owner_id" = $1 AND "status" = 'processing' AND "lease_expires_at" >= now()`, [busy.id]))[0].n as number;
      await waitUntil(
        async () => {
          expect(await held()).toBeLessThanOrEqual(1);
          return (await t.http(`${API}/documents/${mine}`, { token: other.accessToken })).body.status === 'ready';
        },
        "the other user's document to be processed",
        PROCESSED_WITHIN_MS,
      );
      const waiting = await Promise.all(queued.map(async (id) => (await t.http(`${API}/documents/${id}`, { token: busy.accessToken })).body.status));
      // First come, first served across users would have processed at least four of them first.
      expect(waiting.filter((status) => status === 'processing').length).toBeGreaterThanOrEqual(3);
      for (const id of queued) {
        await processed(t, busy.accessToken, id, 120_000);
        expect(await held()).toBeLessThanOrEqual(1);
      }
    } finally {
      await t.close();
    }
  }, 240_000);
  it('leaves no extraction process behind when it stops, in the middle of an extraction', async () => {
    // No cap on the text: seconds of chunking for the large document.
    const t = await startTestApp({ DOCUMENT_MAX_TEXT_CHARS: '100000000' });
    let seen: number[] = [];
    try {
      const user = await register(t);
      const small = await upload(t, user.accessToken, 'Done before the large one.', 'small.txt');
      expect(await processed(t, user.accessToken, small.body.id)).toMatchObject({ status: 'ready' });
      // Kept for the next document.
      seen = extractionProcesses();
      expect(seen).toHaveLength(1);
      const large = await upload(t, user.accessToken, Array.from({ length: 1_600_000 }, (_, i) => `w${i % 5000}`).join(' '), 'large.txt');
      const documents = t.app.get(DataSource);
      await waitUntil(async () => (await documents.query(`SELECT "lease_expires_at" FROM "documents" WHERE "id" = $1`, [large.body.id]))[0]?.lease_expires_at, 'the large document to be claimed', PROCESSED_WITHIN_MS);
      seen.push(...extractionProcesses());
    } finally {
      await t.close();
    }
    expect(extractionProcesses()).toEqual([]);
    expect(seen.filter((pid) => alive(pid))).toEqual([]);
  }, 120_000);

  it('processes at start-up the documents a stopped instance left unprocessed', async () => {
    // The same database for both lifetimes: a folder for PGlite, a database of its own on PostgreSQL.
    const database = await createTestDatabase();
    const folder = mkdtempSync(join(tmpdir(), 'documents-restart-'));
    const env: Record<string, string> = database.url ? { DATABASE_URL: database.url } : { DATA_DIR: folder };
    try {
      const first = await startTestApp(env);
      const user = await register(first);
      const id = await storeUnprocessed(first, user.id, 'Written before the restart.');
      await first.close();

      const second = await startTestApp(env);
      try {
        const login = await second.http(`${API}/auth/login`, { method: 'POST', json: { email: user.email, password: user.password } });
        // Sooner than the periodic look for documents whose lease ran out: at start-up.
        expect(await processed(second, login.body.accessToken, id, 10_000)).toMatchObject({ status: 'ready', chunks: 1 });
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 120_000);
});
