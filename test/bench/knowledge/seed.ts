/**
 * Loads a knowledge corpus into a database migrated by the app, with set-based SQL: users,
 * conversations with their participants, private and conversation documents, and their chunks
 * (60–120 words each, sentences drawn with a Zipf-like vocabulary) with the generated tsvector
 * and the GIN index exactly as the migration makes them.
 */
import { Client } from 'pg';
import { random, sentences, vocabulary } from './corpus.js';

export interface CorpusSize {
  users: number;
  conversations: number;
  documents: number;
  chunks: number;
  /** Share of documents in a private library (the rest belong to a conversation). */
  privateShare: number;
}

export interface Corpus {
  words: string[];
  /** Users that can read at least one document, and conversations that have one: the scopes searched. */
  userIds: string[];
  conversationIds: string[];
  /** Average chunks a scope reads. */
  userScopeChunks: number;
  conversationScopeChunks: number;
  seconds: number;
}

const VOCABULARY = 20_000;
const SENTENCES = 50_000;
const SEED = 7;

/** Deterministic ids, so every table can refer to a row by its number. */
const uuid = (kind: string, number: string) => `md5('${kind}' || ${number})::uuid`;

/** Participants of each conversation: its owner and one to four others. */
function participants(size: CorpusSize, next: () => number): { conversation: number[]; user: number[]; role: string[] } {
  const rows = { conversation: [] as number[], user: [] as number[], role: [] as string[] };
  for (let c = 1; c <= size.conversations; c++) {
    const members = new Set([1 + ((c - 1) % size.users)]);
    const wanted = 2 + Math.floor(next() * 4);
    while (members.size < Math.min(wanted, size.users)) members.add(1 + Math.floor(next() * size.users));
    [...members].forEach((user, i) => {
      rows.conversation.push(c);
      rows.user.push(user);
      rows.role.push(i === 0 ? 'owner' : 'member');
    });
  }
  return rows;
}

/** Chunk counts per document, varied (a third to twice the mean) and summing to `size.chunks`. */
function chunkCounts(size: CorpusSize, next: () => number): number[] {
  const mean = size.chunks / size.documents;
  const counts = Array.from({ length: size.documents }, () => Math.max(1, Math.round(mean * (0.33 + next() * 1.67))));
  let missing = size.chunks - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; missing !== 0; i = (i + 1) % counts.length) {
    const step = Math.sign(missing);
    if (counts[i]! + step < 1) continue;
    counts[i]! += step;
    missing -= step;
  }
  return counts;
}

async function seedPeople(client: Client, size: CorpusSize, next: () => number): Promise<{ conversation: number[]; user: number[] }> {
  await client.query(
    `INSERT INTO users (id, email, display_name) SELECT ${uuid('user', 'g')}, 'kb-' || g || '@example.com', 'User ' || g FROM generate_series(1, $1::int) g`,
    [size.users],
  );
  await client.query(
    `INSERT INTO conversations (id, owner_id, title, agent_mode)
     SELECT ${uuid('conversation', 'g')}, ${uuid('user', '(1 + (g - 1) % $2::int)')}, 'Conversation ' || g, 'off'
     FROM generate_series(1, $1::int) g`,
    [size.conversations, size.users],
  );
  const rows = participants(size, next);
  await client.query(
    `INSERT INTO conversation_participants (conversation_id, user_id, role)
     SELECT ${uuid('conversation', 'c')}, ${uuid('user', 'u')}, r FROM unnest($1::int[], $2::int[], $3::text[]) AS t(c, u, r)`,
    [rows.conversation, rows.user, rows.role],
  );
  return rows;
}

async function seedDocuments(client: Client, size: CorpusSize, next: () => number, members: { conversation: number[]; user: number[] }): Promise<void> {
  const byConversation = new Map<number, number[]>();
  members.conversation.forEach((c, i) => byConversation.set(c, [...(byConversation.get(c) ?? []), members.user[i]!]));
  const owner: number[] = [];
  const conversation: (number | null)[] = [];
  for (let d = 0; d < size.documents; d++) {
    if (next() < size.privateShare) {
      owner.push(1 + Math.floor(next() * size.users));
      conversation.push(null);
    } else {
      const c = 1 + Math.floor(next() * size.conversations);
      const users = byConversation.get(c)!;
      owner.push(users[Math.floor(next() * users.length)]!);
      conversation.push(c);
    }
  }
  await client.query(
    `INSERT INTO documents (id, owner_id, conversation_id, filename, media_type, bytes, status, chunks, created_at)
     SELECT ${uuid('document', 'n')}, ${uuid('user', 'o')},
            CASE WHEN c IS NULL THEN NULL ELSE ${uuid('conversation', 'c')} END,
            'document-' || n || '.md', 'text/markdown', k * 600, 'ready', k, now() - n * interval '1 minute'
     FROM unnest($1::int[], $2::int[], $3::int[]) WITH ORDINALITY AS t(o, c, k, n)`,
    [owner, conversation, chunkCounts(size, next)],
  );
}

/** The chunks of one share of the documents: each a run of 6 to 12 random sentences (60–120 words). */
async function seedChunks(url: string, share: number, shares: number): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET synchronous_commit = off`);
    await client.query(
      `INSERT INTO document_chunks (document_id, seq, content, heading, tokens)
       SELECT d.id, s.seq, t.content, CASE WHEN s.seq % 5 = 0 THEN 'Part ' || (s.seq / 5 + 1) END, length(t.content) / 4
       FROM documents d
       CROSS JOIN LATERAL generate_series(0, d.chunks - 1) s(seq)
       CROSS JOIN LATERAL (
         SELECT string_agg(b.text, ' ' ORDER BY r.i) AS content
         FROM (SELECT i, 1 + floor(random() * $3::int)::int AS sid FROM generate_series(1, 6 + floor(random() * 7)::int + 0 * s.seq) i) r
         JOIN bench_sentences b ON b.id = r.sid
       ) t
       WHERE d.status = 'ready' AND abs(hashtext(d.id::text)) % $2::int = $1::int`,
      [share, shares, SENTENCES],
    );
  } finally {
    await client.end();
  }
}

async function scopes(client: Client): Promise<Pick<Corpus, 'userIds' | 'conversationIds' | 'userScopeChunks' | 'conversationScopeChunks'>> {
  const users = await client.query<{ id: string; chunks: string }>(
    `SELECT u.id, (SELECT coalesce(sum(d.chunks), 0) FROM documents d
                   WHERE (d.conversation_id IS NULL AND d.owner_id = u.id)
                      OR d.conversation_id IN (SELECT conversation_id FROM conversation_participants WHERE user_id = u.id)) AS chunks
     FROM users u ORDER BY u.email`,
  );
  const conversations = await client.query<{ id: string; chunks: string }>(
    `SELECT conversation_id AS id, sum(chunks) AS chunks FROM documents WHERE conversation_id IS NOT NULL GROUP BY conversation_id ORDER BY conversation_id`,
  );
  const readers = users.rows.filter((row) => Number(row.chunks) > 0);
  const mean = (rows: { chunks: string }[]) => rows.reduce((sum, row) => sum + Number(row.chunks), 0) / Math.max(1, rows.length);
  return {
    userIds: readers.map((row) => row.id),
    conversationIds: conversations.rows.map((row) => row.id),
    userScopeChunks: mean(readers),
    conversationScopeChunks: mean(conversations.rows),
  };
}

/** Fills a freshly migrated database; `parallel` connections write the chunks. */
export async function seedCorpus(url: string, size: CorpusSize, parallel: number): Promise<Corpus> {
  const started = Date.now();
  const words = vocabulary(VOCABULARY, SEED);
  const next = random(SEED);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE UNLOGGED TABLE bench_sentences (id int PRIMARY KEY, text text NOT NULL)`);
    await client.query(`INSERT INTO bench_sentences SELECT n, s FROM unnest($1::text[]) WITH ORDINALITY AS t(s, n)`, [sentences(words, SENTENCES, SEED)]);
    const members = await seedPeople(client, size, next);
    await seedDocuments(client, size, next, members);
    // Built once after the load rather than updated row by row: the same index, many times faster.
    await client.query(`DROP INDEX document_chunks_search_vector_idx`);
    await Promise.all(Array.from({ length: parallel }, (_, share) => seedChunks(url, share, parallel)));
    await client.query(`SET maintenance_work_mem = '1GB'`);
    await client.query(`CREATE INDEX document_chunks_search_vector_idx ON document_chunks USING GIN (search_vector)`);
    await client.query(`DROP TABLE bench_sentences`);
    // VACUUM too: otherwise autovacuum wakes up for the new rows in the middle of a measurement.
    await client.query('VACUUM ANALYZE');
    return { words, ...(await scopes(client)), seconds: (Date.now() - started) / 1000 };
  } finally {
    await client.end();
  }
}
