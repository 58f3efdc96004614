import { ConversationState } from '@agent-chat/client';
import { describe, expect, it, vi } from 'vitest';
import { message } from './fixtures.js';

describe('ConversationState.applyDelta', () => {
  it('ignores a late delta of a finished reply, and applies one of a streaming reply', () => {
    const state = new ConversationState();
    state.applyMessage(message({ role: 'assistant', runId: 'done', status: 'complete' }));
    state.applyMessage(message({ role: 'assistant', runId: 'live', status: 'streaming', content: '' }));
    expect(state.applyDelta({ runId: 'done', index: 0, text: 'late' })).toBe(false);
    expect(state.applyDelta({ runId: 'live', index: 0, text: 'Hi' })).toBe(true);
    expect(state.streams.has('done')).toBe(false);
    expect(state.streams.get('live')).toEqual({ text: 'Hi', index: 0, exact: true });
  });

  it('does not scan the messages for every delta', () => {
    const state = new ConversationState();
    for (let i = 0; i < 1000; i++) state.applyMessage(message({ role: 'assistant', runId: `run${i}` }));
    const scan = vi.spyOn(state.messages, 'values');
    for (let index = 0; index < 100; index++) state.applyDelta({ runId: 'streaming', index, text: 'x' });
    expect(scan).not.toHaveBeenCalled();
    expect(state.streams.get('streaming')?.text).toBe('x'.repeat(100));
  });
});
