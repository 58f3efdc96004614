import * as fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthUser } from '../../src/common/auth/auth-user.js';
import { ConversationsRepository } from '../../src/conversations/conversations.repository.js';
import { ConversationsService } from '../../src/conversations/conversations.service.js';
import type { MessageEntity } from '../../src/messages/message.entity.js';
import { MessagesRepository, type NewMessage } from '../../src/messages/messages.repository.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';

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
});
