import { beforeEach, describe, expect, it } from 'vitest';
import { InProcessRealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { RunsRepository } from './runs.repository.js';
import { ToolCallRecorder } from './tool-call-recorder.js';

const RUN = { id: 'run-1', conversationId: 'conversation-1' };
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
    const runs = {
      recordToolStart: async ({ callId }: { callId: string }) => (erased ? undefined : `invocation-${callId}`),
      recordToolEnd: async () => !erased,
    } as unknown as RunsRepository;
    recorder = new ToolCallRecorder(RUN, runs, bus);
  });

  it('records, announces and keeps each call with its outcome, and the sources search_history found', async () => {
    await recorder.started({ type: 'tool-call', toolCallId: 'c1', toolName: 'search_history', input: { query: 'fox' } });
    await recorder.completed({ type: 'tool-result', toolCallId: 'c1', toolName: 'search_history', input: { query: 'fox' }, output: [HIT] });
    await recorder.started({ type: 'tool-call', toolCallId: 'c2', toolName: 'calculator', input: {} });
    await recorder.failed({ type: 'tool-error', toolCallId: 'c2', toolName: 'calculator', input: {}, error: new Error('Empty expression') });

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
