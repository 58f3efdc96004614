import { describe, expect, it } from 'vitest';
import { addSummary, emptySummary, percentiles } from './bucket-summary.js';

describe('percentiles', () => {
  it('are the nearest rank of the histogram, null without values', () => {
    expect(percentiles({})).toEqual({ count: 0, p50: null, p95: null });
    expect(percentiles({ 300: 1, 100: 1, 200: 1, 400: 1 })).toEqual({ count: 4, p50: 200, p95: 400 });
    expect(percentiles({ 10: 19, 5000: 1 })).toEqual({ count: 20, p50: 10, p95: 10 });
    expect(percentiles({ 10: 18, 5000: 2 })).toEqual({ count: 20, p50: 10, p95: 5000 });
  });
});

describe('addSummary', () => {
  it('adds counts, histograms and tokens, and leaves the distinct counts to the caller', () => {
    const total = emptySummary();
    const day = { ...emptySummary(), activeUsers: 3, conversationsCreated: 2, ttftMs: { 100: 2 }, tokens: { m: { runs: 1, inputTokens: 5, outputTokens: 6 } } };
    day.messages.user = 4;
    day.runs.failed = 1;
    addSummary(total, day);
    addSummary(total, day);
    expect(total).toMatchObject({ activeUsers: 0, conversationsCreated: 4, ttftMs: { 100: 4 }, tokens: { m: { runs: 2, inputTokens: 10, outputTokens: 12 } } });
    expect(total.messages).toEqual({ user: 8, assistant: 0, system: 0, tool: 0 });
    expect(total.runs).toEqual({ completed: 0, failed: 2, cancelled: 0, interrupted: 0 });
  });
});
