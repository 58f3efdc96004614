import { Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConversationView } from '../conversations/conversation.view.js';
import type { MessageDto } from '../messages/dto/message.dto.js';
import type { ChangesPage } from '../messages/messages.service.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { ConversationFeed, type FeedSource } from './conversation-feed.js';
import type { SseStream } from './sse.js';

const CONVERSATION = 'c1';
const conversation = { id: CONVERSATION, participants: [], agent: {} } as unknown as ConversationView;

function message(id: string, version: number, extra: Partial<MessageDto> = {}): MessageDto {
  return { id, conversationId: CONVERSATION, seq: version, version, status: 'complete', content: id, deletedAt: null, ...extra } as MessageDto;
}

/** A stream that records what it was sent: events with their ids, and bare ids. */
function recordingStream() {
  const sent: { event?: string; id?: string | number; data?: unknown }[] = [];
  const stream: SseStream = {
    send: (...[event, data, id]) => void sent.push({ event, data, ...(id !== undefined && { id }) }),
    mark: (id) => sent.push({ id }),
    comment: () => undefined,
    close: () => undefined,
    closed: false,
    onClose: () => undefined,
  };
  return { stream, sent, events: () => sent.filter((entry) => entry.event).map((entry) => [entry.event, entry.id]) };
}

describe('ConversationFeed (the SSE watermark)', () => {
  let bus: Subject<RealtimeEvent>;
  let stored: MessageDto[];
  let version: number;
  const source: FeedSource = {
    changes: async (after): Promise<ChangesPage> => ({
      conversation,
      version,
      items: after === undefined ? [] : stored.filter((m) => m.version > after).toSorted((a, b) => a.version - b.version),
      hasMore: false,
      bytes: 0,
    }),
    activeRun: async () => null,
  };
  const created = (m: MessageDto): RealtimeEvent => ({ type: 'message.created', conversationId: CONVERSATION, message: m });

  beforeEach(() => {
    vi.useFakeTimers();
    bus = new Subject();
    stored = [];
    version = 0;
  });
  afterEach(() => vi.useRealTimers());

  it('replays the current state of what changed after the resume point, then marks the version it read at', async () => {
    stored = [message('a', 2), message('b', 5, { deletedAt: '2026-01-01T00:00:00.000Z' }), message('c', 3)];
    version = 6;
    const { stream, sent } = recordingStream();
    await new ConversationFeed(stream, CONVERSATION, 'u', source).start(bus, 1);
    expect(sent.map((entry) => [entry.event, entry.id])).toEqual([
      ['message:updated', 2],
      ['message:updated', 3],
      ['message:deleted', 5],
      ['conversation:updated', undefined],
      [undefined, 6],
    ]);
  });

  it('holds the id at the highest version below which none is missing, and moves it when the gap fills', async () => {
    const { stream, events } = recordingStream();
    await new ConversationFeed(stream, CONVERSATION, 'u', source).start(bus, undefined);
    bus.next(created(message('a', 1)));
    bus.next(created(message('c', 3)));
    bus.next(created(message('b', 2)));
    expect(events()).toEqual([
      ['message:created', 1],
      ['message:created', 1],
      ['message:created', 3],
    ]);
  });

  it('lets the second event of one change through (message:updated, then run:completed)', async () => {
    const { stream, events } = recordingStream();
    await new ConversationFeed(stream, CONVERSATION, 'u', source).start(bus, undefined);
    const reply = message('r', 1);
    bus.next({ type: 'message.updated', conversationId: CONVERSATION, message: reply });
    bus.next({ type: 'run.completed', conversationId: CONVERSATION, run: { id: 'run' } as never, message: reply, version: 1 });
    expect(events()).toEqual([
      ['message:updated', 1],
      ['run:completed', 1],
    ]);
  });

  it('reads a version still missing after GAP_FILL_MS from the database, and drops its late event', async () => {
    const { stream, sent, events } = recordingStream();
    await new ConversationFeed(stream, CONVERSATION, 'u', source, 1000).start(bus, undefined);
    stored = [message('a', 1, { content: 'edited later' }), message('b', 2)];
    version = 2;
    bus.next(created(message('b', 2)));
    await vi.advanceTimersByTimeAsync(999);
    expect(events()).toEqual([['message:created', 0]]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent.at(-1)).toEqual({ id: 2 });
    expect(events().slice(1)).toEqual([
      ['message:updated', 1],
      ['message:updated', 2],
      ['conversation:updated', undefined],
    ]);
    // The lost event turns up after all: the client already has that state or a newer one.
    bus.next(created(message('a', 1)));
    expect(events()).toHaveLength(4);
  });

  it('passes live-only events through without an id', async () => {
    const { stream, sent } = recordingStream();
    await new ConversationFeed(stream, CONVERSATION, 'u', source).start(bus, undefined);
    bus.next({ type: 'run.delta', conversationId: CONVERSATION, runId: 'run', index: 0, text: 'Hi' });
    bus.next({ type: 'typing', conversationId: CONVERSATION, userId: 'v', isTyping: true });
    expect(sent.slice(1)).toEqual([
      { event: 'run:delta', data: { runId: 'run', conversationId: CONVERSATION, index: 0, text: 'Hi' } },
      { event: 'typing', data: { conversationId: CONVERSATION, userId: 'v', isTyping: true } },
    ]);
  });
});
