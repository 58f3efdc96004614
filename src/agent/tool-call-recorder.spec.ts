import { beforeEach, describe, expect, it } from 'vitest';
import { InProcessRealtimeBus } from '../realtime/realtime-bus.js';
import type { MessageMetadata } from '../messages/message.entity.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { RunsRepository } from './runs.repository.js';
import type { ToolCallEnds } from './tool-call-ends.js';
import { ToolCallRecorder } from './tool-call-recorder.js';

const RUN = { id: 'run-1', conversationId: 'conversation-1', requestedById: 'user-1' };
const HIT = { messageId: 'message-1', conversationId: 'conversation-1', conversationTitle: 'Animals', seq: 3, excerpt: '**fox**', score: 0.2 };

describe('ToolCallRecorder', () => {
  let published: RealtimeEvent[];
  let erased: boolean;
  let recorder: ToolCallRecorder;

  beforeEach(() => {
    const bus = new InProcessRealtimeBus();
    published = [];
    bus.events$.subscribe((event) => published.push(event));
    erased = false;
    const runs = { recordToolStart: async ({ callId }: { callId: string }) => (erased ? undefined : `invocation-${callId}`) } as unknown as RunsRepository;
    const ends = { record: async () => !erased } as unknown as ToolCallEnds;
    recorder = new ToolCallRecorder(RUN, runs, ends, bus);
  });

  it('records, announces and keeps each call with its outcome, and the sources search_history found', async () => {
    await recorder.started({ type: 'tool-call', toolCallId: 'c1', toolName: 'search_history', input: { query: 'fox' } });
    await recorder.completed({ type: 'tool-result', toolCallId: 'c1', toolName: 'search_history', input: { query: 'fox' }, output: [HIT] });
    await recorder.started({ type: 'tool-call', toolCallId: 'c2', toolName: 'calculator', input: {} });
    await recorder.failed({ type: 'tool-error', toolCallId: 'c2', toolName: 'calculator', input: {}, error: 'Empty expression' });

    expect(recorder.any).toBe(true);
    expect(published).toEqual([
      { type: 'run.tool', conversationId: RUN.conversationId, runId: RUN.id, callId: 'c1', name: 'search_history', status: 'started', args: { query: 'fox' } },
      { type: 'run.tool', conversationId: RUN.conversationId, runId: RUN.id, callId: 'c1', name: 'search_history', status: 'completed', args: { query: 'fox' }, result: [HIT] },
      { type: 'run.tool', conversationId: RUN.conversationId, runId: RUN.id, callId: 'c2', name: 'calculator', status: 'started', args: {} },
      { type: 'run.tool', conversationId: RUN.conversationId, runId: RUN.id, callId: 'c2', name: 'calculator', status: 'failed', args: {}, result: { error: 'Empty expression' } },
    ]);
    expect(recorder.metadata).toEqual({
      toolCalls: [
        { callId: 'c1', name: 'search_history', args: { query: 'fox' }, result: [HIT] },
        { callId: 'c2', name: 'calculator', args: {}, error: 'Empty expression' },
      ],
      sources: [{ type: 'message', id: 'message-1', title: 'Animals', snippet: '**fox**', conversationId: 'conversation-1', seq: 3, score: 0.2 }],
    });
  });

  it('takes up the calls and sources of a run resumed after approvals', async () => {
    const earlier: Pick<MessageMetadata, 'toolCalls' | 'sources'> = {
      toolCalls: [{ callId: 'c0', name: 'calculator', args: {}, result: 4 }],
      sources: [{ type: 'message', id: 'message-1', title: 'Animals', snippet: 'fox', conversationId: 'conversation-1', seq: 3, score: 0.2 }],
    };
    const resumed = new ToolCallRecorder(RUN, { recordToolStart: async () => 'invocation' } as unknown as RunsRepository, { record: async () => true } as unknown as ToolCallEnds, new InProcessRealtimeBus(), earlier);
    expect(resumed.any).toBe(true);
    await resumed.started({ type: 'tool-call', toolCallId: 'c1', toolName: 'calculator', input: {} });
    await resumed.completed({ type: 'tool-result', toolCallId: 'c1', toolName: 'calculator', input: {}, output: 5 });
    expect(resumed.metadata.toolCalls!.map((call) => (call as { callId: string }).callId)).toEqual(['c0', 'c1']);
    expect(resumed.metadata.sources).toEqual(earlier.sources);
  });

  it('neither keeps nor shows the calls of a run erased with its account', async () => {
    erased = true;
    await recorder.started({ type: 'tool-call', toolCallId: 'c1', toolName: 'calculator', input: {} });
    await recorder.completed({ type: 'tool-result', toolCallId: 'c1', toolName: 'calculator', input: {}, output: 4 });

    expect(recorder.any).toBe(false);
    expect(published).toEqual([]);
    expect(recorder.metadata).toEqual({});
  });

  it('does not keep an outcome recorded after the run was erased', async () => {
    await recorder.started({ type: 'tool-call', toolCallId: 'c1', toolName: 'calculator', input: {} });
    erased = true;
    await recorder.completed({ type: 'tool-result', toolCallId: 'c1', toolName: 'calculator', input: {}, output: 4 });

    expect(published.map((event) => (event as { status: string }).status)).toEqual(['started']);
    expect(recorder.metadata).toEqual({});
  });
});
