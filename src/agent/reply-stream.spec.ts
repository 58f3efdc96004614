import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MessageEntity } from '../messages/message.entity.js';
import type { MessagesRepository } from '../messages/messages.repository.js';
import { InProcessRealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { ReplyStream } from './reply-stream.js';
import { RunEntity } from './run.entity.js';

const RUN = Object.assign(new RunEntity(), { id: 'run-1', conversationId: 'conversation-1', model: 'builtin', status: 'running', responseMessageId: null, createdAt: new Date(), startedAt: new Date(), finishedAt: null });
const REPLY = { id: 'reply-1', conversationId: 'conversation-1', seq: 2, version: 2, role: 'assistant', content: '', status: 'streaming', metadata: {}, attachments: [], createdAt: new Date(), editedAt: null, deletedAt: null } as unknown as MessageEntity;

describe('ReplyStream', () => {
  let published: RealtimeEvent[];
  let checkpoints: { id: string; content: string; index: number }[];
  let appended: number;
  let firstTokens: string[];
  let conversationGone: boolean;
  let reply: ReplyStream;

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    const bus = new InProcessRealtimeBus();
    published = [];
    bus.events$.subscribe((event) => published.push(event));
    checkpoints = [];
    appended = 0;
    firstTokens = [];
    conversationGone = false;
    const messages = {
      appendReply: async () => (appended++, conversationGone ? undefined : REPLY),
      checkpointReply: async (id: string, content: string, index: number) => void checkpoints.push({ id, content, index }),
      recordFirstToken: async (runId: string) => void firstTokens.push(runId),
    } as unknown as MessagesRepository;
    reply = new ReplyStream(RUN, messages, bus, { deltaIntervalMs: 50, checkpointMs: 1000 });
  });
  afterEach(() => vi.useRealTimers());

  const deltas = () => published.flatMap((event) => (event.type === 'run.delta' ? [{ index: event.index, text: event.text }] : []));

  it('publishes the first delta at once and merges what follows within the interval into the next', () => {
    reply.addText('Hel');
    reply.addText('lo');
    reply.addText(', wor');
    expect(deltas()).toEqual([{ index: 0, text: 'Hel' }]);
    expect(reply.position).toEqual({ content: 'Hel', index: 0 });

    vi.advanceTimersByTime(50);
    expect(deltas()).toEqual([{ index: 0, text: 'Hel' }, { index: 1, text: 'lo, wor' }]);
    expect(reply.position).toEqual({ content: 'Hello, wor', index: 1 });
  });

  it("records the run's first token once, when the first delta goes out, not for later ones nor after a resume", () => {
    expect(firstTokens).toEqual([]);
    reply.addText('Hel');
    expect(firstTokens).toEqual(['run-1']);
    reply.addText('lo');
    vi.advanceTimersByTime(50);
    reply.reattach('reply-1', reply.position);
    reply.addText(' again');
    vi.advanceTimersByTime(50);
    expect(deltas()).toHaveLength(3);
    expect(firstTokens).toEqual(['run-1']);
  });

  it('counts as untouched until some text arrives, published or not', () => {
    expect(reply.untouched).toBe(true);
    reply.addText('a');
    reply.addText('b');
    expect(reply.untouched).toBe(false);
  });

  it('publishes the pending text on flush, and nothing when none is pending', () => {
    reply.addText('a');
    reply.addText('b');
    reply.flush();
    reply.flush();
    expect(deltas()).toEqual([{ index: 0, text: 'a' }, { index: 1, text: 'b' }]);
    vi.advanceTimersByTime(1000);
    expect(deltas()).toHaveLength(2);
  });

  it('checkpoints the published text with its index once AGENT_CHECKPOINT_MS has passed, never the pending text', async () => {
    await reply.open();
    reply.addText('Hel');
    reply.addText('lo');
    await reply.checkpointIfDue();
    expect(checkpoints).toEqual([]);

    vi.advanceTimersByTime(1000);
    reply.addText('!');
    reply.addText('?');
    await reply.checkpointIfDue();
    await reply.checkpointIfDue();
    expect(checkpoints).toEqual([{ id: 'reply-1', content: 'Hello!', index: 2 }]);
  });

  it('opens once: the reply row, then message:created and run:started with the run pointing at it', async () => {
    expect(await reply.open()).toBe(true);
    expect(await reply.open()).toBe(true);
    expect(appended).toBe(1);
    expect(reply.messageId).toBe('reply-1');
    expect(published.map((event) => event.type)).toEqual(['message.created', 'run.started']);
    expect(published[1]).toMatchObject({ run: { id: 'run-1', responseMessageId: 'reply-1' } });
  });

  it('does not open in a conversation that is gone', async () => {
    conversationGone = true;
    expect(await reply.open()).toBe(false);
    expect(reply.messageId).toBe('');
    expect(published).toEqual([]);
  });
});
