import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RunAbort } from './run-abort.js';

describe('RunAbort', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('aborts with timeout when the whole run takes too long, however busy the provider', () => {
    const abort = new RunAbort();
    abort.startDeadlines({ runTimeoutMs: 1000, idleTimeoutMs: 300 });
    for (let elapsed = 0; elapsed < 1000; elapsed += 200) {
      abort.touch();
      vi.advanceTimersByTime(200);
    }
    expect(abort.reason).toBe('timeout');
  });

  it('aborts with idle when the provider sends nothing for the idle timeout, counted from the last touch', () => {
    const abort = new RunAbort();
    abort.startDeadlines({ runTimeoutMs: 10_000, idleTimeoutMs: 300 });
    vi.advanceTimersByTime(1000);
    expect(abort.signal.aborted).toBe(false);
    abort.touch();
    vi.advanceTimersByTime(299);
    abort.touch();
    vi.advanceTimersByTime(299);
    expect(abort.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(abort.reason).toBe('idle');
  });

  it('keeps the first reason', () => {
    const abort = new RunAbort();
    abort.abort('cancelled');
    abort.abort('shutdown');
    expect(abort.reason).toBe('cancelled');
    expect(abort.signal.reason).toBe('cancelled');
  });

  it('ends with its deadlines cleared and the signal aborted, without a reason', () => {
    const abort = new RunAbort();
    abort.startDeadlines({ runTimeoutMs: 1000, idleTimeoutMs: 300 });
    abort.touch();
    abort.end();
    vi.advanceTimersByTime(5000);
    expect(abort.signal.aborted).toBe(true);
    expect(abort.reason).toBeUndefined();
  });
});
