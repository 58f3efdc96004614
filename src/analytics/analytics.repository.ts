import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { emptySummary, type BucketSummary, FINAL_RUN_STATUSES, type FinalRunStatus } from './bucket-summary.js';

/** Bucket widths, as PostgreSQL intervals. */
export type BucketWidth = '1 day' | '1 hour';

/** Buckets are aligned to UTC midnight whatever the session's time zone. */
const bucketOf = (column: string) => `date_bin($3::interval, ${column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')`;

/**
 * Milliseconds between two timestamps, rounded down to three significant digits (exact below one
 * second, within 1% above): a day's latencies then fit in a few hundred histogram entries.
 */
const latencyMs = (from: string, to: string) => `(SELECT CASE WHEN ms < 1000 THEN ms ELSE ms / p * p END
   FROM (SELECT ms, (10 ^ (length(ms::text) - 3))::bigint AS p
         FROM (SELECT greatest(0, round(extract(epoch FROM ${to} - ${from}) * 1000))::bigint AS ms) AS raw) AS scaled)`;

export interface LiveBucket {
  summary: BucketSummary;
  authorIds: string[];
  conversationIds: string[];
}

export interface FeedbackCounts {
  up: number;
  down: number;
}

export interface StoredDay {
  day: string;
  summary: BucketSummary;
  authorIds: string[];
  conversationIds: string[];
}

interface MessageBucketRow {
  bucket: Date;
  user: number;
  assistant: number;
  system: number;
  tool: number;
  active_users: number;
  active_conversations: number;
  author_ids: string[] | null;
  conversation_ids: string[] | null;
}

interface RunGroupRow {
  bucket: Date;
  grouping: number;
  status: FinalRunStatus | null;
  model: string | null;
  ttft: string | null;
  duration: string | null;
  runs: number;
  input_tokens: string;
  output_tokens: string;
}

/** GROUPING(status, model, ttft, duration) of each grouping set: a bit is set for each column left out. */
const BY_STATUS = 0b0111;
const BY_MODEL = 0b1011;
const BY_TTFT = 0b1101;
const BY_DURATION = 0b1110;

/** Every analytics query: aggregates over messages, conversations, runs and feedback by time, and the daily rollups. */
@Injectable()
export class AnalyticsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The summaries of the buckets of [from, to) that saw anything, read from the tables, keyed by
   * the bucket's start (ISO). With `ids`, each bucket's distinct authors and conversations too.
   */
  async live(from: Date, to: Date, width: BucketWidth, ids: boolean): Promise<Map<string, LiveBucket>> {
    const buckets = new Map<string, LiveBucket>();
    const at = (bucket: Date) => {
      const key = bucket.toISOString();
      let entry = buckets.get(key);
      if (!entry) buckets.set(key, (entry = { summary: emptySummary(), authorIds: [], conversationIds: [] }));
      return entry;
    };
    const params = [from.toISOString(), to.toISOString(), width];
    // Three statements on three connections at once: the request waits for the slowest, not the sum.
    const [messages, created, runs] = await Promise.all([
      this.messageBuckets(params, ids),
      this.dataSource.query(
        `SELECT ${bucketOf('created_at')} AS bucket, count(*)::int AS n FROM conversations
         WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
        params,
      ) as Promise<{ bucket: Date; n: number }[]>,
      this.runGroups(params),
    ]);
    for (const row of messages) {
      const entry = at(row.bucket);
      entry.summary.messages = { user: row.user, assistant: row.assistant, system: row.system, tool: row.tool };
      entry.summary.activeUsers = row.active_users;
      entry.summary.activeConversations = row.active_conversations;
      entry.authorIds = row.author_ids ?? [];
      entry.conversationIds = row.conversation_ids ?? [];
    }
    for (const row of created) at(row.bucket).summary.conversationsCreated = row.n;
    for (const row of runs) addRunGroup(at(row.bucket).summary, row);
    return buckets;
  }

  private messageBuckets(params: unknown[], ids: boolean): Promise<MessageBucketRow[]> {
    return this.dataSource.query(
      `SELECT ${bucketOf('created_at')} AS bucket,
              count(*) FILTER (WHERE role = 'user')::int AS "user",
              count(*) FILTER (WHERE role = 'assistant')::int AS assistant,
              count(*) FILTER (WHERE role = 'system')::int AS system,
              count(*) FILTER (WHERE role = 'tool')::int AS tool,
              count(DISTINCT author_id)::int AS active_users,
              count(DISTINCT conversation_id)::int AS active_conversations
              ${ids ? ', array_agg(DISTINCT author_id) FILTER (WHERE author_id IS NOT NULL) AS author_ids, array_agg(DISTINCT conversation_id) AS conversation_ids' : ''}
       FROM messages WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
      params,
    );
  }

  /** Runs that ended in each bucket: by status, tokens by model, and their latency histograms, in one scan. */
  private runGroups(params: unknown[]): Promise<RunGroupRow[]> {
    return this.dataSource.query(
      `WITH ended AS (
         SELECT ${bucketOf('finished_at')} AS bucket, status, model,
                coalesce((usage->>'inputTokens')::bigint, 0) AS input_tokens, coalesce((usage->>'outputTokens')::bigint, 0) AS output_tokens,
                CASE WHEN first_token_at IS NOT NULL THEN ${latencyMs('created_at', 'first_token_at')} END AS ttft,
                CASE WHEN status = 'completed' AND started_at IS NOT NULL THEN ${latencyMs('started_at', 'finished_at')} END AS duration
         FROM agent_runs
         WHERE finished_at >= $1 AND finished_at < $2 AND status IN (${FINAL_RUN_STATUSES.map((status) => `'${status}'`).join(', ')})
       )
       SELECT bucket, GROUPING(status, model, ttft, duration)::int AS grouping, status, model, ttft::text, duration::text,
              count(*)::int AS runs, sum(input_tokens)::text AS input_tokens, sum(output_tokens)::text AS output_tokens
       FROM ended
       GROUP BY GROUPING SETS ((bucket, status), (bucket, model), (bucket, ttft), (bucket, duration))`,
      params,
    );
  }

  /** Ratings given (or last changed) in each bucket of [from, to), as they stand. */
  async feedback(from: Date, to: Date, width: BucketWidth): Promise<Map<string, FeedbackCounts>> {
    const rows: { bucket: Date; up: number; down: number }[] = await this.dataSource.query(
      `SELECT ${bucketOf('updated_at')} AS bucket,
              count(*) FILTER (WHERE rating = 'up')::int AS up, count(*) FILTER (WHERE rating = 'down')::int AS down
       FROM message_feedback WHERE updated_at >= $1 AND updated_at < $2 GROUP BY 1`,
      [from.toISOString(), to.toISOString(), width],
    );
    return new Map(rows.map((row) => [row.bucket.toISOString(), { up: row.up, down: row.down }]));
  }

  /**
   * Distinct authors and conversations of a range: the closed days [fromDay, toDay) from their
   * rollups, and [from, to) from the messages (two statements, run at once).
   */
  async distinct(days: { fromDay: string; toDay: string }, live: { from: Date; to: Date }): Promise<{ users: number; conversations: number }> {
    const params = [days.fromDay, days.toDay, live.from.toISOString(), live.to.toISOString()];
    // DISTINCT in a subquery hashes; count(DISTINCT …) would sort.
    const count = async (stored: string, column: string) => {
      const [row] = (await this.dataSource.query(
        `SELECT count(*)::int AS n FROM (SELECT DISTINCT id FROM (
           SELECT unnest(${stored}) AS id FROM analytics_days WHERE day >= $1::date AND day < $2::date
           UNION ALL SELECT ${column} FROM messages WHERE created_at >= $3 AND created_at < $4 AND ${column} IS NOT NULL) AS ids) AS distinct_ids`,
        params,
      )) as { n: number }[];
      return row!.n;
    };
    const [users, conversations] = await Promise.all([count('author_ids', 'author_id'), count('conversation_ids', 'conversation_id')]);
    return { users, conversations };
  }

  /** The rollups of the days in [fromDay, toDay) that have one. */
  async storedDays(fromDay: string, toDay: string): Promise<Map<string, BucketSummary>> {
    const rows: { day: string; summary: BucketSummary }[] = await this.dataSource.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, summary FROM analytics_days WHERE day >= $1::date AND day < $2::date`,
      [fromDay, toDay],
    );
    return new Map(rows.map((row) => [row.day, row.summary]));
  }

  /** Stores rollups of closed days; a day another request stored meanwhile keeps that one (they are equal). */
  async storeDays(days: StoredDay[]): Promise<void> {
    if (!days.length) return;
    await this.dataSource.query(
      `INSERT INTO analytics_days (day, summary, author_ids, conversation_ids)
       SELECT r.day, r.summary,
              ARRAY(SELECT jsonb_array_elements_text(r.author_ids))::uuid[], ARRAY(SELECT jsonb_array_elements_text(r.conversation_ids))::uuid[]
       FROM jsonb_to_recordset($1::jsonb) AS r(day date, summary jsonb, author_ids jsonb, conversation_ids jsonb)
       ON CONFLICT (day) DO NOTHING`,
      [JSON.stringify(days.map((day) => ({ day: day.day, summary: day.summary, author_ids: day.authorIds, conversation_ids: day.conversationIds })))],
    );
  }
}

function addRunGroup(summary: BucketSummary, row: RunGroupRow): void {
  if (row.grouping === BY_STATUS && row.status) summary.runs[row.status] = row.runs;
  else if (row.grouping === BY_MODEL && row.model !== null) {
    summary.tokens[row.model] = { runs: row.runs, inputTokens: Number(row.input_tokens), outputTokens: Number(row.output_tokens) };
  } else if (row.grouping === BY_TTFT && row.ttft !== null) summary.ttftMs[row.ttft] = row.runs;
  else if (row.grouping === BY_DURATION && row.duration !== null) summary.durationMs[row.duration] = row.runs;
}
