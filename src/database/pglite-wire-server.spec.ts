import { createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import * as fc from 'fast-check';
import { Client, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PGliteWireServer } from './pglite-wire-server.js';

describe('PGliteWireServer', () => {
  let db: PGlite;
  let server: PGliteWireServer;
  let url: string;

  beforeAll(async () => {
    db = await PGlite.create();
    server = new PGliteWireServer(db);
    url = `postgres://postgres@${await server.listen({ host: '127.0.0.1', port: 0 })}/postgres`;
    await db.exec('CREATE TABLE items (id serial PRIMARY KEY, owner text NOT NULL, n int NOT NULL)');
  });
  afterAll(async () => {
    await server.close();
    await db.close();
  });

  it('keeps extended-protocol queries of concurrent clients apart', async () => {
    const pool = new Pool({ connectionString: url, max: 10 });
    try {
      const results = await Promise.all(
        Array.from({ length: 400 }, (_, i) => pool.query<{ echo: number; label: string }>('SELECT $1::int AS echo, $2::text AS label', [i, `q${i}`])),
      );
      results.forEach((result, i) => expect(result.rows).toEqual([{ echo: i, label: `q${i}` }]));
    } finally {
      await pool.end();
    }
  });

  it('gives a transaction the session until it ends, so others never see or join it half-done', async () => {
    const a = new Client({ connectionString: url });
    const b = new Client({ connectionString: url });
    await a.connect();
    await b.connect();
    try {
      await a.query('BEGIN');
      await a.query('INSERT INTO items (owner, n) VALUES ($1, $2)', ['a', 1]);
      const seenByB = b.query<{ count: string }>('SELECT count(*) FROM items WHERE owner = $1', ['a']);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await a.query('INSERT INTO items (owner, n) VALUES ($1, $2)', ['a', 2]);
      await a.query('ROLLBACK');
      expect((await seenByB).rows[0]!.count).toBe('0');
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('rolls back the transaction of a client that disconnects in the middle of it', async () => {
    const a = new Client({ connectionString: url });
    await a.connect();
    a.on('error', () => undefined);
    await a.query('BEGIN');
    await a.query('INSERT INTO items (owner, n) VALUES ($1, $2)', ['vanished', 1]);
    (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();

    const b = new Client({ connectionString: url });
    await b.connect();
    try {
      const { rows } = await b.query<{ count: string }>('SELECT count(*) FROM items WHERE owner = $1', ['vanished']);
      expect(rows[0]!.count).toBe('0');
      expect(db.isInTransaction()).toBe(false);
    } finally {
      await b.end();
    }
  });

  it('reports errors to the client that caused them and keeps serving', async () => {
    const pool = new Pool({ connectionString: url, max: 4 });
    try {
      const outcomes = await Promise.allSettled([
        pool.query('SELECT 1/0'),
        pool.query('SELECT $1::int AS ok', [7]),
        pool.query('SELECT * FROM missing_table'),
        pool.query('SELECT $1::int AS ok', [8]),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled']);
      expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    } finally {
      await pool.end();
    }
  });

  describe('prepared statements', () => {
    const prepared = async () =>
      ((await db.query<{ name: string }>(`SELECT name FROM pg_prepared_statements ORDER BY name`)).rows).map((row) => row.name);

    it("keeps each connection's apart: the same name on many connections, with other texts, run concurrently", async () => {
      const pool = new Pool({ connectionString: url, max: 6 });
      try {
        // Each client prepares `echo` for its own text (its number in the pool's order) and runs it by name many times.
        const clients = await Promise.all(Array.from({ length: 6 }, () => pool.connect()));
        await Promise.all(
          clients.map(async (client, index) => {
            for (let i = 0; i < 30; i++) {
              const { rows } = await client.query({ name: 'echo', text: `SELECT $1::int + ${index * 1000} AS n`, values: [i] });
              expect(rows).toEqual([{ n: i + index * 1000 }]);
            }
          }),
        );
        // Six statements in the session, one per connection, each under its connection's name for it.
        expect(new Set((await prepared()).map((name) => name.split('/')[0])).size).toBe(6);
        expect(await prepared()).toHaveLength(6);
        for (const client of clients) client.release(true);
      } finally {
        await pool.end();
      }
      // Closed with their connections: none left in the shared session.
      await vi.waitFor(async () => expect(await prepared()).toEqual([]));
    });

    it('renames whatever bytes a name holds, and answers errors of named statements to their client', async () => {
      await fc.assert(
        // Prefixed: the pg client keeps its statements by name in a plain object (`valueOf` would clash there).
        fc.asyncProperty(fc.string({ minLength: 1, maxLength: 80, unit: 'binary' }).filter((name) => !name.includes('\0')).map((name) => `s${name}`), async (name) => {
          const client = new Client({ connectionString: url });
          await client.connect();
          try {
            expect((await client.query({ name, text: 'SELECT $1::text AS name', values: [name] })).rows).toEqual([{ name }]);
            // PostgreSQL cuts names at 63 bytes: two that differ only further on are still two statements here.
            const longer = `${name.padEnd(70, '-')}+`;
            expect((await client.query({ name: `${longer}1`, text: 'SELECT 1 AS n', values: [] })).rows).toEqual([{ n: 1 }]);
            expect((await client.query({ name: `${longer}2`, text: 'SELECT 2 AS n', values: [] })).rows).toEqual([{ n: 2 }]);
            expect((await client.query({ name, text: 'SELECT $1::text AS name', values: ['again'] })).rows).toEqual([{ name: 'again' }]);
            await expect(client.query({ name: `${name}!`, text: 'SELECT 1/$1::int', values: [0] })).rejects.toThrow(/division by zero/);
            expect((await client.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
          } finally {
            await client.end();
          }
        }),
        { numRuns: 30 },
      );
      await vi.waitFor(async () => expect(await prepared()).toEqual([]));
    });
  });

  describe('large results under backpressure', () => {
    /** Rows of 1 KB to 4 MB, made by PostgreSQL itself from a seed, so the test knows what each must hold. */
    const ROWS = Array.from({ length: 24 }, (_, id) => ({ id, bytes: id % 6 === 5 ? 4_000_000 : 1_000 + ((id * 7919) % 700_000) }));
    const expected = new Map<number, string>();

    beforeAll(async () => {
      await db.exec('CREATE TABLE blobs (id int PRIMARY KEY, body text NOT NULL)');
      for (const { id, bytes } of ROWS) {
        await db.query(`INSERT INTO blobs (id, body) SELECT $1::int, left(repeat(md5($1::int::text), ceil($2::int / 32.0)::int), $2::int)`, [id, bytes]);
        const { rows } = await db.query<{ digest: string }>('SELECT md5(body) AS digest FROM blobs WHERE id = $1', [id]);
        expected.set(id, rows[0]!.digest);
      }
    });

    const digest = (text: string) => createHash('md5').update(text).digest('hex');

    it('delivers every byte of multi-megabyte pages to many concurrent readers, some of them slow', async () => {
      const pool = new Pool({ connectionString: url, max: 10 });
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.record({ from: fc.nat({ max: ROWS.length - 1 }), count: fc.integer({ min: 1, max: 8 }), slowMs: fc.constantFrom(0, 0, 20, 80) }), {
              minLength: 4,
              maxLength: 16,
            }),
            async (reads) => {
              await Promise.all(
                reads.map(async ({ from, count, slowMs }) => {
                  const client = await pool.connect();
                  try {
                    const socket = (client as unknown as { connection: { stream: NodeJS.ReadableStream } }).connection.stream;
                    // A reader that stops reading for a while: the server's writes queue up in Node.
                    if (slowMs) {
                      socket.pause();
                      setTimeout(() => socket.resume(), slowMs);
                    }
                    const { rows } = await client.query<{ id: number; body: string }>(
                      'SELECT id, body FROM blobs WHERE id >= $1 ORDER BY id LIMIT $2',
                      [from, count],
                    );
                    expect(rows.map((row) => row.id)).toEqual(ROWS.slice(from, from + count).map((row) => row.id));
                    for (const row of rows) expect(digest(row.body)).toBe(expected.get(row.id));
                  } finally {
                    client.release();
                  }
                }),
              );
            },
          ),
          { numRuns: 12, seed: 20_261_201 },
        );
        // Still serving, nothing left half-read.
        expect((await pool.query('SELECT count(*)::int AS n FROM blobs')).rows).toEqual([{ n: ROWS.length }]);
      } finally {
        await pool.end();
      }
    });
  });

  describe('with a password', () => {
    let guarded: PGliteWireServer;
    let address: string;

    beforeAll(async () => {
      guarded = new PGliteWireServer(db, 'the right one', 300);
      address = await guarded.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(() => guarded.close());

    async function connectWith(password: string): Promise<Client> {
      const client = new Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@${address}/postgres` });
      client.on('error', () => undefined);
      await client.connect();
      return client;
    }

    it('serves a client that sends it', async () => {
      const client = await connectWith('the right one');
      try {
        expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      } finally {
        await client.end();
      }
    });

    it.each([['a wrong password', 'the wrong one'], ['an empty password', '']])('refuses %s as a real server would (28P01)', async (_, password) => {
      await expect(connectWith(password)).rejects.toMatchObject({ code: '28P01' });
    });

    it('reads messages however they are cut: a few bytes at a time, or megabytes at once', async () => {
      const { Socket } = await import('node:net');
      const [host, port] = address.split(':');
      const socket = new Socket();
      socket.setNoDelay(true);
      await new Promise<void>((resolve) => socket.connect(Number(port), host!, resolve));
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
      const message = (type: string, body: Buffer) => {
        const header = Buffer.alloc(5);
        header.write(type, 0);
        header.writeInt32BE(4 + body.length, 1);
        return Buffer.concat([header, body]);
      };
      const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
      const startup = Buffer.alloc(8);
      startup.writeInt32BE(8 + params.length, 0);
      startup.writeInt32BE(196_608, 4);
      const bytes = Buffer.concat([
        startup,
        params,
        message('p', Buffer.from('the right one\0')),
        message('Q', Buffer.from(`SELECT length('${'x'.repeat(3_000_000)}') AS n\0`)),
      ]);
      // The small messages byte by byte, then the big one in uneven slices.
      let at = 0;
      for (; at < bytes.length - 3_000_000; at++) {
        socket.write(bytes.subarray(at, at + 1));
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (let size = 7; at < bytes.length; size = (size * 31) % 65_521 + 1) {
        socket.write(bytes.subarray(at, at + size));
        at += size;
      }
      await vi.waitFor(() => expect(received.includes(Buffer.from('3000000'))).toBe(true), { timeout: 10_000 });
      socket.destroy();
    });

    it('closes a connection that does not authenticate in time', async () => {
      const { Socket } = await import('node:net');
      const [host, port] = address.split(':');
      const socket = new Socket();
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.connect(Number(port), host!);
      await expect(Promise.race([closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('open'), 5000))])).resolves.toBe('closed');
    });

    it('never passes on what a client sends instead of the password', async () => {
      const { Socket } = await import('node:net');
      const [host, port] = address.split(':');
      const socket = new Socket();
      await new Promise<void>((resolve) => socket.connect(Number(port), host!, resolve));
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      const closed = new Promise((resolve) => socket.on('close', resolve));
      const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
      const startup = Buffer.alloc(8);
      startup.writeInt32BE(8 + params.length, 0);
      startup.writeInt32BE(196_608, 4);
      const sql = Buffer.from('CREATE TABLE intruder (id int)\0');
      const query = Buffer.alloc(5);
      query[0] = 0x51;
      query.writeInt32BE(4 + sql.length, 1);
      socket.write(Buffer.concat([startup, params, query, sql]));
      await closed;
      expect(Buffer.concat(received).includes(Buffer.from('28P01'))).toBe(true);
      const { rows } = await db.query(`SELECT to_regclass('intruder') AS found`);
      expect(rows).toEqual([{ found: null }]);
    });
  });
});
