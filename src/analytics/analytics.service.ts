import { Injectable } from '@nestjs/common';
import { type AnalyticsQuery, type AnalyticsFiguresDto, type AnalyticsReportDto, type ModelTokensDto } from './dto/analytics.dto.js';
import { type AnalyticsRange, analyticsRange, bucketStarts, INTERVALS } from './analytics-range.js';
import { AnalyticsRepository, type BucketWidth, type FeedbackCounts, type LiveBucket, type StoredDay } from './analytics.repository.js';
import { addSummary, type BucketSummary, emptySummary, FINAL_RUN_STATUSES, percentiles } from './bucket-summary.js';

/**
 * A day is rolled up once it ended this long ago: a message or run stamped just before midnight
 * by a transaction still open at midnight has committed by then.
 */
const ROLLUP_GRACE_MS = 10 * 60_000;
const DAY_MS = INTERVALS.day.bucketMs;

const dayOf = (at: Date) => at.toISOString().slice(0, 10);

/** The end of the range's closed days: the days that ended ROLLUP_GRACE_MS ago or more. */
function closedDaysEnd(range: AnalyticsRange, now: Date): Date {
  const lastClosed = Math.floor((now.getTime() - ROLLUP_GRACE_MS) / DAY_MS) * DAY_MS;
  return new Date(Math.min(Math.max(lastClosed, range.from.getTime()), range.to.getTime()));
}

function tokensByModel(tokens: BucketSummary['tokens']): ModelTokensDto[] {
  return Object.entries(tokens)
    .map(([model, sum]) => ({ model, ...sum }))
    .sort((a, b) => b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens) || a.model.localeCompare(b.model));
}

function figures(summary: BucketSummary, feedback: FeedbackCounts = { up: 0, down: 0 }): AnalyticsFiguresDto {
  const { messages, runs } = summary;
  const rated = feedback.up + feedback.down;
  return {
    messages: { total: messages.user + messages.assistant + messages.system + messages.tool, ...messages },
    activeUsers: summary.activeUsers,
    conversations: { created: summary.conversationsCreated, active: summary.activeConversations },
    runs: { total: FINAL_RUN_STATUSES.reduce((sum, status) => sum + runs[status], 0), ...runs },
    ttftMs: percentiles(summary.ttftMs),
    durationMs: percentiles(summary.durationMs),
    tokens: tokensByModel(summary.tokens),
    feedback: { ...feedback, ratio: rated ? feedback.up / rated : null },
  };
}

/**
 * Service-wide analytics by UTC day or hour. Closed days come from their rollups (computed the
 * first time a range covers them); the current day, and every hourly range, from the tables.
 * Feedback is always read from the tables: a rating can change at any time.
 */
@Injectable()
export class AnalyticsService {
  constructor(private readonly analytics: AnalyticsRepository) {}

  async report(query: AnalyticsQuery, now = new Date()): Promise<AnalyticsReportDto> {
    const range = analyticsRange(query, now);
    const width: BucketWidth = range.interval === 'day' ? '1 day' : '1 hour';
    const closedEnd = range.interval === 'day' ? closedDaysEnd(range, now) : range.from;
    // The closed days' rollups first (the distinct counts read them), then the rest at once: the request waits for the slowest.
    const closed = closedEnd > range.from ? await this.rollups(range.from, closedEnd) : new Map<string, BucketSummary>();
    const [summaries, feedback, distinct] = await Promise.all([
      range.interval === 'day' ? this.days(range, closedEnd, closed) : this.hours(range),
      this.analytics.feedback(range.from, range.to, width),
      this.analytics.distinct({ fromDay: dayOf(range.from), toDay: dayOf(closedEnd) }, { from: closedEnd, to: range.to }),
    ]);

    const total = emptySummary();
    const totalFeedback = { up: 0, down: 0 };
    const buckets = bucketStarts(range).map((start) => {
      const key = start.toISOString();
      const summary = summaries.get(key) ?? emptySummary();
      const rated = feedback.get(key);
      addSummary(total, summary);
      totalFeedback.up += rated?.up ?? 0;
      totalFeedback.down += rated?.down ?? 0;
      return { start: key, end: new Date(start.getTime() + INTERVALS[range.interval].bucketMs).toISOString(), ...figures(summary, rated) };
    });
    total.activeUsers = distinct.users;
    total.activeConversations = distinct.conversations;
    return { from: range.from.toISOString(), to: range.to.toISOString(), interval: range.interval, buckets, total: figures(total, totalFeedback) };
  }

  private async hours(range: AnalyticsRange): Promise<Map<string, BucketSummary>> {
    const live = await this.analytics.live(range.from, range.to, '1 hour', false);
    return new Map([...live].map(([key, bucket]) => [key, bucket.summary]));
  }

  /** The closed days' rollups (by day), and the rest of the range live. */
  private async days(range: AnalyticsRange, closedEnd: Date, closed: Map<string, BucketSummary>): Promise<Map<string, BucketSummary>> {
    const live = closedEnd < range.to ? await this.analytics.live(closedEnd, range.to, '1 day', false) : new Map<string, LiveBucket>();
    const summaries = new Map<string, BucketSummary>();
    for (const [day, summary] of closed) summaries.set(`${day}T00:00:00.000Z`, summary);
    for (const [key, bucket] of live) summaries.set(key, bucket.summary);
    return summaries;
  }

  /** The rollups of the closed days [from, to), computing and storing the missing ones (in one pass over their span). */
  private async rollups(from: Date, to: Date): Promise<Map<string, BucketSummary>> {
    const stored = await this.analytics.storedDays(dayOf(from), dayOf(to));
    const missing = bucketStarts({ from, to, interval: 'day' }).filter((day) => !stored.has(dayOf(day)));
    if (!missing.length) return stored;
    const computed = await this.analytics.live(missing[0]!, new Date(missing.at(-1)!.getTime() + DAY_MS), '1 day', true);
    const days: StoredDay[] = missing.map((day) => {
      const bucket = computed.get(day.toISOString());
      return { day: dayOf(day), summary: bucket?.summary ?? emptySummary(), authorIds: bucket?.authorIds ?? [], conversationIds: bucket?.conversationIds ?? [] };
    });
    await this.analytics.storeDays(days);
    for (const day of days) stored.set(day.day, day.summary);
    return stored;
  }
}
