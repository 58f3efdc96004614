import type { RunStatus } from '../agent/run.entity.js';
import { MESSAGE_ROLES, type MessageRole } from '../messages/message.entity.js';

/** The statuses a run ends in: analytics count runs when they end. */
export const FINAL_RUN_STATUSES = ['completed', 'failed', 'cancelled', 'interrupted'] as const satisfies readonly RunStatus[];
export type FinalRunStatus = (typeof FINAL_RUN_STATUSES)[number];

export interface ModelTokens {
  runs: number;
  inputTokens: number;
  outputTokens: number;
}

/** Latency in milliseconds (see LATENCY_PRECISION) → how many runs took it. */
export type LatencyHistogram = Record<string, number>;

/**
 * What happened in one time bucket, in a form that adds up across buckets (the distinct counts
 * excepted: a range counts its distinct authors and conversations on its own).
 */
export interface BucketSummary {
  messages: Record<MessageRole, number>;
  activeUsers: number;
  activeConversations: number;
  conversationsCreated: number;
  runs: Record<FinalRunStatus, number>;
  ttftMs: LatencyHistogram;
  durationMs: LatencyHistogram;
  tokens: Record<string, ModelTokens>;
}

export function emptySummary(): BucketSummary {
  return {
    messages: Object.fromEntries(MESSAGE_ROLES.map((role) => [role, 0])) as Record<MessageRole, number>,
    activeUsers: 0,
    activeConversations: 0,
    conversationsCreated: 0,
    runs: Object.fromEntries(FINAL_RUN_STATUSES.map((status) => [status, 0])) as Record<FinalRunStatus, number>,
    ttftMs: {},
    durationMs: {},
    tokens: {},
  };
}

function addCounts<K extends string>(into: Record<K, number>, from: Partial<Record<K, number>>): void {
  for (const [key, value] of Object.entries(from) as [K, number][]) into[key] = (into[key] ?? 0) + value;
}

/** Adds `from` into `into`; the distinct counts are left to the caller. */
export function addSummary(into: BucketSummary, from: BucketSummary): void {
  addCounts(into.messages, from.messages);
  into.conversationsCreated += from.conversationsCreated;
  addCounts(into.runs, from.runs);
  addCounts(into.ttftMs, from.ttftMs);
  addCounts(into.durationMs, from.durationMs);
  for (const [model, tokens] of Object.entries(from.tokens)) {
    const sum = (into.tokens[model] ??= { runs: 0, inputTokens: 0, outputTokens: 0 });
    sum.runs += tokens.runs;
    sum.inputTokens += tokens.inputTokens;
    sum.outputTokens += tokens.outputTokens;
  }
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
}

/** The nearest-rank percentile: the smallest value that at least p of the values do not exceed. */
function nearestRank(sorted: [number, number][], count: number, p: number): number {
  const rank = Math.ceil(p * count);
  let seen = 0;
  for (const [value, n] of sorted) {
    seen += n;
    if (seen >= rank) return value;
  }
  return sorted.at(-1)![0];
}

export function percentiles(histogram: LatencyHistogram): Percentiles {
  const sorted = Object.entries(histogram)
    .map(([value, n]): [number, number] => [Number(value), n])
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a - b);
  const count = sorted.reduce((sum, [, n]) => sum + n, 0);
  if (!count) return { count: 0, p50: null, p95: null };
  return { count, p50: nearestRank(sorted, count, 0.5), p95: nearestRank(sorted, count, 0.95) };
}
