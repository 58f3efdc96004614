import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InProcessRealtimeBus } from '../realtime/realtime-bus.js';
import { RunCancellations } from './run-cancellations.service.js';

describe('RunCancellations (cross-instance cancel)', () => {
  let bus: InProcessRealtimeBus;
  let cancellations: RunCancellations;
  const cancel = (runId: string) => bus.publish({ type: 'run.cancel', conversationId: 'conversation-1', runId });

  beforeEach(() => {
    bus = new InProcessRealtimeBus();
    cancellations = new RunCancellations(bus);
    cancellations.onModuleInit();
  });
  afterEach(() => {
    cancellations.onModuleDestroy();
    vi.useRealTimers();
  });

  it('stops a run executing here when a cancel for it comes over the bus', () => {
    const abort = cancellations.track('run-1', 'conversation-1');
    const other = cancellations.track('run-2', 'conversation-1');
    cancel('run-1');
    expect(abort.signal.aborted).toBe(true);
    expect(abort.reason).toBe('cancelled');
    expect(other.signal.aborted).toBe(false);
  });

  it('stops a run as it starts here when the cancel came while it was claimed but not started', () => {
    cancel('run-1');
    const abort = cancellations.track('run-1', 'conversation-1');
    expect(abort.reason).toBe('cancelled');
    cancellations.release('run-1');
    expect(cancellations.track('run-1', 'conversation-1').signal.aborted).toBe(false);
  });

  it('forgets such a cancel after a minute', () => {
    vi.useFakeTimers();
    cancel('run-1');
    vi.advanceTimersByTime(60_001);
    cancel('run-2');
    expect(cancellations.track('run-1', 'conversation-1').signal.aborted).toBe(false);
    expect(cancellations.track('run-2', 'conversation-1').signal.aborted).toBe(true);
  });

  it('stops every run executing here on shutdown, each keeping the first reason it got', () => {
    const cancelled = cancellations.track('run-1', 'conversation-1');
    const running = cancellations.track('run-2', 'conversation-1');
    cancel('run-1');
    cancellations.abortAll();
    expect(cancelled.reason).toBe('cancelled');
    expect(running.reason).toBe('shutdown');
  });

  it('no longer reaches a released run: a later cancel waits for it to start again', () => {
    const abort = cancellations.track('run-1', 'conversation-1');
    cancellations.release('run-1');
    cancel('run-1');
    expect(abort.signal.aborted).toBe(false);
  });

  it('stops the runs of a deleted conversation, here or as they start, and no other', () => {
    const inDeleted = cancellations.track('run-1', 'conversation-1');
    const elsewhere = cancellations.track('run-2', 'conversation-2');
    bus.publish({ type: 'conversation.deleted', conversationId: 'conversation-1' });
    expect(inDeleted.reason).toBe('cancelled');
    expect(elsewhere.signal.aborted).toBe(false);
    // Claimed before the deletion, starting after it.
    expect(cancellations.track('run-3', 'conversation-1').reason).toBe('cancelled');
    expect(cancellations.track('run-4', 'conversation-2').signal.aborted).toBe(false);
  });
});
