import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TYPING_RELAY_INTERVAL_MS, TYPING_TTL_MS, TypingRelay } from './typing-relay.js';

describe('TypingRelay', () => {
  let relayed: { at: number; conversationId: string; userId: string; isTyping: boolean }[];
  let relay: TypingRelay;
  const start = Date.UTC(2030, 0, 1);

  beforeEach(() => {
    vi.useFakeTimers({ now: start });
    relayed = [];
    relay = new TypingRelay((conversationId, userId, isTyping) => relayed.push({ at: Date.now() - start, conversationId, userId, isTyping }));
  });
  afterEach(() => {
    relay.clear();
    vi.useRealTimers();
  });

  it('relays a start at once and expires it TYPING_TTL_MS after the last start', () => {
    relay.start('c', 'u');
    vi.advanceTimersByTime(3000);
    relay.start('c', 'u');
    vi.advanceTimersByTime(10_000);
    expect(relayed).toEqual([
      { at: 0, conversationId: 'c', userId: 'u', isTyping: true },
      { at: 3000 + TYPING_TTL_MS, conversationId: 'c', userId: 'u', isTyping: false },
    ]);
  });

  it('relays a change at once or when the interval since the last relay ends, and a change undone within it not at all', () => {
    relay.start('c', 'u');
    vi.advanceTimersByTime(500);
    relay.stop('c', 'u');
    vi.advanceTimersByTime(3000);
    relay.start('c', 'u');
    vi.advanceTimersByTime(2500);
    relay.stop('c', 'u');
    vi.advanceTimersByTime(500);
    relay.start('c', 'u');
    relay.stop('c', 'u');
    vi.advanceTimersByTime(10_000);
    expect(relayed.map(({ at, isTyping }) => ({ at, isTyping }))).toEqual([
      { at: 0, isTyping: true },
      { at: TYPING_RELAY_INTERVAL_MS, isTyping: false },
      { at: 2 * TYPING_RELAY_INTERVAL_MS, isTyping: true },
      { at: 6000, isTyping: false },
    ]);
  });

  it('turns a flood of alternating start/stop into at most one relay per interval, ending in the last state', () => {
    // 5,000 changes a second for 10 seconds.
    for (let i = 0; i < 50_000; i++) {
      if (i % 2 === 0) relay.start('c', 'u');
      else relay.stop('c', 'u');
      vi.advanceTimersByTime(0.2);
    }
    vi.advanceTimersByTime(TYPING_RELAY_INTERVAL_MS);
    expect(relayed.length).toBeLessThanOrEqual(10_000 / TYPING_RELAY_INTERVAL_MS + 1);
    for (let i = 1; i < relayed.length; i++) expect(relayed[i]!.at - relayed[i - 1]!.at).toBeGreaterThanOrEqual(TYPING_RELAY_INTERVAL_MS);
    expect(relayed.at(-1)!.isTyping).toBe(false);
  });

  it('keeps users and conversations apart, and forgets whoever has stopped', () => {
    relay.start('c', 'u');
    relay.start('c', 'v');
    relay.start('d', 'u');
    expect(relayed).toHaveLength(3);
    relay.stop('x', 'nobody');
    vi.advanceTimersByTime(TYPING_TTL_MS + TYPING_RELAY_INTERVAL_MS);
    expect(relayed.filter((r) => !r.isTyping)).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });
});
