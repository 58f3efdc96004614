import { randomUUID } from 'node:crypto';
import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthUser } from '../../src/common/auth/auth-user.js';
import { type ContextTail, MessagesRepository } from '../../src/messages/messages.repository.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';
import { recordStatements } from '../support/statements.js';

/**
 * The start of an agent's context, read for many runs at once (they start together after a burst
 * of messages): reads that arrive together share statements, and each run gets what it would have
 * read alone.
 */
describe('context tails', () => {
  let app: ServiceApp;
  let messages: MessagesRepository;
  const rooms: { id: string; size: number }[] = [];

  beforeAll(async () => {
    app = await startServiceApp();
    messages = app.get(MessagesRepository);
    const users: AuthUser[] = [await app.user(), await app.user(), await app.user()];
    for (let size = 0; size < 8; size++) {
      const { id } = await app.conversation(users[0]!, { mode: 'off' }, [users[1]!.id, users[2]!.id]);
      for (let i = 0; i < size * 3; i++) await messages.append({ conversationId: id, role: 'user', authorId: users[i % 3]!.id, content: `m${i}` });
      rooms.push({ id, size: size * 3 });
    }
  });
  afterAll(() => app?.close());

  it('answers reads made together as each would be answered alone, in fewer statements', async () => {
    const arbitraryRead = fc.record({
      room: fc.nat({ max: rooms.length }), // rooms.length: a conversation that does not exist
      upto: fc.integer({ min: 0, max: 30 }),
      limit: fc.integer({ min: 1, max: 12 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(arbitraryRead, { minLength: 1, maxLength: 40 }), async (reads) => {
        const requests = reads.map(({ room, upto, limit }) => ({ id: rooms[room]?.id ?? randomUUID(), upto, limit }));
        const alone: ContextTail[] = [];
        for (const { id, upto, limit } of requests) alone.push(await messages.contextTail(id, upto, limit));
        const statements = recordStatements();
        try {
          const together = await Promise.all(requests.map(({ id, upto, limit }) => messages.contextTail(id, upto, limit)));
          expect(together).toEqual(alone);
          // At most 4 statements go out at once (1 on the embedded database); the rest wait and go together.
          expect(statements.texts.length).toBeLessThanOrEqual(Math.min(requests.length, 5));
        } finally {
          statements.stop();
        }
        // What alone means: the newest `limit` messages up to `upto`, ascending, and whether older ones exist.
        requests.forEach(({ upto, limit }, index) => {
          const room = rooms.find((candidate) => candidate.id === requests[index]!.id);
          const available = Math.min(upto, room?.size ?? 0);
          expect(alone[index]!.items.map((message) => message.seq)).toEqual(Array.from({ length: Math.min(limit, available) }, (_, i) => available - Math.min(limit, available) + i + 1));
          expect(alone[index]!.hasMore).toBe(available > limit);
          expect(alone[index]!.summary === undefined).toBe(room === undefined);
          for (const message of alone[index]!.items) expect(alone[index]!.names.get(message.authorId!)).toMatch(/\S/);
        });
      }),
      { numRuns: 25, seed: 20_261_202 },
    );
  });
});
