import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Registered, register } from '../support/auth.js';
import { RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

/** Content of exactly `length` characters that says which message it is, so a mix-up shows. */
function body(label: string, length: number): string {
  const head = `${label}:`;
  return head + 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(Math.ceil(length / 37)).slice(0, length - head.length);
}

/**
 * Real-sized data through the whole stack: pages, exports and recoveries of hundreds of
 * kilobytes to megabytes, on the embedded database by default (the same files run on PostgreSQL
 * with TEST_DATABASE_URL). Small polite fixtures never filled a socket's send buffer.
 */
describe('large data', () => {
  let t: TestApp;
  let user: Registered;
  // On disk, as `npm start` runs it (the embedded database is then served over a unix socket).
  const dataDir = mkdtempSync(join(tmpdir(), 'large-data-'));

  beforeAll(async () => {
    t = await startTestApp({ MESSAGE_RATE_LIMIT: '100000', DATA_DIR: dataDir });
    user = await register(t);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function conversationWith(count: number, length: number, label: string): Promise<{ id: string; contents: string[] }> {
    const created = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: label, agent: { mode: 'off' } } });
    expect(created.status).toBe(201);
    const contents = Array.from({ length: count }, (_, i) => body(`${label}-${i}`, length));
    // A few at a time: the order of seqs is then the order of the array.
    for (const content of contents) {
      const sent = await t.http(`${API}/conversations/${created.body.id}/messages`, { method: 'POST', token: user.accessToken, json: { content } });
      expect(sent.status).toBe(201);
    }
    return { id: created.body.id, contents };
  }

  const page = (id: string, query: string) => t.http(`${API}/conversations/${id}/messages?${query}`, { token: user.accessToken });

  it('pages 30 messages of 8,000 characters whole', async () => {
    const { id, contents } = await conversationWith(30, 8000, 'eight');
    const response = await page(id, 'limit=30');
    expect(response.status).toBe(200);
    expect(response.body.items.map((message: { content: string }) => message.content)).toEqual(contents);
    expect(response.body.hasMore).toBe(false);
  });

  it('pages 100 messages of 16,000 characters, and 12 such reads at once, whole and in order', async () => {
    const { id, contents } = await conversationWith(100, 16_000, 'full');
    const first = await page(id, 'limit=14');
    expect(first.body.items).toHaveLength(14);
    expect(first.body.hasMore).toBe(true);

    // More readers than the pool has connections, each receiving a 1.6 MB page.
    const reads = await Promise.all(Array.from({ length: 12 }, () => page(id, 'limit=100')));
    for (const read of reads) {
      expect(read.status).toBe(200);
      expect(read.body.items.map((message: { content: string }) => message.content)).toEqual(contents);
    }
    expect((await t.http('/health/ready')).status).toBe(200);
  });

  it('exports a conversation of 300 messages of 700 characters and one of 1.6 MB whole', async () => {
    for (const [count, length] of [
      [300, 700],
      [100, 16_000],
    ] as const) {
      const { id, contents } = await conversationWith(count, length, `export-${length}`);
      const exported = await t.http(`${API}/conversations/${id}/export?format=json`, { token: user.accessToken });
      expect(exported.status).toBe(200);
      expect(exported.body.messages.map((message: { content: string }) => message.content)).toEqual(contents);
    }
  });

  it('recovers 300 messages of 700 characters on conversation:join, paging on while hasMore', async () => {
    const { id, contents } = await conversationWith(300, 700, 'join');
    const socket = new RecordingClient(io(`${t.baseUrl}/chat`, { auth: { token: user.accessToken }, transports: ['websocket'], forceNew: true }));
    try {
      const recovered: string[] = [];
      let afterSeq = 0;
      for (let round = 0; round < 10; round++) {
        const ack = await socket.emit('conversation:join', { conversationId: id, afterSeq });
        expect(ack.ok).toBe(true);
        const missed = ack.data.missed as { seq: number; content: string }[];
        recovered.push(...missed.map((message) => message.content));
        if (!ack.data.hasMore) break;
        afterSeq = missed.at(-1)!.seq;
      }
      expect(recovered).toEqual(contents);
    } finally {
      socket.socket.disconnect();
    }
  });
});
