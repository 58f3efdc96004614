/**
 * Baseline for HTTP, history and search: bare Fastify + pg running the same SQL as the service
 * (the one-statement append; keyset page of the same columns; ranked full-text search
 * with highlighted snippets), with no auth, validation, logging or framework around it.
 */
import Fastify from 'fastify';
import { Pool } from 'pg';

const COLUMNS = 'id, conversation_id, seq, role, author_id, content, status, client_message_id, run_id, metadata, created_at, edited_at, deleted_at';
const M_COLUMNS = COLUMNS.split(', ').map((name) => `m.${name}`).join(', ');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });

app.get('/ready', async () => ({ ok: true }));

// The service's append: one statement (seq, insert, the author's read marker), atomic on its own.
app.post<{ Params: { id: string }; Body: { content: string; authorId: string } }>('/conversations/:id/messages', async (request, reply) => {
  const { rows } = await pool.query(
    `WITH next AS (
       UPDATE conversations SET last_seq = last_seq + 1, last_message_at = now(), last_activity_at = now()
       WHERE id = $1 AND deleted_at IS NULL RETURNING id, last_seq
     ), inserted AS (
       INSERT INTO messages (conversation_id, seq, role, author_id, content, status, client_message_id, run_id, metadata)
       SELECT next.id, next.last_seq, 'user', $2, $3, 'complete', NULL, NULL, '{}' FROM next
       RETURNING ${COLUMNS}
     ), marker AS (
       UPDATE conversation_participants p SET last_read_seq = inserted.seq FROM inserted
       WHERE p.conversation_id = inserted.conversation_id AND p.user_id = inserted.author_id AND p.last_read_seq < inserted.seq
     )
     SELECT * FROM inserted`,
    [request.params.id, request.body.authorId, request.body.content],
  );
  return reply.status(201).send({ message: rows[0], run: null });
});

app.get<{ Params: { id: string }; Querystring: { limit?: string; beforeSeq?: string } }>('/conversations/:id/messages', async (request) => {
  const limit = Number(request.query.limit ?? 50);
  const { rows } = await pool.query(
    `SELECT ${COLUMNS} FROM messages
     WHERE conversation_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq DESC LIMIT $4`,
    [request.params.id, 0, Number(request.query.beforeSeq ?? 2_147_483_647), limit + 1],
  );
  return { items: rows.slice(0, limit).toReversed(), hasMore: rows.length > limit };
});

app.get<{ Querystring: { q: string; userId: string } }>('/search', async (request) => {
  const { rows } = await pool.query(
    `SELECT hit.*, ts_headline('english', hit.content, websearch_to_tsquery('english', $2), $3) AS snippet
     FROM (
       SELECT ${M_COLUMNS}, c.title AS conversation_title, ts_rank_cd(m.search_vector, websearch_to_tsquery('english', $2)) AS rank
       FROM messages m
       JOIN conversation_participants p ON p.conversation_id = m.conversation_id AND p.user_id = $1
       JOIN conversations c ON c.id = m.conversation_id AND c.deleted_at IS NULL
       WHERE m.search_vector @@ websearch_to_tsquery('english', $2) AND m.deleted_at IS NULL
       ORDER BY rank DESC, m.created_at DESC
       LIMIT 20
     ) hit
     ORDER BY hit.rank DESC, hit.created_at DESC`,
    [request.query.userId, request.query.q, 'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=10, MaxFragments=2'],
  );
  return { items: rows };
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => pool.end()).then(() => process.exit(0)));
