import type { MessageDto } from '@agent-chat/client';
import { describe, expect, it } from 'vitest';
import { ConversationReplica, SseParser, type SseEvent } from './sync-client.js';

const message = (id: string, seq: number, version: number, fields: Partial<MessageDto> = {}): MessageDto => ({
  id,
  conversationId: 'c',
  seq,
  role: 'user',
  authorId: 'u',
  content: `text of ${id}`,
  status: 'complete',
  runId: null,
  metadata: {},
  attachments: [],
  attachmentDetails: [],
  editedAt: null,
  clientMessageId: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  deletedAt: null,
  version,
  ...fields,
});

describe('ConversationReplica', () => {
  it('keeps the newest state of each message, whatever order events arrive in', () => {
    const replica = new ConversationReplica('r');
    replica.applyMessage(message('a', 1, 3, { content: 'edited' }), 'test');
    replica.applyMessage(message('a', 1, 1), 'test');
    replica.applyDeletion('b', 'c', 4, 'test');
    replica.applyMessage(message('b', 2, 2), 'test');
    expect(replica.snapshot()).toEqual([
      { id: 'b', deleted: true, version: 4 },
      expect.objectContaining({ id: 'a', content: 'edited', version: 3 }),
    ]);
    expect(replica.violations).toEqual([]);
  });

  it('advances its version only over contiguous versions, and reports a gap', () => {
    const replica = new ConversationReplica('r');
    expect(replica.observeVersion(1)).toBe(false);
    expect(replica.observeVersion(3)).toBe(true);
    expect(replica.version).toBe(1);
    expect(replica.observeVersion(2)).toBe(false);
    expect(replica.version).toBe(3);
    replica.observeVersion(6);
    replica.settle(5);
    expect(replica.version).toBe(6);
    expect(replica.hasGap).toBe(false);
  });

  it('streams a reply from its snapshot, skips deltas already in it, and checks the final text', () => {
    const replica = new ConversationReplica('r');
    replica.applySnapshot({ run: { id: 'run' }, content: 'ab', index: 1 } as never, 'join');
    for (const [index, text] of [[0, 'a'], [1, 'b'], [2, 'c'], [2, 'c']] as const) replica.applyDelta({ runId: 'run', index, text }, 'io');
    expect(replica.streams.get('run')?.text).toBe('abc');
    expect(replica.deltasSkipped).toBe(3);
    replica.applyMessage(message('reply', 2, 5, { role: 'assistant', runId: 'run', content: 'abcd' }), 'io');
    expect(replica.violations).toEqual([expect.stringContaining('streamed "abc"')]);
  });

  it('reports deltas missing on a live stream', () => {
    const replica = new ConversationReplica('r');
    replica.applyDelta({ runId: 'run', index: 0, text: 'a' }, 'io');
    replica.applyDelta({ runId: 'run', index: 2, text: 'c' }, 'io');
    expect(replica.violations).toEqual([expect.stringContaining('deltas missing')]);
  });
});

describe('SseParser', () => {
  it('parses events split anywhere, with ids, comments and multi-line data', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser((event) => events.push(event));
    const wire = ': connected\n\nid: 7\nevent: message:created\ndata: {"a":\ndata: 1}\n\n: heartbeat\r\n\r\nevent: run:delta\ndata: x\n\n';
    for (let i = 0; i < wire.length; i += 5) parser.push(wire.slice(i, i + 5));
    expect(events).toEqual([
      { event: 'message:created', data: '{"a":\n1}', id: '7' },
      { event: 'run:delta', data: 'x', id: undefined },
    ]);
  });

  it('reports a bare id, which EventSource takes as its last event id without dispatching an event', () => {
    const events: SseEvent[] = [];
    const marks: string[] = [];
    const parser = new SseParser(
      (event) => events.push(event),
      (id) => marks.push(id),
    );
    parser.push('id: 4\n\nevent: conversation:updated\ndata: {}\n\nid: 9\n\n');
    expect(events).toEqual([{ event: 'conversation:updated', data: '{}', id: undefined }]);
    expect(marks).toEqual(['4', '9']);
  });
});
