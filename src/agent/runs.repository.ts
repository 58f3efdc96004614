import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In, IsNull, Not } from 'typeorm';
import { batchedRead, type GroupCommit } from '../database/group-commit.js';
import { runStatement, type Statement } from '../database/prepared-statements.js';
import { rowsOf } from '../database/query-rows.js';
import { ToolInvocationEntity } from './tool-invocation.entity.js';
import { type PausedRun, RunEntity as Run, type RunEntity, type RunError, type RunStatus, type RunUsage } from './run.entity.js';

/** A run row as the entity's fields, for RETURNING clauses (one round trip instead of write + read). */
const RUN_FIELDS = [
  'id',
  'conversation_id AS "conversationId"',
  'trigger_message_id AS "triggerMessageId"',
  'response_message_id AS "responseMessageId"',
  'requested_by_id AS "requestedById"',
  'status',
  'provider',
  'model',
  'usage',
  'error',
  'loop_state AS "loopState"',
  'instance_id AS "instanceId"',
  'heartbeat_at AS "heartbeatAt"',
  'created_at AS "createdAt"',
  'started_at AS "startedAt"',
  'finished_at AS "finishedAt"',
].join(', ');

function toRuns(result: unknown): RunEntity[] {
  return rowsOf<Partial<RunEntity>>(result).map((row) => Object.assign(new Run(), row));
}

/** RUN_FIELDS of the row `alias`, each named `<prefix><field>`: a run returned beside another row. */
export function prefixedRunFields(alias: string, prefix: string): string {
  return RUN_FIELDS.split(', ')
    .map((field) => {
      const [column, name = column] = field.split(' AS ');
      return `${alias}.${column} AS "${prefix}${name.replaceAll('"', '')}"`;
    })
    .join(', ');
}

/** The run read from a row that holds it under `prefix` (see prefixedRunFields); undefined if absent. */
export function runFromPrefixedRow(row: Record<string, unknown>, prefix: string): RunEntity | undefined {
  if (row[`${prefix}id`] === null || row[`${prefix}id`] === undefined) return undefined;
  const fields = Object.entries(row).filter(([key]) => key.startsWith(prefix)).map(([key, value]) => [key.slice(prefix.length), value]);
  return Object.assign(new Run(), Object.fromEntries(fields));
}

/**
 * created_at for a new run of the conversation `conversationId` (an SQL expression): now, but
 * always after the conversation's previous run, so that created_at alone orders its runs (the queue,
 * "the newest run"). The embedded database's clock counts milliseconds, and runs of sends that follow
 * each other closely would share it; a clock that steps back would reorder them. On PostgreSQL two
 * runs of one conversation are created under its lock (sends) or at distinct microseconds; the
 * embedded database runs one statement at a time.
 */
export const nextRunCreatedAt = (conversationId: string): string =>
  `greatest(clock_timestamp(), (SELECT max(prev.created_at) FROM agent_runs prev WHERE prev.conversation_id = ${conversationId}) + interval '1 microsecond')`;

/**
 * The run in progress (streaming, or paused for approval) of each conversation in $1, if any, with
 * the conversation's position there (`ord`). A run queued again after its approvals still has its
 * reply in progress.
 */
const ACTIVE_RUNS: Statement = {
  name: 'runs.active',
  text: `
    SELECT q.ord, ${prefixedRunFields('r', 'run_')}
    FROM unnest($1::uuid[]) WITH ORDINALITY AS q(conversation_id, ord)
    CROSS JOIN LATERAL (
      SELECT * FROM agent_runs r
      WHERE r.conversation_id = q.conversation_id
        AND (r.status IN ('running', 'awaiting_approval') OR (r.status = 'queued' AND r.response_message_id IS NOT NULL))
      ORDER BY r.created_at, r.id LIMIT 1
    ) r`,
};

/** Every query on agent runs and tool invocations. */
@Injectable()
export class RunsRepository {
  /** Joins come in storms (a deploy reconnects everyone): their lookups share statements. */
  private readonly actives: GroupCommit<string, RunEntity | null>;

  constructor(private readonly dataSource: DataSource) {
    this.actives = batchedRead(dataSource, (conversationIds) => this.findActiveMany(conversationIds));
  }

  private runs() {
    return this.dataSource.getRepository(Run);
  }

  async create(
    fields: Pick<RunEntity, 'conversationId' | 'triggerMessageId' | 'requestedById' | 'provider' | 'model'>,
  ): Promise<RunEntity> {
    const [run] = toRuns(
      await this.dataSource.query(
        `INSERT INTO agent_runs (conversation_id, trigger_message_id, requested_by_id, provider, model, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', ${nextRunCreatedAt('$1::uuid')}) RETURNING ${RUN_FIELDS}`,
        [fields.conversationId, fields.triggerMessageId, fields.requestedById, fields.provider, fields.model],
      ),
    );
    return run!;
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

  /** The runs answering a message that wait (for approvals, or queued again with their reply begun): a regenerate may queue behind a paused run. */
  async findWaitingByTrigger(triggerMessageId: string): Promise<RunEntity[]> {
    return toRuns(
      await this.dataSource.query(
        `SELECT ${RUN_FIELDS} FROM agent_runs
         WHERE trigger_message_id = $1 AND (status = 'awaiting_approval' OR (status = 'queued' AND response_message_id IS NOT NULL))
         ORDER BY created_at`,
        [triggerMessageId],
      ),
    );
  }

  /** The newest run a user asked for in a conversation that has not ended (queued, running or awaiting approval). */
  findUnfinishedBy(conversationId: string, requestedById: string): Promise<RunEntity | null> {
    return this.runs().findOne({
      where: { conversationId, requestedById, status: In(['queued', 'running', 'awaiting_approval']) },
      order: { createdAt: 'DESC' },
    });
  }

  /** The run in progress in a conversation (streaming, or paused for approval), if any: for snapshots on join / resume. */
  findActive(conversationId: string): Promise<RunEntity | null> {
    return this.actives.submit(conversationId);
  }

  /** findActive of several conversations in one statement, answered in the order asked. */
  private async findActiveMany(conversationIds: string[]): Promise<(RunEntity | null)[]> {
    const rows = await runStatement<Record<string, unknown> & { ord: string }>(this.dataSource, ACTIVE_RUNS, [conversationIds]);
    const found = conversationIds.map((): RunEntity | null => null);
    for (const row of rows) found[Number(row.ord) - 1] = runFromPrefixedRow(row, 'run_') ?? null;
    return found;
  }

  /**
   * A run of the conversation queued again once its approvals were decided that no instance has
   * picked up yet: it has a reply already (a fresh run gets one when it starts) and is first in line.
   */
  findRequeued(conversationId: string): Promise<RunEntity | null> {
    return this.runs().findOne({ where: { conversationId, status: 'queued', responseMessageId: Not(IsNull()) }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /**
   * Claims the conversation's oldest queued run for this instance, unless one of its runs is
   * already running anywhere or waits for an approval (the runs after it wait for it: their
   * context includes its reply). The conversation row lock makes the check and the claim atomic
   * across instances, so runs of a conversation execute one at a time and in order.
   */
  async claimNext(conversationId: string, instanceId: string): Promise<RunEntity | undefined> {
    return this.dataSource.transaction(async (manager) => {
      const locked = await manager.query(`SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE`, [conversationId]);
      if (!locked.length) return undefined;
      const [run] = toRuns(
        await manager.query(
          `UPDATE agent_runs SET status = 'running', instance_id = $2, started_at = now(), heartbeat_at = now()
           WHERE id = (
             SELECT id FROM agent_runs WHERE conversation_id = $1 AND status = 'queued' ORDER BY created_at, id LIMIT 1
           ) AND NOT EXISTS (SELECT 1 FROM agent_runs WHERE conversation_id = $1 AND status IN ('running', 'awaiting_approval'))
           RETURNING ${RUN_FIELDS}`,
          [conversationId, instanceId],
        ),
      );
      return run;
    });
  }

  /**
   * Cancels a run that executes nowhere (within a versioned change): queued, or paused for an
   * approval (or queued again after one); undefined if it is running (or has ended).
   */
  async cancelWaiting(id: string, manager: EntityManager, only: 'waiting' | 'paused' = 'waiting'): Promise<RunEntity | undefined> {
    // `paused`: awaiting approval, or queued again after its approvals (it has a reply already).
    const which = only === 'paused' ? `(status = 'awaiting_approval' OR (status = 'queued' AND response_message_id IS NOT NULL))` : `status IN ('queued', 'awaiting_approval')`;
    // The state is dropped from the row and returned as it was: the reply keeps its tool calls and sources.
    const [run] = toRuns(
      await manager.query(
        `UPDATE agent_runs SET status = 'cancelled', finished_at = now(), loop_state = NULL
         FROM (SELECT id AS paused_id, loop_state AS paused_state FROM agent_runs WHERE id = $1 FOR UPDATE) AS paused
         WHERE id = paused_id AND ${which}
         RETURNING ${RUN_FIELDS.replace('loop_state AS "loopState"', 'paused_state AS "loopState"')}`,
        [id],
      ),
    );
    return run;
  }

  /**
   * Pauses a running run until its calls are decided (within the pause's transaction): it keeps
   * where its loop stopped and the tokens used so far (quotas count them). Undefined if it is no
   * longer running (cancelled, or taken for dead meanwhile).
   */
  async pause(id: string, state: PausedRun, usage: RunUsage | undefined, manager: EntityManager): Promise<RunEntity | undefined> {
    const [run] = toRuns(
      await manager.query(
        `UPDATE agent_runs SET status = 'awaiting_approval', loop_state = $2, usage = coalesce($3, usage), instance_id = NULL, heartbeat_at = NULL
         WHERE id = $1 AND status = 'running' AND requested_by_id IS NOT NULL RETURNING ${RUN_FIELDS}`,
        [id, JSON.stringify(state), usage ? JSON.stringify(usage) : null],
      ),
    );
    return run;
  }

  async heartbeat(ids: string[]): Promise<void> {
    if (ids.length) await this.runs().update({ id: In(ids), status: 'running' }, { heartbeatAt: () => 'now()' });
  }

  /**
   * Running runs whose instance stopped heartbeating, or all of them (`staleMs` undefined: the
   * embedded database, which no other instance can share).
   */
  async findStale(staleMs?: number): Promise<{ id: string; conversationId: string }[]> {
    return this.dataSource.query(
      `SELECT id, conversation_id AS "conversationId" FROM agent_runs
       WHERE status = 'running' ${staleMs === undefined ? '' : `AND heartbeat_at < now() - make_interval(secs => $1::double precision / 1000)`}`,
      staleMs === undefined ? [] : [staleMs],
    );
  }

  /**
   * Puts a claimed run back in the queue when it never got going: no first token, no tool run, no
   * text, no pause — its instance stopped between the claim (made with the message, see
   * MessagesRepository) and the provider's answer. Whichever instance is free then answers it,
   * instead of it failing. `staleMs` as in interrupt; `instanceId`: only while that instance holds
   * it. Its reply row stays (empty, streaming) and is reused. Undefined if it made progress.
   */
  async requeueUntouched(id: string, only: { staleMs?: number | undefined; instanceId?: string }): Promise<string | undefined> {
    const params: unknown[] = [id];
    const stale = only.staleMs === undefined ? '' : `AND r.heartbeat_at < now() - make_interval(secs => $${params.push(only.staleMs)}::double precision / 1000)`;
    const held = only.instanceId === undefined ? '' : `AND r.instance_id = $${params.push(only.instanceId)}`;
    const rows: { conversation_id: string }[] = await this.dataSource.query(
      `UPDATE agent_runs r SET status = 'queued', instance_id = NULL, started_at = NULL
       WHERE r.id = $1 AND r.status = 'running' AND r.loop_state IS NULL AND r.first_token_at IS NULL ${stale} ${held}
         AND NOT EXISTS (SELECT 1 FROM tool_invocations t WHERE t.run_id = r.id)
         AND (r.response_message_id IS NULL OR EXISTS (
           SELECT 1 FROM messages m WHERE m.id = r.response_message_id AND m.status = 'streaming' AND m.content = ''))
       RETURNING r.conversation_id`,
      params,
    );
    return rows[0]?.conversation_id;
  }

  /** Marks a run found stale as interrupted (within a versioned change), unless it has ended or heartbeated since. */
  async interrupt(id: string, staleMs: number | undefined, manager: EntityManager): Promise<RunEntity | undefined> {
    const [run] = toRuns(
      await manager.query(
        // Its loop state goes (returned as it was: the reply keeps the calls made before a pause).
        `UPDATE agent_runs SET status = 'interrupted', finished_at = now(), loop_state = NULL,
           error = '{"code":"INTERRUPTED","message":"The server running this reply stopped; the text written so far is kept"}'
         FROM (SELECT id AS stale_id, loop_state AS stale_state FROM agent_runs WHERE id = $1 FOR UPDATE) AS stale
         WHERE id = stale_id AND status = 'running' ${staleMs === undefined ? '' : `AND heartbeat_at < now() - make_interval(secs => $2::double precision / 1000)`}
         RETURNING ${RUN_FIELDS.replace('loop_state AS "loopState"', 'stale_state AS "loopState"')}`,
        staleMs === undefined ? [id] : [id, staleMs],
      ),
    );
    return run;
  }

  /** Conversations with runs waiting (picked up by whichever instance is free). */
  async conversationsWithQueued(): Promise<string[]> {
    const rows: { conversation_id: string }[] = await this.dataSource.query(
      `SELECT DISTINCT conversation_id FROM agent_runs WHERE status = 'queued' LIMIT 1000`,
    );
    return rows.map((row) => row.conversation_id);
  }

  /**
   * Runs waiting across all instances: queued for an instance, and paused until their tool calls
   * are decided. Both counts use partial indexes (queued runs; pending approvals), never a scan
   * of every run.
   */
  async countWaiting(): Promise<{ queued: number; awaitingApproval: number }> {
    const [row] = await this.dataSource.query(
      `SELECT (SELECT count(*) FROM agent_runs WHERE status = 'queued')::int AS queued,
              (SELECT count(*) FROM agent_runs
                WHERE id IN (SELECT run_id FROM approvals WHERE status = 'pending') AND status = 'awaiting_approval')::int AS "awaitingApproval"`,
    );
    return { queued: row.queued, awaitingApproval: row.awaitingApproval };
  }

  /** Ends an active run (within a versioned change); returns the updated row, or undefined if it had already ended. */
  async finish(
    id: string,
    status: Exclude<RunStatus, 'queued' | 'running'>,
    fields: { usage?: RunUsage | null; error?: RunError | null },
    manager: EntityManager,
  ): Promise<RunEntity | undefined> {
    const [run] = toRuns(
      await manager.query(
        `UPDATE agent_runs SET status = $2, usage = $3, error = $4, finished_at = now(), loop_state = NULL
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING ${RUN_FIELDS}`,
        [id, status, fields.usage ? JSON.stringify(fields.usage) : null, fields.error ? JSON.stringify(fields.error) : null],
      ),
    );
    return run;
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

  /**
   * Erasure of the runs an account triggered (its messages) or requested: their tool calls lose
   * arguments, results and errors, queued ones are cancelled, and they no longer name the account.
   * Returns them, with those cancelled here and those still running (to be stopped).
   */
  async eraseRequested(
    userId: string,
    manager: EntityManager,
  ): Promise<{ ids: string[]; cancelled: RunEntity[]; running: { id: string; conversationId: string }[] }> {
    const runs: { id: string; conversation_id: string; status: RunStatus }[] = await manager.query(
      // Two indexed lookups rather than one OR across the join, which would scan every run.
      `SELECT id, conversation_id, status FROM agent_runs
       WHERE id IN (
         SELECT id FROM agent_runs WHERE requested_by_id = $1
         UNION SELECT r.id FROM agent_runs r JOIN messages m ON m.id = r.trigger_message_id WHERE m.author_id = $1
       )
       FOR UPDATE`,
      [userId],
    );
    const ids = runs.map((run) => run.id);
    if (!ids.length) return { ids, cancelled: [], running: [] };
    await manager.query(`UPDATE tool_invocations SET arguments = '{}', result = NULL, error = NULL WHERE run_id = ANY($1::uuid[])`, [ids]);
    // The calls the runs asked approval for lose their arguments too (those waiting are withdrawn by the caller).
    await manager.query(`UPDATE approvals SET input = '{}' WHERE run_id = ANY($1::uuid[])`, [ids]);
    const cancelled = toRuns(
      await manager.query(
        `UPDATE agent_runs SET status = 'cancelled', finished_at = now(), requested_by_id = NULL, loop_state = NULL
         WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'awaiting_approval') RETURNING ${RUN_FIELDS}`,
        [ids],
      ),
    );
    await manager.query(`UPDATE agent_runs SET requested_by_id = NULL WHERE id = ANY($1::uuid[])`, [ids]);
    const running = runs.filter((run) => run.status === 'running').map((run) => ({ id: run.id, conversationId: run.conversation_id }));
    return { ids, cancelled, running };
  }

  /**
   * Records the start of a tool call; undefined, and nothing written, when the run was erased
   * (its account deleted: the run no longer names who requested it) or deleted. The executing
   * instance hears that it must stop only after the erasure commits, so calls still come in.
   * The key-share lock waits for an erasure holding the run and then reads the run as it left it.
   */
  async recordToolStart(fields: { runId: string; callId: string; name: string; arguments: unknown }): Promise<string | undefined> {
    const [row] = rowsOf<{ id: string }>(
      await this.dataSource.query(
        `INSERT INTO tool_invocations (run_id, call_id, name, arguments, status)
         SELECT id, $2, $3, $4, 'started' FROM agent_runs WHERE id = $1 AND requested_by_id IS NOT NULL FOR KEY SHARE
         RETURNING id`,
        [fields.runId, fields.callId, fields.name, JSON.stringify(fields.arguments ?? {})],
      ),
    );
    return row?.id;
  }

  /** A run's recorded tool calls, in the order they started (those still running included). */
  toolCallsOf(runId: string): Promise<ToolInvocationEntity[]> {
    return this.dataSource.getRepository(ToolInvocationEntity).find({ where: { runId }, order: { startedAt: 'ASC', id: 'ASC' } });
  }

  /** Records how a tool call ended; false, and nothing written, once its run was erased (see recordToolStart). */
  async recordToolEnd(id: string, outcome: { result?: unknown; error?: string }, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await manager.query(
        `WITH run AS (
           SELECT r.id FROM agent_runs r JOIN tool_invocations t ON t.run_id = r.id
           WHERE t.id = $1 AND r.requested_by_id IS NOT NULL FOR KEY SHARE OF r
         )
         UPDATE tool_invocations SET status = $2, result = $3, error = $4, finished_at = now(),
           duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
         WHERE id = $1 AND run_id IN (SELECT id FROM run)
         RETURNING 1`,
        [id, outcome.error === undefined ? 'completed' : 'failed', outcome.result === undefined ? null : JSON.stringify(outcome.result), outcome.error ?? null],
      ),
    );
    return rows.length > 0;
  }
}
