import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RUN_STATUSES, type RunStatus } from '../agent/run.entity.js';
import type { AdminStatsDto, UserStatsDto } from './dto/stats.dto.js';

/** Read-only aggregates for the stats endpoints. */
@Injectable()
export class StatsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async forUser(userId: string): Promise<UserStatsDto> {
    const [row] = await this.dataSource.query(
      `SELECT
         (SELECT count(*) FROM conversation_participants p JOIN conversations c ON c.id = p.conversation_id
           WHERE p.user_id = $1 AND c.deleted_at IS NULL)::int AS conversations,
         (SELECT count(*) FROM messages WHERE author_id = $1 AND deleted_at IS NULL)::int AS messages_sent,
         (SELECT coalesce(sum(greatest(c.last_seq - p.last_read_seq, 0)), 0) FROM conversation_participants p
           JOIN conversations c ON c.id = p.conversation_id WHERE p.user_id = $1 AND c.deleted_at IS NULL)::int AS unread,
         (SELECT count(*) FROM agent_runs WHERE requested_by_id = $1)::int AS runs,
         (SELECT coalesce(sum((usage->>'inputTokens')::bigint), 0) FROM agent_runs WHERE requested_by_id = $1)::bigint AS input_tokens,
         (SELECT coalesce(sum((usage->>'outputTokens')::bigint), 0) FROM agent_runs WHERE requested_by_id = $1)::bigint AS output_tokens`,
      [userId],
    );
    return {
      conversations: row.conversations,
      messagesSent: row.messages_sent,
      unreadMessages: row.unread,
      agentRuns: row.runs,
      tokens: { input: Number(row.input_tokens), output: Number(row.output_tokens) },
    };
  }

  async totals(): Promise<Omit<AdminStatsDto, 'activeSockets'>> {
    const [row] = await this.dataSource.query(
      `SELECT
         (SELECT count(*) FROM users WHERE deleted_at IS NULL)::int AS users,
         (SELECT count(*) FROM conversations WHERE deleted_at IS NULL)::int AS conversations,
         (SELECT count(*) FROM messages WHERE deleted_at IS NULL)::int AS messages`,
    );
    const runs: { status: RunStatus; count: number }[] = await this.dataSource.query(
      `SELECT status, count(*)::int AS count FROM agent_runs GROUP BY status`,
    );
    const runsByStatus = Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as Record<RunStatus, number>;
    for (const { status, count } of runs) runsByStatus[status] = count;
    return { users: row.users, conversations: row.conversations, messages: row.messages, runsByStatus };
  }
}
