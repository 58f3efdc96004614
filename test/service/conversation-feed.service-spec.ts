import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatService } from '../../src/chat/chat.service.js';
import { ConversationFeed, type FeedSource } from '../../src/chat/conversation-feed.js';
import type { SseStream } from '../../src/chat/sse.js';
import type { AuthUser } from '../../src/common/auth/auth-user.js';
import { ConversationsService } from '../../src/conversations/conversations.service.js';
import { MessagesService } from '../../src/messages/messages.service.js';
import type { RealtimeEvent } from '../../src/realtime/realtime.events.js';
import { waitUntil } from '../support/conditions.js';
import { type Gate, gate } from '../support/service/scripted-model.js';
import { type ServiceApp, startServiceApp } from '../support/service/service-app.js';

interface Sent {
  event?: string;
  id?: string | number;
  data?: unknown;
}

function recordingStream() {
  const sent: Sent[] = [];
  const closers: (() => void)[] = [];
  const stream: SseStream & { closed: boolean } = {
    send: (...[event, data, id]) => void sent.push({ event, data, ...(id !== undefined && { id }) }),
    mark: (id) => sent.push({ id }),
    comment: () => undefined,
    close() {
      stream.closed = true;
      for (const listener of closers) listener();
    },
    closed: false,
    onClose: (listener) => closers.push(listener),
  };
  return { stream, sent };
}

/** The message id a sent entry carries, if any. */
function messageIdOf(entry: Sent): string | undefined {
  const data = entry.data as { message?: { id: string }; messageId?: string } | undefined;
  return data?.message?.id ?? data?.messageId;
}

/**
 * ConversationFeed on the real changes feed and the in-process bus: the replay from the database
 * and the live events around it, exactly once and in order.
 */
describe('ConversationFeed on the database', () => {
  let app: ServiceApp;
  let owner: AuthUser;

  beforeAll(async () => {
    app = await startServiceApp({ env: { RECOVERY_PAGE_MESSAGES: '2' } });
    owner = await app.user();
  });
  afterAll(() => app?.close());

  const say = (conversationId: string, content: string) => app.get(ChatService).send(owner, conversationId, { content });

  /** The feed's source; the page read `holds` names (0: the first) is held until its gate opens. */
  async function heldSource(conversationId: string, holds: Map<number, Gate> = new Map()): Promise<FeedSource & { reads: number }> {
    const access = await app.get(ConversationsService).authorize(conversationId, owner, 'read');
    const source = app.get(ChatService).feedSource(access);
    const held = {
      reads: 0,
      async changes(afterVersion: number | undefined) {
        const page = await source.changes(afterVersion);
        await holds.get(held.reads++)?.opened;
        return page;
      },
      activeRun: () => source.activeRun(),
    };
    return held;
  }

  it('replays every change after the resume point once, then delivers what came during the replay, in order', async () => {
    const conversation = await app.conversation(owner, { mode: 'off' });
    const resumeFrom = (await say(conversation.id, 'seen before the reconnect')).message.version;
    const edited = (await say(conversation.id, 'missed, then edited')).message;
    await say(conversation.id, 'missed');
    await say(conversation.id, 'missed too');
    await app.get(MessagesService).edit(owner, conversation.id, edited.id, 'missed and edited');
    const lateEdit = app.events.events.findLast((event) => event.type === 'message.updated' && event.message.id === edited.id)!;

    // Pages of two: the replay reads two pages, and the last one is held.
    const lastPage = gate();
    const { stream, sent } = recordingStream();
    const source = await heldSource(conversation.id, new Map([[1, lastPage]]));
    const started = new ConversationFeed(stream, conversation.id, owner.id, source).start(app.bus.events$, resumeFrom);
    await waitUntil(() => source.reads === 2, 'the last page read');
    // While the replay is held: an old event arrives late (the replay carries its change), and new ones happen.
    app.bus.publish(lateEdit);
    const during = [(await say(conversation.id, 'during the replay 1')).message, (await say(conversation.id, 'during the replay 2')).message];
    lastPage.open();
    await started;
    const after = (await say(conversation.id, 'after the replay')).message;

    const messageEvents = sent.filter((entry) => entry.event?.startsWith('message:'));
    const ids = messageEvents.map(messageIdOf);
    expect(new Set(ids).size).toBe(ids.length);
    const replayed = messageEvents.filter((entry) => entry.event === 'message:updated').map((entry) => (entry.data as { message: { content: string } }).message.content);
    expect(replayed).toEqual(['missed', 'missed too', 'missed and edited']);
    expect(messageEvents.filter((entry) => entry.event === 'message:created').map(messageIdOf)).toEqual([...during, after].map((message) => message.id));
    // The ids never go back, and the replay ends at the version it read at.
    const marks = sent.map((entry) => entry.id).filter((id): id is number => typeof id === 'number');
    expect(marks).toEqual(marks.toSorted((a, b) => a - b));
    expect(marks.at(-1)).toBe(after.version);
  });

  it('sends nothing the replay already covered when its live event comes after it', async () => {
    const conversation = await app.conversation(owner, { mode: 'off' });
    const { stream, sent } = recordingStream();
    const resumeFrom = (await say(conversation.id, 'before')).message.version;
    const missed = await say(conversation.id, 'missed');
    const created = app.events.events.findLast((event): event is Extract<RealtimeEvent, { type: 'message.created' }> => event.type === 'message.created' && event.message.id === missed.message.id)!;

    await new ConversationFeed(stream, conversation.id, owner.id, await heldSource(conversation.id)).start(app.bus.events$, resumeFrom);
    app.bus.publish(created);

    expect(sent.filter((entry) => messageIdOf(entry) === missed.message.id).map((entry) => entry.event)).toEqual(['message:updated']);
  });

  it('closes the stream when the conversation is deleted', async () => {
    const conversation = await app.conversation(owner, { mode: 'off' });
    const { stream, sent } = recordingStream();
    await new ConversationFeed(stream, conversation.id, owner.id, await heldSource(conversation.id)).start(app.bus.events$, undefined);

    await app.get(ConversationsService).remove(owner, conversation.id);

    expect(sent.at(-1)).toMatchObject({ event: 'conversation:closed' });
    expect(stream.closed).toBe(true);
  });
});
