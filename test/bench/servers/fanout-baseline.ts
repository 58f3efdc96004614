/**
 * Baseline for the persisted fan-out: a minimal socket.io + pg server. Each message is one
 * transaction (UPDATE the room's seq RETURNING it, INSERT the message), then a broadcast.
 */
import { createServer } from 'node:http';
import { Pool } from 'pg';
import { Server } from 'socket.io';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
await pool.query(`CREATE TABLE IF NOT EXISTS rooms (id text PRIMARY KEY, seq int NOT NULL DEFAULT 0)`);
await pool.query(`CREATE TABLE IF NOT EXISTS msgs (room_id text NOT NULL, seq int NOT NULL, author text, content text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (room_id, seq))`);

const http = createServer((request, response) => {
  response.writeHead(request.url === '/ready' ? 200 : 404).end();
});
const io = new Server(http, { maxHttpBufferSize: 64 * 1024 });
io.on('connection', (socket) => {
  socket.on('join', async ({ rooms }: { rooms: string[] }, ack: (r: unknown) => void) => {
    for (const room of rooms) {
      await pool.query(`INSERT INTO rooms (id) VALUES ($1) ON CONFLICT DO NOTHING`, [room]);
      await socket.join(room);
    }
    ack({ ok: true });
  });
  socket.on('send', async ({ room, content }: { room: string; content: string }, ack: (r: unknown) => void) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ seq: number }>(`UPDATE rooms SET seq = seq + 1 WHERE id = $1 RETURNING seq`, [room]);
      await client.query(`INSERT INTO msgs (room_id, seq, author, content) VALUES ($1, $2, $3, $4)`, [room, rows[0]!.seq, socket.id, content]);
      await client.query('COMMIT');
      io.to(room).emit('message', { room, seq: rows[0]!.seq, content });
      ack({ ok: true, seq: rows[0]!.seq });
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      ack({ ok: false, error: String(error) });
    } finally {
      client.release();
    }
  });
});
http.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  io.close();
  void pool.end().then(() => process.exit(0));
});
