/**
 * Baseline for HTTP, history and search: bare Fastify + pg running the same SQL as the service
 * (sequence + insert in one transaction; keyset page; ranked full-text search), with no auth,
 * validation, logging or framework around it.
 */
import Fastify from 'fastify';
import { Pool } from 'pg';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });

app.get('/ready', async () => ({ ok: true }));

app.post<{ Params: { id: string }; Body: { content: string; authorId: string } }>('/conversations/:id/messages', async (request, reply) => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(
      `WITH next AS (UPDATE conversations SET last_seq = last_seq + 1, last_message_at = now(), last_activity_at = now()
         WHERE id = $1 RETURNING id, last_seq)
       INSERT INTO messages (conversation_id, seq, role, author_id, content) SELECT next.id, next.last_seq, 'user', $2, $3 FROM next
       RETURNING id, seq, content, created_at`,
      [request.params.id, request.body.authorId, request.body.content],
    );
    await client.query('COMMIT');
    return reply.status(201).send({ message: rows[0] });
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
});

app.get<{ Params: { id: string }; Querystring: { limit?: string; beforeSeq?: string } }>('/conversations/:id/messages', async (request) => {
  const limit = Number(request.query.limit ?? 50);
  const { rows } = await pool.query(
    `SELECT id, conversation_id, seq, role, author_id, content, status, created_at FROM messages
     WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
    [request.params.id, Number(request.query.beforeSeq ?? 2_147_483_647), limit + 1],
  );
  return { items: rows.slice(0, limit).toReversed(), hasMore: rows.length > limit };
});

app.get<{ Querystring: { q: string; userId: string } }>('/search', async (request) => {
  const { rows } = await pool.query(
    `SELECT m.id, m.content, ts_rank_cd(m.search_vector, q) AS rank FROM messages m
     JOIN conversation_participants p ON p.conversation_id = m.conversation_id AND p.user_id = $1,
     websearch_to_tsquery('english', $2) q
     WHERE m.search_vector @@ q ORDER BY rank DESC LIMIT 20`,
    [request.query.userId, request.query.q],
  );
  return { items: rows };
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => pool.end()).then(() => process.exit(0)));
