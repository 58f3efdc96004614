import { randomUUID } from 'node:crypto';
import * as fc from 'fast-check';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunsRepository } from '../../src/agent/runs.repository.js';
import type { AuthUser } from '../../src/common/auth/auth-user.js';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';
import { recordStatements } from '../support/statements.js';

/** Runs of a conversation, oldest first, by status; `queued*` is queued again after its approvals (it has a reply). */
const RUN_SETS = [[], ['completed'], ['running'], ['completed', 'awaiting_approval', 'queued'], ['queued'], ['queued*', 'queued'], ['failed', 'running', 'queued']] as const;
/** Which of RUN_SETS' runs findActive answers, by index (-1: none). */
const ACTIVE = [-1, -1, 0, 1, -1, 0, 1];

/**
 * What every join and every access-cache miss reads — the conversation with its participants, and
 * the run in progress — read for many at once (a deploy reconnects every client together): reads
 * that arrive together share statements, and each gets what it would have read alone.
 */
describe('join reads', () => {
  let app: ServiceApp;
  let conversations: ConversationsRepository;
  let runs: RunsRepository;
  const rooms: { id: string; runIds: string[] }[] = [];

  beforeAll(async () => {
    // No scheduler: nothing claims or sweeps the runs written below while they are read.
    app = await startServiceApp({ scheduler: false });
    conversations = app.get(ConversationsRepository);
    runs = app.get(RunsRepository);
    const users: AuthUser[] = [await app.user(), await app.user(), await app.user()];
    for (const [index, set] of RUN_SETS.entries()) {
      const { id } = await app.conversation(users[0]!, { mode: 'off' }, users.slice(1, 1 + (index % 3)).map((user) => user.id));
      const runIds: string[] = [];
      for (const status of set) {
        const trigger = await app.userMessage(users[0]!, id);
        const reply = await app.userMessage(users[0]!, id, 'reply');
        const rows = await app.get(DataSource).query(
          `INSERT INTO agent_runs (conversation_id, trigger_message_id, response_message_id, requested_by_id, provider, model, status, instance_id, heartbeat_at)
           VALUES ($1, $2, $3, $4, 'builtin', 'builtin', $5, 'join-reads', now()) RETURNING id`,
          [id, trigger.id, status === 'queued' ? null : reply.id, users[0]!.id, status.replace('*', '')],
        );
        runIds.push(rows[0].id);
      }
      rooms.push({ id, runIds });
    }
    // A deleted conversation reads as missing.
    const deleted = await app.conversation(users[0]!, { mode: 'off' });
    await app.get(DataSource).query(`UPDATE conversations SET deleted_at = now() WHERE id = $1`, [deleted.id]);
    rooms.push({ id: deleted.id, runIds: [] });
  });
  afterAll(() => app?.close());

  it('answers reads made together as each would be answered alone, in fewer statements', async () => {
    // rooms.length: a conversation that never existed; ids in capitals are the same conversations.
    const arbitraryRead = fc.record({ room: fc.nat({ max: rooms.length }), upper: fc.boolean(), kind: fc.constantFrom('view', 'run') });
    await fc.assert(
      fc.asyncProperty(fc.array(arbitraryRead, { minLength: 1, maxLength: 40 }), async (reads) => {
        const requests = reads.map(({ room, upper, kind }) => {
          const id = rooms[room]?.id ?? randomUUID();
          return { id: upper ? id.toUpperCase() : id, kind };
        });
        const read = ({ id, kind }: (typeof requests)[number]) => (kind === 'view' ? conversations.findView(id) : runs.findActive(id));
        const alone: unknown[] = [];
        for (const request of requests) alone.push(await read(request));
        const statements = recordStatements();
        try {
          const together = await Promise.all(requests.map(read));
          expect(together).toEqual(alone);
          // Per kind at most 4 statements go out at once (1 on the embedded database); the rest wait and go together.
          expect(statements.texts.length).toBeLessThanOrEqual(Math.min(requests.length, 10));
        } finally {
          statements.stop();
        }
        // What alone means.
        const expected = requests.map(({ id, kind }) => {
          const at = rooms.findIndex((room) => room.id === id.toLowerCase());
          const live = at >= 0 && at < RUN_SETS.length;
          if (kind === 'view') return live ? rooms[at]!.id : null;
          return live && ACTIVE[at]! >= 0 ? rooms[at]!.runIds[ACTIVE[at]!] : null;
        });
        expect(alone.map((answer) => (answer as { id: string } | null | undefined)?.id ?? null)).toEqual(expected);
      }),
      { numRuns: 25, seed: 20_261_202 },
    );
  });

  it('reads what was committed before the read was asked for, even while an older read is under way', async () => {
    const room = rooms[0]!.id;
    for (let attempt = 0; attempt < 20; attempt++) {
      const title = `title ${attempt}`;
      const before = conversations.findView(room);
      // Committed while the read above may still be under way: a read asked for after it must see it.
      await app.get(DataSource).query(`UPDATE conversations SET title = $2 WHERE id = $1`, [room, title]);
      const after = conversations.findView(room);
      await before;
      expect((await after)?.title).toBe(title);
    }
  });
});
