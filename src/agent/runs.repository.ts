import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In } from 'typeorm';
import { rowsOf } from '../database/query-rows.js';
import { RunEntity as Run, type RunEntity, type RunError, type RunStatus, type RunUsage } from './run.entity.js';
import { ToolInvocationEntity } from './tool-invocation.entity.js';

const ACTIVE: RunStatus[] = ['queued', 'running'];

/** Every query on agent runs and tool invocations. */
@Injectable()
export class RunsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private runs(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(Run);
  }

  async create(
    fields: Pick<RunEntity, 'conversationId' | 'triggerMessageId' | 'requestedById' | 'provider' | 'model'>,
    manager?: EntityManager,
  ): Promise<RunEntity> {
    return this.runs(manager).save(this.runs(manager).create({ ...fields, status: 'queued' }));
  }

  findById(id: string): Promise<RunEntity | null> {
    return this.runs().findOneBy({ id });
  }

  findInConversation(conversationId: string, id: string): Promise<RunEntity | null> {
    return this.runs().findOneBy({ conversationId, id });
  }

  findByTrigger(triggerMessageId: string): Promise<RunEntity | null> {
    return this.runs().findOne({ where: { triggerMessageId }, order: { createdAt: 'DESC' } });
  }

  /** The run in progress in a conversation, if any (for snapshots on join / resume). */
  findActive(conversationId: string): Promise<RunEntity | null> {
    return this.runs().findOne({ where: { conversationId, status: 'running' }, order: { createdAt: 'ASC' } });
  }

  /** Moves a queued run to running; false if it was cancelled meanwhile. */
  async start(id: string, instanceId: string, responseMessageId: string): Promise<boolean> {
    const result = await this.runs()
      .createQueryBuilder()
      .update()
      .set({ status: 'running', startedAt: () => 'now()', heartbeatAt: () => 'now()', instanceId, responseMessageId })
      .where('id = :id AND status = :queued', { id, queued: 'queued' })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /** Ends an active run; returns the updated row, or undefined if it had already ended. */
  async finish(id: string, status: Exclude<RunStatus, 'queued' | 'running'>, fields: { usage?: RunUsage | null; error?: RunError | null } = {}): Promise<RunEntity | undefined> {
    const rows = rowsOf<{ id: string }>(
      await this.dataSource.query(
        `UPDATE agent_runs SET status = $2, usage = $3, error = $4, finished_at = now()
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING id`,
        [id, status, fields.usage ? JSON.stringify(fields.usage) : null, fields.error ? JSON.stringify(fields.error) : null],
      ),
    );
    return rows.length ? ((await this.findById(id)) ?? undefined) : undefined;
  }

  async heartbeat(id: string): Promise<void> {
    await this.runs().update({ id, status: 'running' }, { heartbeatAt: () => 'now()' });
  }

  /** Runs still queued, oldest first (re-queued after a restart). */
  findQueued(): Promise<RunEntity[]> {
    return this.runs().find({ where: { status: 'queued' }, order: { createdAt: 'ASC' } });
  }

  /** Runs that were running when their process died. */
  findRunning(): Promise<RunEntity[]> {
    return this.runs().find({ where: { status: In(['running']) } });
  }

  async countActive(conversationId: string): Promise<number> {
    return this.runs().count({ where: { conversationId, status: In(ACTIVE) } });
  }

  /** Runs started and tokens used by the user since the start of the current UTC day. */
  async usageToday(userId: string): Promise<{ runs: number; tokens: number }> {
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS runs,
              coalesce(sum(coalesce((usage->>'inputTokens')::bigint, 0) + coalesce((usage->>'outputTokens')::bigint, 0)), 0)::bigint AS tokens
       FROM agent_runs WHERE requested_by_id = $1 AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
      [userId],
    );
    return { runs: row.runs, tokens: Number(row.tokens) };
  }

  async recordToolStart(fields: { runId: string; callId: string; name: string; arguments: unknown }): Promise<string> {
    const repo = this.dataSource.getRepository(ToolInvocationEntity);
    const saved = await repo.save(repo.create({ ...fields, arguments: fields.arguments ?? {}, status: 'started' }));
    return saved.id;
  }

  async recordToolEnd(id: string, outcome: { result?: unknown; error?: string }): Promise<void> {
    await this.dataSource.query(
      `UPDATE tool_invocations SET status = $2, result = $3, error = $4, finished_at = now(),
         duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
       WHERE id = $1`,
      [id, outcome.error === undefined ? 'completed' : 'failed', outcome.result === undefined ? null : JSON.stringify(outcome.result), outcome.error ?? null],
    );
  }

  findToolInvocations(runId: string): Promise<ToolInvocationEntity[]> {
    return this.dataSource.getRepository(ToolInvocationEntity).find({ where: { runId }, order: { startedAt: 'ASC' } });
  }
}
