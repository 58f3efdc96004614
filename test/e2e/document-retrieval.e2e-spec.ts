import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DocumentChunksRepository, type SearchScope } from '../../src/documents/document-chunks.repository.js';
import { DocumentSearchService } from '../../src/documents/document-search.service.js';
import { EmbeddingWorker } from '../../src/documents/embeddings/embedding-worker.service.js';
import { EmbeddingsRepository } from '../../src/documents/embeddings/embeddings.repository.js';
import { FakeOpenAI, fakeEmbedding } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { createTestDatabase, testDatabaseServerUrl, type TestDatabase } from '../support/database.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';
const MODEL = 'fake-embedding-1';
const KEY = 'sk-embedding-secret-7f3a9c';
const MARKS = { start: '<b>', stop: '</b>' };
/** Embedding, claiming and retrying take several round trips each. */
const DEADLINE_MS = 20_000;

/** Embedded PGlite always has pgvector; a PostgreSQL server has it only if it was installed. */
async function serverHasPgvector(): Promise<boolean> {
  const url = testDatabaseServerUrl();
  if (!url) return true;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'vector'`)).rowCount === 1;
  } finally {
    await client.end();
  }
}

const vectors = await serverHasPgvector();

interface LogLine {
  level: number;
  msg: string;
}

function captureLogs() {
  const raw: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void raw.push(line) });
  return {
    logger,
    raw,
    lines: (): LogLine[] => raw.map((line) => JSON.parse(line) as LogLine),
    warnings: (pattern: RegExp) => raw.map((line) => JSON.parse(line) as LogLine).filter((line) => line.level === 40 && pattern.test(line.msg)),
  };
}

function embeddingEnv(fake: FakeOpenAI, extra: Record<string, string> = {}): Record<string, string> {
  return {
    EMBEDDING_MODEL: MODEL,
    EMBEDDING_BASE_URL: fake.url,
    EMBEDDING_API_KEY: KEY,
    EMBEDDING_BATCH_SIZE: '3',
    EMBEDDING_RETRY_BASE_MS: '20',
    EMBEDDING_MAX_RETRIES: '0',
    EMBEDDING_TIMEOUT_MS: '2000',
    EMBEDDING_QUERY_TIMEOUT_MS: '300',
    ...extra,
  };
}

/** A Markdown document of one section per passage: each becomes a chunk of its own. */
function sections(...passages: string[]): string {
  return passages.map((passage, index) => `# Part ${index + 1}\n\n${passage}\n`).join('\n');
}

async function upload(t: TestApp, user: Registered, text: string, filename: string, conversationId?: string): Promise<string> {
  const form = new FormData();
  if (conversationId) form.append('conversationId', conversationId);
  form.append('file', new Blob([text]), filename);
  const created = await t.http(`${API}/documents`, { method: 'POST', token: user.accessToken, body: form });
  expect(created.status).toBe(201);
  await waitUntil(async () => (await t.http(`${API}/documents/${created.body.id}`, { token: user.accessToken })).body.status === 'ready', `${filename} to be ready`, DEADLINE_MS);
  return created.body.id as string;
}

function allEmbedded(t: TestApp, model = MODEL, dimensions?: number): Promise<boolean> {
  const embeddings = t.app.get(EmbeddingsRepository);
  return waitUntil(async () => (await embeddings.countMissing(model, dimensions)) === 0, `every chunk to be embedded by ${model}`, DEADLINE_MS);
}

async function conversationWith(t: TestApp, owner: Registered, member: Registered): Promise<string> {
  const created = await t.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { title: 'Shared', participantIds: [member.id], agent: { mode: 'off' } } });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

describe.runIf(vectors)('document retrieval with embeddings (pgvector)', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  const logs = captureLogs();
  let search: (scope: SearchScope, query: string, limit?: number) => ReturnType<DocumentSearchService['search']>;

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp(embeddingEnv(fake), { logger: logs.logger });
    search = (scope, query, limit = 10) => t.app.get(DocumentSearchService).search(scope, query, { limit, marks: MARKS });
  });
  afterEach(() => {
    fake.embeddings.behaviour = { kind: 'ok' };
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('finds a passage by meaning that full-text search misses', async () => {
    const user = await register(t);
    const id = await upload(t, user, sections('The physician examined the patient in the morning.', 'Boats were moored in the harbour all winter.'), 'clinic.md');
    await allEmbedded(t);
    expect(await t.app.get(DocumentChunksRepository).searchText({ userId: user.id }, 'doctor', 10, MARKS)).toEqual([]);

    const hits = await search({ userId: user.id }, 'doctor');
    expect(hits[0]).toMatchObject({ documentId: id, title: 'clinic.md', chunk: 0, heading: 'Part 1', content: 'Part 1 The physician examined the patient in the morning.' });
    // Found by meaning alone: no word to mark, the passage from its start; ranked first of one list.
    expect(hits[0]!.snippet).toBe('Part 1 The physician examined the patient in the morning.');
    expect(hits[0]!.score).toBeCloseTo(1 / 61, 10);
    // The query's words are still marked where a passage has them.
    const either = await search({ userId: user.id }, 'winter doctor');
    expect(either.find((hit) => hit.chunk === 1)!.snippet).toContain('<b>winter</b>');
  });

  it('fuses the full-text and the similarity rankings by reciprocal rank (k = 60)', async () => {
    const user = await register(t);
    await upload(
      t,
      user,
      sections(
        'Physician, medic, doctor.',
        'Doctor, doctor, doctor, doctor: appointments, fees, parking, forms, queues, waiting rooms, receptions, letters, stamps, invoices, chairs, lamps, desks, clocks, coats, umbrellas, tickets, badges, pens, folders, calendars, phones, screens.',
        'A physician, a physician.',
        'Sails, ropes and anchors.',
      ),
      'fusion.md',
    );
    await allEmbedded(t);
    const scope = { userId: user.id };
    const text = await t.app.get(DocumentChunksRepository).searchText(scope, 'doctor', 50, MARKS);
    const support = t.app.get(EmbeddingWorker).vectors!;
    const query = fakeEmbedding('doctor', MODEL, fake.embeddings.dimensions);
    const similar = await t.app.get(EmbeddingsRepository).searchSimilar(scope, MODEL, { text: 'doctor', embedding: query }, 50, MARKS, support);
    const expected = new Map<string, number>();
    for (const list of [text, similar]) list.forEach((hit, index) => expected.set(hit.chunkId, (expected.get(hit.chunkId) ?? 0) + 1 / (60 + index + 1)));
    const ranked = [...expected].sort((a, b) => b[1] - a[1]);

    const hits = await search(scope, 'doctor', 4);
    expect(hits.map((hit) => hit.chunkId)).toEqual(ranked.slice(0, 4).map(([chunkId]) => chunkId));
    hits.forEach((hit, index) => expect(hit.score).toBeCloseTo(ranked[index]![1], 12));
    // Each list alone would order them otherwise: the fusion is what decides.
    expect(text.map((hit) => hit.seq)).toEqual([1, 0]);
    expect(similar.map((hit) => hit.seq)).toEqual([0, 2, 1, 3]);
    expect(hits.map((hit) => hit.chunk)).toEqual([0, 1, 2, 3]);
    // A passage in both lists keeps its marked full-text snippet.
    expect(hits.find((hit) => hit.chunk === 1)!.snippet).toContain('<b>Doctor</b>');
  });

  it('returns exactly the passages in scope: own library, shared conversations, never anyone else’s', async () => {
    const [a, b, outsider] = await Promise.all([register(t), register(t), register(t)]);
    const conversationId = await conversationWith(t, a, b);
    const aPrivate = await upload(t, a, sections('A physician in the library of a.'), 'a.md');
    const bPrivate = await upload(t, b, sections('A physician in the library of b.'), 'b.md');
    const shared = await upload(t, b, sections('A physician in the shared conversation.', 'Another physician there.'), 'shared.md', conversationId);
    // Many passages nearer to the query, all out of scope: an index scan filtered afterwards would lose the ones in scope.
    const crowd = await upload(t, outsider, sections(...Array.from({ length: 40 }, (_, i) => `Doctor physician medic ${i}.`)), 'crowd.md');
    await allEmbedded(t);

    const documentsOf = async (scope: SearchScope, limit: number) => (await search(scope, 'doctor', limit)).map((hit) => hit.documentId);
    expect((await documentsOf({ userId: a.id }, 50)).sort()).toEqual([aPrivate, shared, shared].sort());
    expect((await documentsOf({ userId: b.id }, 50)).sort()).toEqual([bPrivate, shared, shared].sort());
    expect(await documentsOf({ conversationId }, 50)).toEqual([shared, shared]);
    expect(await documentsOf({ userId: outsider.id }, 50)).toEqual(Array(40).fill(crowd));
    for (const limit of [1, 2]) expect(await documentsOf({ userId: a.id }, limit)).toHaveLength(limit);
    expect((await documentsOf({ userId: a.id }, 3)).sort()).toEqual([aPrivate, shared, shared].sort());
  });

  it('walks the similarity index past passages out of scope, and misses none in scope', async () => {
    const [a, outsider] = await Promise.all([register(t), register(t)]);
    const mine = await upload(t, a, sections('Sails and ropes.'), 'mine.md');
    const crowd = await upload(t, outsider, sections('The crowd.'), 'crowd.md');
    await allEmbedded(t);
    // Thousands of passages with their embeddings (in one statement, so there is nothing for the
    // worker to do): a's all some way from the query, the outsider's all right on it, so that the
    // first thousands of candidates of the index are out of a's scope.
    const dataSource = t.app.get(DataSource);
    const dimensions = fake.embeddings.dimensions;
    const query = fakeEmbedding('doctor', MODEL, dimensions);
    const axis = query.indexOf(1);
    const insert = (documentId: string, embedding: string) =>
      dataSource.query(
        `WITH chunks AS (
           INSERT INTO document_chunks (document_id, seq, content, tokens) SELECT $1, g, 'passage ' || g, 2 FROM generate_series(1, 2000) g RETURNING id, seq
         )
         INSERT INTO document_chunk_embeddings (chunk_id, model, embedding) SELECT id, $2, (${embedding})::vector FROM chunks`,
        embedding === '$3' ? [documentId, MODEL, `[${query.join(',')}]`] : [documentId, MODEL],
      );
    // One-hot on axis seq mod dimensions, and on the query's axis a little too (never orthogonal, so the order is defined).
    await insert(mine, `'[' || array_to_string(array(SELECT CASE WHEN i = seq % ${dimensions} THEN 1 WHEN i = ${axis} THEN 0.1 ELSE 0 END FROM generate_series(0, ${dimensions - 1}) i), ',') || ']'`);
    await insert(crowd, '$3');
    await dataSource.query('ANALYZE document_chunk_embeddings');
    const scans = async () => {
      const [row] = await dataSource.query(`SELECT coalesce(sum(idx_scan), 0)::int AS scans FROM pg_stat_user_indexes WHERE indexrelname = $1`, [`document_chunk_embeddings_${dimensions}_idx`]);
      return row.scans as number;
    };
    // At this size sorting the scope is cheaper than the index; a large library tips the planner the
    // other way. Without sorting it has to walk the index (PGlite: one session, which the app shares).
    const embedded = !testDatabaseServerUrl();
    if (embedded) await dataSource.query('SET enable_sort = off');
    const before = await scans();
    const hits = await search({ userId: a.id }, 'doctor', 10).finally(() => embedded && dataSource.query('RESET enable_sort'));
    // Statistics reach the view once the backend flushes them.
    if (embedded) await waitUntil(async () => (await scans()) > before, 'the index scan to be counted');
    expect(hits).toHaveLength(10);
    expect(hits.every((hit) => hit.documentId === mine)).toBe(true);
    // Nearest first: the passages on the query's own axis (seq = axis mod dimensions).
    expect(hits.slice(0, 7).every((hit) => hit.chunk % dimensions === axis)).toBe(true);
  });

  it('searches by full-text while the endpoint is down, and embeds what was missed once it is back', async () => {
    const user = await register(t);
    fake.embeddings.behaviour = { kind: 'status', status: 503 };
    const before = fake.embeddings.requests.length;
    const id = await upload(t, user, sections('The physician wrote a prescription.'), 'down.md');
    // The worker keeps trying, with a growing wait.
    await waitUntil(() => fake.embeddings.requests.length >= before + 3, 'the worker to retry', DEADLINE_MS);
    expect(await t.app.get(EmbeddingsRepository).countMissing(MODEL, undefined)).toBe(1);
    expect(logs.warnings(/Embedding document chunks failed \(HTTP 503/).length).toBeGreaterThan(0);

    const hits = await search({ userId: user.id }, 'prescription');
    expect(hits).toEqual([expect.objectContaining({ documentId: id, snippet: expect.stringContaining('<b>prescription</b>') })]);
    expect(await search({ userId: user.id }, 'doctor')).toEqual([]);
    expect(logs.warnings(/Cannot embed search queries/).length).toBe(1);
    await search({ userId: user.id }, 'doctor');
    expect(logs.warnings(/Cannot embed search queries/).length).toBe(1);

    fake.embeddings.behaviour = { kind: 'ok' };
    await allEmbedded(t);
    expect(await search({ userId: user.id }, 'doctor')).toEqual([expect.objectContaining({ documentId: id })]);
    expect(logs.lines().some((line) => line.msg === 'Search queries are embedded again')).toBe(true);
  });

  it('answers by full-text search when embedding the query is slow', async () => {
    const user = await register(t);
    const id = await upload(t, user, sections('The physician wrote a long letter.'), 'slow.md');
    await allEmbedded(t);
    fake.embeddings.behaviour = { kind: 'slow', delayMs: 5000 };
    const started = Date.now();
    const hits = await search({ userId: user.id }, 'letter');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(hits).toEqual([expect.objectContaining({ documentId: id, snippet: expect.stringContaining('<b>letter</b>') })]);
  });

  it('leaves a chunk the endpoint refuses to full-text search and embeds the rest of its batch', async () => {
    const user = await register(t);
    fake.embeddings.refuse = (input) => input.includes('poison');
    const id = await upload(t, user, sections('A physician came.', 'This poison passage is refused.', 'A medic went.'), 'refused.md');
    await allEmbedded(t);
    const rows: { seq: number; embedded: boolean }[] = await t.app.get(DataSource).query(
      `SELECT ch.seq, e.embedding IS NOT NULL AS embedded FROM document_chunks ch JOIN document_chunk_embeddings e ON e.chunk_id = ch.id WHERE ch.document_id = $1 ORDER BY ch.seq`,
      [id],
    );
    expect(rows).toEqual([{ seq: 0, embedded: true }, { seq: 1, embedded: false }, { seq: 2, embedded: true }]);
    expect((await search({ userId: user.id }, 'poison'))[0]).toMatchObject({ chunk: 1 });
    expect(logs.warnings(/refuses chunk/)).toHaveLength(1);
    fake.embeddings.refuse = undefined;
  });

  it('sends the API key to the endpoint only, never to the logs, even when the endpoint echoes it', async () => {
    const user = await register(t);
    fake.embeddings.behaviour = { kind: 'status', status: 401, body: JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error' } }) };
    const before = logs.raw.length;
    await upload(t, user, sections('The physician signed.'), 'key.md');
    await waitUntil(() => logs.warnings(/HTTP 401/).length > 0, 'the failure to be logged', DEADLINE_MS);
    await search({ userId: user.id }, 'doctor');
    expect(logs.raw.slice(before).join('\n')).toContain('[redacted]');
    fake.embeddings.behaviour = { kind: 'ok' };
    await allEmbedded(t);
    expect(fake.embeddings.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(logs.raw.length).toBeGreaterThan(0);
    expect(logs.raw.join('\n')).not.toContain(KEY);
  });

  it('drops the embeddings of a deleted document with its chunks', async () => {
    const user = await register(t);
    const id = await upload(t, user, sections('The physician left.'), 'deleted.md');
    await allEmbedded(t);
    expect((await t.http(`${API}/documents/${id}`, { method: 'DELETE', token: user.accessToken })).status).toBe(204);
    const [row] = await t.app.get(DataSource).query(
      `SELECT count(*)::int AS count FROM document_chunk_embeddings e LEFT JOIN document_chunks ch ON ch.id = e.chunk_id WHERE ch.id IS NULL`,
    );
    expect(row.count).toBe(0);
    expect(await search({ userId: user.id }, 'doctor')).toEqual([]);
  });
});

describe.runIf(vectors)('embeddings across restarts', () => {
  let fake: FakeOpenAI;
  let database: TestDatabase;
  let dataDir: string;
  /** The same database for every app of this block: a directory for PGlite, a URL for PostgreSQL. */
  let shared: Record<string, string>;

  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    database = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'agentchat-retrieval-'));
    shared = database.url ? { DATABASE_URL: database.url } : { DATA_DIR: dataDir };
  });
  afterAll(async () => {
    await fake?.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('embeds at start-up what an earlier run could not, and everything again after a model change', async () => {
    fake.embeddings.behaviour = { kind: 'status', status: 500 };
    const first = await startTestApp({ ...shared, ...embeddingEnv(fake) });
    const user = await register(first);
    await upload(first, user, sections('The physician examined the patient.', 'Ships crossed the ocean.', 'They bought a car.'), 'restart.md');
    await waitUntil(() => fake.embeddings.requests.length > 0, 'an attempt to embed', DEADLINE_MS);
    await first.close();

    fake.embeddings.behaviour = { kind: 'ok' };
    const second = await startTestApp({ ...shared, ...embeddingEnv(fake) });
    try {
      await allEmbedded(second);
      expect((await second.app.get(DocumentSearchService).search({ userId: user.id }, 'automobile purchase', { limit: 1 }))[0]).toMatchObject({ chunk: 2 });
    } finally {
      await second.close();
    }

    const before = fake.embeddings.requests.length;
    const third = await startTestApp({ ...shared, ...embeddingEnv(fake, { EMBEDDING_MODEL: 'fake-embedding-2', EMBEDDING_DIMENSIONS: '64' }) });
    try {
      await allEmbedded(third, 'fake-embedding-2', 64);
      const requests = fake.embeddings.requests.slice(before);
      expect(requests.every((request) => request.body.model === 'fake-embedding-2' && request.body.dimensions === 64)).toBe(true);
      const rows: { model: string; dimensions: number }[] = await third.app.get(DataSource).query(
        `SELECT DISTINCT model, vector_dims(embedding) AS dimensions FROM document_chunk_embeddings`,
      );
      expect(rows).toEqual([{ model: 'fake-embedding-2', dimensions: 64 }]);
      const [index] = await third.app.get(DataSource).query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'document_chunk_embeddings_64_idx'`);
      expect(index.indexdef).toMatch(/USING hnsw \(\(\(embedding\)::vector\(64\)\) vector_cosine_ops\) WHERE \(vector_dims\(embedding\) = 64\)/);
      expect((await third.app.get(DocumentSearchService).search({ userId: user.id }, 'marine', { limit: 1 }))[0]).toMatchObject({ chunk: 1 });
    } finally {
      await third.close();
    }
  });
  it('keeps every chunk while the endpoint refuses everything from the start (a wrong model name)', async () => {
    fake.embeddings.refuse = () => true;
    const t = await startTestApp(embeddingEnv(fake, { EMBEDDING_MODEL: 'no-such-model' }));
    try {
      const user = await register(t);
      const before = fake.embeddings.requests.length;
      await upload(t, user, sections('One physician.', 'Two medics.'), 'refused.md');
      await waitUntil(() => fake.embeddings.requests.length >= before + 6, 'several refused attempts', DEADLINE_MS);
      expect(await t.app.get(EmbeddingsRepository).countMissing('no-such-model', undefined)).toBe(2);
      fake.embeddings.refuse = undefined;
      await allEmbedded(t, 'no-such-model');
    } finally {
      fake.embeddings.refuse = undefined;
      await t.close();
    }
  });
});

describe.runIf(vectors)('embedding claims', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    // No EMBEDDING_MODEL: full-text search alone, and no worker to compete for the claims below.
    t = await startTestApp({ OPENAI_BASE_URL: fake.url });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('without a model, search is full-text search alone and nothing is embedded', async () => {
    const user = await register(t);
    await upload(t, user, sections('The physician examined the patient.'), 'plain.md');
    expect(await t.app.get(DocumentSearchService).search({ userId: user.id }, 'doctor', { limit: 5 })).toEqual([]);
    expect(await t.app.get(DocumentSearchService).search({ userId: user.id }, 'physician', { limit: 5 })).toHaveLength(1);
    expect(fake.embeddings.requests).toEqual([]);
  });

  it('are exclusive between concurrent claimers, expire, and can be given back', async () => {
    const user = await register(t);
    await upload(t, user, sections('One.', 'Two.', 'Three.', 'Four.', 'Five.', 'Six.'), 'claims.md');
    const embeddings = t.app.get(EmbeddingsRepository);
    const missing = await embeddings.countMissing('m', undefined);
    expect(missing).toBeGreaterThanOrEqual(6);
    const [one, two] = await Promise.all([embeddings.claim('m', undefined, missing, 60_000), embeddings.claim('m', undefined, missing, 60_000)]);
    const ids = [...one, ...two].map((chunk) => chunk.chunkId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(missing);
    expect(await embeddings.claim('m', undefined, missing, 60_000)).toEqual([]);

    const claimed = one.length > 0 ? one : two;
    await embeddings.release(claimed.map((chunk) => chunk.chunkId));
    expect((await embeddings.claim('m', undefined, missing, 1)).map((chunk) => chunk.chunkId).sort()).toEqual(claimed.map((chunk) => chunk.chunkId).sort());
    // Claimed for 1 ms: expired by now, so claimable again.
    await waitUntil(async () => (await embeddings.claim('m', undefined, missing, 60_000)).length === claimed.length, 'the short claims to expire');
    await embeddings.store('m', ids.map((chunkId) => ({ chunkId, embedding: [1, 0, 0] })));
    expect(await embeddings.countMissing('m', undefined)).toBe(missing - ids.length);
  });
});

describe.runIf(!vectors)('document retrieval without pgvector', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  const logs = captureLogs();
  beforeAll(async () => {
    fake = await new FakeOpenAI().start();
    t = await startTestApp(embeddingEnv(fake), { logger: logs.logger });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('warns once at start-up and searches by full-text search alone', async () => {
    expect(logs.warnings(/EMBEDDING_MODEL is set, but the database has no pgvector extension/)).toHaveLength(1);
    expect(t.app.get(EmbeddingWorker).vectors).toBeUndefined();
    const user = await register(t);
    const id = await upload(t, user, sections('The physician wrote a prescription.'), 'plain.md');
    const hits = await t.app.get(DocumentSearchService).search({ userId: user.id }, 'prescription', { limit: 5, marks: MARKS });
    expect(hits).toEqual([expect.objectContaining({ documentId: id, snippet: expect.stringContaining('<b>prescription</b>') })]);
    expect(await t.app.get(DocumentSearchService).search({ userId: user.id }, 'doctor', { limit: 5 })).toEqual([]);
    expect(fake.embeddings.requests).toEqual([]);
    expect(logs.raw.join('\n')).not.toContain(KEY);
  });
});
