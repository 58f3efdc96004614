/**
 * Baseline for uploads: bare Fastify + @fastify/multipart streaming the file into the same tables
 * as the service (a documents row, the bytes in parts of the same size in document_contents) in
 * one transaction, and nothing else: no auth, no type sniffing, no extraction, no chunks.
 */
import multipart from '@fastify/multipart';
import Fastify from 'fastify';
import { Pool } from 'pg';
import { DOCUMENT_PART_BYTES } from '../../../src/documents/document-storage.js';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });
await app.register(multipart);

app.get('/ready', async () => ({ ok: true }));

app.post<{ Querystring: { ownerId: string } }>('/documents', async (request, reply) => {
  const file = await request.file({ limits: { fileSize: 10 * 1024 * 1024 } });
  if (!file) return reply.status(400).send({ error: 'file is required' });
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO documents (owner_id, filename, media_type, bytes, status) VALUES ($1, $2, 'application/octet-stream', 0, 'ready') RETURNING id`,
      [request.query.ownerId, file.filename],
    );
    const id = rows[0]!.id;
    let part = 0;
    let bytes = 0;
    const write = (data: Buffer) => client.query(`INSERT INTO document_contents (document_id, part, data) VALUES ($1, $2, $3)`, [id, part++, data]);
    let pending = Buffer.alloc(0);
    for await (const chunk of file.file as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      pending = Buffer.concat([pending, chunk]);
      for (; pending.length >= DOCUMENT_PART_BYTES; pending = pending.subarray(DOCUMENT_PART_BYTES)) await write(pending.subarray(0, DOCUMENT_PART_BYTES));
    }
    if (pending.length || part === 0) await write(pending);
    await client.query(`UPDATE documents SET bytes = $2 WHERE id = $1`, [id, bytes]);
    await client.query('COMMIT');
    return reply.status(201).send({ id, bytes });
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => pool.end()).then(() => process.exit(0)));
