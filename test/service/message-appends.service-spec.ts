import * as fc from 'fast-check';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthUser } from '../../src/common/auth/auth-user.js';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import { ConversationsService } from '../../src/conversations/conversations.service.js';
import type { MessageEntity } from '../../src/messages/message.entity.js';
import { MessagesRepository, type NewMessage } from '../../src/messages/messages.repository.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';
import { recordStatements } from '../support/statements.js';

/**
 * The append path under concurrency: appends that arrive together are committed together (group
 * commit), and each conversation's seqs and versions still come out gap-free and in one order.
 */
describe('message appends', () => {
  let app: ServiceApp;
  let messages: MessagesRepository;

  beforeAll(async () => {
    app = await startServiceApp();
    messages = app.get(MessagesRepository);
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => app?.close());

  async function room(members: number): Promise<{ id: string; senders: AuthUser[] }> {
    const senders = [await app.user()];
    for (let i = 1; i < members; i++) senders.push(await app.user());
    const conversation = await app.conversation(senders[0]!, { mode: 'off' }, senders.slice(1).map((user) => user.id));
    return { id: conversation.id, senders };
  }

  const counters = async (id: string) => {
    const view = (await app.get(ConversationsRepository).findView(id))!;
    return { lastSeq: view.lastSeq, version: view.version };
  };
  const message = (conversationId: string, author: AuthUser, content: string, clientMessageId?: string): NewMessage => ({
    conversationId,
    role: 'user',
    authorId: author.id,
    content,
    ...(clientMessageId && { clientMessageId }),
  });

  /** Appends all at once; each answer notes whether its message could already be read back (committed) when it came. */
  async function appendAll(inputs: NewMessage[]) {
    return Promise.all(
      inputs.map((input) =>
        messages.append(input).then(
          async (stored) => ({ stored, visible: stored ? Boolean(await messages.findById(input.conversationId, stored.message.id)) : false }),
          (error: unknown) => ({ error }),
        ),
      ),
    );
  }

  const seqsAndVersions = (stored: MessageEntity[]) => {
    const sorted = stored.toSorted((a, b) => a.seq - b.seq);
    return { seqs: sorted.map((m) => m.seq), versions: sorted.map((m) => m.version) };
  };
  const range = (after: number, count: number) => Array.from({ length: count }, (_, i) => after + i + 1);

  it('gives concurrent appends from many senders gap-free seqs and versions in one order, each answered after its commit', async () => {
    const batches = vi.spyOn(messages, 'appendMany');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 60 }), async (members, picks) => {
        const { id, senders } = await room(members);
        const before = await counters(id);
        const answers = await appendAll(picks.map((pick, i) => message(id, senders[pick % members]!, `message ${i}`)));

        const stored = answers.map((answer) => {
          expect(answer).toMatchObject({ stored: { created: true }, visible: true });
          return (answer as { stored: { message: MessageEntity } }).stored.message;
        });
        // Seq order and version order are one order, with nothing skipped or repeated.
        expect(seqsAndVersions(stored)).toEqual({ seqs: range(before.lastSeq, picks.length), versions: range(before.version, picks.length) });
        expect(await counters(id)).toEqual({ lastSeq: before.lastSeq + picks.length, version: before.version + picks.length });
        const page = await messages.history(id, { limit: 100 });
        expect(page.items.map((m) => m.content).toSorted()).toEqual(stored.map((m) => m.content).toSorted());
      }),
      { numRuns: 15, seed: 20_261_202 },
    );
    // Concurrent appends were in fact committed several at a time.
    expect(batches.mock.calls.some(([inputs]) => inputs.length > 1)).toBe(true);
  });

  it('fails only the message at fault when a batch cannot be stored, and keeps the others gap-free', async () => {
    const { id, senders } = await room(3);
    const before = await counters(id);
    const inputs = Array.from({ length: 30 }, (_, i) => message(id, senders[i % 3]!, i === 17 ? 'a NUL \u0000 byte' : `message ${i}`));

    const answers = await appendAll(inputs);

    expect(answers[17]).toHaveProperty('error');
    const stored = answers.filter((_, i) => i !== 17).map((answer) => (answer as { stored: { message: MessageEntity } }).stored.message);
    expect(stored).toHaveLength(29);
    expect(seqsAndVersions(stored)).toEqual({ seqs: range(before.lastSeq, 29), versions: range(before.version, 29) });
  });

  it('stores a message sent twice at once under one clientMessageId once, and answers both with it', async () => {
    const { id, senders } = await room(2);
    const before = await counters(id);
    const inputs = [
      ...Array.from({ length: 10 }, (_, i) => message(id, senders[1]!, `filler ${i}`)),
      message(id, senders[0]!, 'only once', 'key-1'),
      message(id, senders[0]!, 'only once', 'key-1'),
      ...Array.from({ length: 10 }, (_, i) => message(id, senders[1]!, `more ${i}`)),
    ];

    const answers = (await appendAll(inputs)) as { stored: { message: MessageEntity; created: boolean } }[];

    const copies = answers.slice(10, 12).map((answer) => answer.stored);
    expect(copies.map((copy) => copy.created).toSorted()).toEqual([false, true]);
    expect(copies[0]!.message.id).toBe(copies[1]!.message.id);
    const created = answers.filter((answer) => answer.stored.created).map((answer) => answer.stored.message);
    expect(seqsAndVersions(created)).toEqual({ seqs: range(before.lastSeq, 21), versions: range(before.version, 21) });
  });

  it('leaves out the messages of a deleted conversation and stores those of the others in the same commit', async () => {
    const live = await room(2);
    const gone = await room(1);
    await app.get(ConversationsService).remove(gone.senders[0]!, gone.id);
    const inputs = Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? message(gone.id, gone.senders[0]!, `lost ${i}`) : message(live.id, live.senders[i % 2]!, `kept ${i}`)));

    const answers = await appendAll(inputs);

    expect(answers.map((answer) => ('stored' in answer && answer.stored ? answer.stored.message.content : answer))).toEqual(
      inputs.map((input) => (input.conversationId === gone.id ? { stored: undefined, visible: false } : input.content)),
    );
    expect(answers.filter((answer) => 'visible' in answer && answer.visible)).toHaveLength(15);
    expect((await counters(live.id)).lastSeq).toBe(15);
  });

  describe('with the runs that answer them', () => {
    const RUN = { provider: 'fake', model: 'fake-model', instanceId: 'appends-spec', contextLimit: 5 };
    /** The conversation's runs in queue order (creation), with their messages' seqs. */
    const runsOf = async (id: string) =>
      (await app.get(DataSource).query(
        `SELECT r.status, r.trigger_message_id AS "triggerId", m.seq, reply.seq AS "replySeq" FROM agent_runs r
         JOIN messages m ON m.id = r.trigger_message_id LEFT JOIN messages reply ON reply.id = r.response_message_id
         WHERE r.conversation_id = $1 ORDER BY r.created_at, r.id`,
        [id],
      )) as { status: string; triggerId: string; seq: number; replySeq: number | null }[];

    it('stores sends to many conversations at once: the first of each claimed with its reply, the rest queued in message order', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 5 }),
          fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 40 }),
          fc.nat({ max: 7 }),
          fc.integer({ min: 1, max: 6 }),
          async (count, picks, earlier, contextLimit) => {
          const rooms = await Promise.all(Array.from({ length: count }, () => room(2)));
          // Some messages before (edited or deleted now and then), so that the context pages have something to show.
          for (const r of rooms) {
            for (let i = 0; i < earlier; i++) {
              const stored = (await messages.append(message(r.id, r.senders[i % 2]!, `earlier ${i}`)))!.message;
              if (i % 3 === 1) await app.get(DataSource).query(`UPDATE messages SET deleted_at = now(), edited_at = now() WHERE id = $1`, [stored.id]);
            }
          }
          const befores = await Promise.all(rooms.map((r) => counters(r.id)));
          const run = { ...RUN, contextLimit };
          const answers = await Promise.all(picks.map((pick, i) => messages.append(message(rooms[pick % count]!.id, rooms[pick % count]!.senders[i % 2]!, `asks ${i}`), run)));

          for (const [r, { id }] of rooms.entries()) {
            const mine = answers.filter((_, i) => picks[i]! % count === r).map((answer) => answer!);
            if (!mine.length) continue;
            const bySeq = mine.toSorted((a, b) => a.message.seq - b.message.seq);
            // The first message's run is claimed and its reply takes the next seq; every later one waits, in message order.
            expect(bySeq.map((answer) => [answer.created, answer.run?.status, answer.reply?.seq])).toEqual(
              bySeq.map((answer, i) => (i === 0 ? [true, 'running', answer.message.seq + 1] : [true, 'queued', undefined])),
            );
            const stored = [...mine.map((answer) => answer.message), bySeq[0]!.reply!];
            expect(seqsAndVersions(stored)).toEqual({ seqs: range(befores[r]!.lastSeq, mine.length + 1), versions: range(befores[r]!.version, mine.length + 1) });
            const runs = await runsOf(id);
            expect(runs.map((queued) => queued.seq)).toEqual(bySeq.map((answer) => answer.message.seq));
            expect(runs.map((queued) => queued.replySeq)).toEqual(bySeq.map((answer, i) => (i === 0 ? answer.message.seq + 1 : null)));
            // The claimed run's context came with it, as a read of it afterwards finds it; queued runs read theirs when they start.
            expect(bySeq[0]!.tail).toEqual(await messages.contextTail(id, bySeq[0]!.message.seq, contextLimit));
            expect(bySeq.slice(1).map((answer) => answer.tail)).toEqual(bySeq.slice(1).map(() => undefined));
          }
          },
        ),
        { numRuns: 12, seed: 20_261_203 },
      );
    });

    it("gives no context with the send when the messages before it are not all in the statement's view", async () => {
      // A message the statement cannot see looks like a gap in the seqs (as one committed by another
      // instance after the statement's snapshot would): the run then reads its context itself.
      const r = await room(1);
      const earlier = [];
      for (let i = 0; i < 3; i++) earlier.push((await messages.append(message(r.id, r.senders[0]!, `earlier ${i}`)))!.message);
      await app.get(DataSource).query(`DELETE FROM messages WHERE id = $1`, [earlier[1]!.id]);
      const answer = (await messages.append(message(r.id, r.senders[0]!, 'asks'), RUN))!;
      expect(answer.run?.status).toBe('running');
      expect(answer.tail).toBeUndefined();
      const complete = (await messages.append(message((await room(1)).id, r.senders[0]!, 'asks'), RUN))!;
      expect(complete.tail?.items.map((item) => item.content)).toEqual(['asks']);
    });

    it('gives no context with the send when the conversation changed while the send waited for it', async () => {
      const r = await room(1);
      const first = (await messages.append(message(r.id, r.senders[0]!, 'earlier')))!.message;
      const change = app.get(DataSource).createQueryRunner();
      await change.connect();
      try {
        // An edit under way holds the conversation while the send starts, and commits while the send waits for it.
        await change.startTransaction();
        await change.query(`UPDATE conversations SET version = version + 1 WHERE id = $1`, [r.id]);
        await change.query(`UPDATE messages SET content = 'edited', version = (SELECT version FROM conversations WHERE id = $1) WHERE id = $2`, [r.id, first.id]);
        const sending = messages.append(message(r.id, r.senders[0]!, 'asks'), RUN);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await change.commitTransaction();
        const answer = (await sending)!;
        const fresh = await messages.contextTail(r.id, answer.message.seq, RUN.contextLimit);
        expect(fresh.items.map((item) => item.content)).toEqual(['edited', 'asks']);
        // None on PostgreSQL (the send's statement began before the edit committed); on the embedded
        // database statements take turns, so the send began after it and its page is the fresh one.
        expect(answer.tail ?? fresh).toEqual(fresh);
        expect(answer.run?.status).toBe('running');
      } finally {
        await change.release();
      }
    });

    it('leaves a page of long messages for the runs to read themselves, so that a batch of sends stays small', async () => {
      // Three 100,000-character messages before (MESSAGE_MAX_LENGTH goes up to 1,000,000), in each of 20 conversations sent to at once.
      const rooms = await Promise.all(Array.from({ length: 20 }, () => room(1)));
      for (const r of rooms) for (let i = 0; i < 3; i++) await messages.append(message(r.id, r.senders[0]!, `${i}`.repeat(100_000)));
      const short = await room(1);
      const answers = await Promise.all([...rooms, short].map((r) => messages.append(message(r.id, r.senders[0]!, 'asks'), RUN)));
      expect(answers.map((answer) => answer!.run?.status)).toEqual(Array(21).fill('running'));
      expect(answers.slice(0, 20).map((answer) => answer!.tail)).toEqual(Array(20).fill(undefined));
      // What the runs then read: the whole page, long messages and all.
      const read = await messages.contextTail(rooms[0]!.id, answers[0]!.message.seq, RUN.contextLimit);
      expect(read.items.map((item) => item.content.length)).toEqual([100_000, 100_000, 100_000, 4]);
      expect(answers[20]!.tail?.items.map((item) => item.content)).toEqual(['asks']);
    });

    it('stores sends to many conversations that arrive together in a few statements', async () => {
      const rooms = await Promise.all(Array.from({ length: 30 }, () => room(1)));
      const statements = recordStatements();
      try {
        const answers = await Promise.all(rooms.map(({ id, senders }) => messages.append(message(id, senders[0]!, 'asks'), RUN)));
        expect(answers.map((answer) => answer?.run?.status)).toEqual(Array(30).fill('running'));
        // The first few go out at once (4 on PostgreSQL, 1 embedded); those that waited go together.
        expect(statements.texts.filter((sql) => sql.includes('INSERT INTO agent_runs')).length).toBeLessThanOrEqual(5);
      } finally {
        statements.stop();
      }
    });

    it('leaves out a deleted conversation, stores a retried send once, and keeps the rest of the batch', async () => {
      const live = await room(2);
      const gone = await room(1);
      await app.get(ConversationsService).remove(gone.senders[0]!, gone.id);
      const others = await Promise.all(Array.from({ length: 6 }, () => room(1)));
      const inputs = [
        ...others.map((other) => message(other.id, other.senders[0]!, 'filler')),
        message(gone.id, gone.senders[0]!, 'lost'),
        message(live.id, live.senders[0]!, 'only once', 'retry-key'),
        message(live.id, live.senders[0]!, 'only once', 'retry-key'),
      ];

      const answers = await Promise.all(inputs.map((input) => messages.append(input, RUN)));

      expect(answers.slice(0, 6).map((answer) => answer?.run?.status)).toEqual(Array(6).fill('running'));
      expect(answers[6]).toBeUndefined();
      const copies = answers.slice(7).map((answer) => answer!);
      expect(copies.map((copy) => copy.created).toSorted()).toEqual([false, true]);
      expect(copies[0]!.message.id).toBe(copies[1]!.message.id);
      // One message, one run, one reply: the copy that found the stored message started nothing.
      expect(await runsOf(live.id)).toEqual([{ status: 'running', triggerId: copies[0]!.message.id, seq: 1, replySeq: 2 }]);
      expect(await counters(live.id)).toMatchObject({ lastSeq: 2 });
    });
  });
});

