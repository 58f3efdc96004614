import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { rowsOf } from '../database/query-rows.js';
import { ApprovalEntity, type ApprovalStatus } from './approval.entity.js';

/** An approval row as the entity's fields, for RETURNING clauses. */
const APPROVAL_FIELDS = [
  'id',
  'run_id AS "runId"',
  'conversation_id AS "conversationId"',
  'step',
  'tool_call_id AS "toolCallId"',
  'tool_name AS "toolName"',
  'input',
  'status',
  'requested_by_id AS "requestedById"',
  'decided_by_id AS "decidedById"',
  'decided_at AS "decidedAt"',
  'reason',
  'expires_at AS "expiresAt"',
  'created_at AS "createdAt"',
].join(', ');

function toApprovals(result: unknown): ApprovalEntity[] {
  return rowsOf<Partial<ApprovalEntity>>(result).map((row) => Object.assign(new ApprovalEntity(), row));
}

export interface NewApproval {
  toolCallId: string;
  toolName: string;
  input: unknown;
}

export interface Resolution {
  status: Exclude<ApprovalStatus, 'pending'>;
  decidedById: string | null;
  reason: string | null;
}

/** Every query on approvals. */
@Injectable()
export class ApprovalsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The approvals a paused run waits for (within the pause's transaction). */
  async createForRun(
    run: { id: string; conversationId: string; requestedById: string | null },
    step: number,
    calls: NewApproval[],
    ttlMs: number,
    manager: EntityManager,
  ): Promise<ApprovalEntity[]> {
    return toApprovals(
      await manager.query(
        // created_at in whole milliseconds: the page cursor carries it as a JavaScript date.
        `INSERT INTO approvals (run_id, conversation_id, step, tool_call_id, tool_name, input, requested_by_id, expires_at, created_at)
         SELECT $1, $2, $6, call->>'toolCallId', call->>'toolName', coalesce(call->'input', '{}'::jsonb), $3,
                now() + make_interval(secs => $5::double precision / 1000), date_trunc('milliseconds', now())
         FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS calls(call, position)
         ORDER BY position
         RETURNING ${APPROVAL_FIELDS}`,
        [run.id, run.conversationId, run.requestedById, JSON.stringify(calls), ttlMs, step],
      ),
    );
  }

  findById(id: string): Promise<ApprovalEntity | null> {
    return this.dataSource.getRepository(ApprovalEntity).findOneBy({ id });
  }

  /**
   * Locks an approval for a decision, its run first: every path that settles approvals (decisions,
   * expiry, cancel, erasure) locks the run and then its approvals, so they never deadlock, and
   * whoever settles the run's last pending call sees every other decision committed. The first
   * decision wins; the others wait, then see it.
   */
  async lock(id: string, runId: string, manager: EntityManager): Promise<(ApprovalEntity & { expired: boolean }) | undefined> {
    await manager.query(`SELECT 1 FROM agent_runs WHERE id = $1 FOR UPDATE`, [runId]);
    const [row] = rowsOf<Partial<ApprovalEntity> & { expired: boolean }>(
      await manager.query(`SELECT ${APPROVAL_FIELDS}, expires_at <= now() AS expired FROM approvals WHERE id = $1 FOR UPDATE`, [id]),
    );
    return row && Object.assign(new ApprovalEntity(), row);
  }

  /** Records a decision on a pending approval; undefined if it was no longer pending. */
  async resolve(id: string, resolution: Resolution, manager: EntityManager): Promise<ApprovalEntity | undefined> {
    const [approval] = toApprovals(
      await manager.query(
        `UPDATE approvals SET status = $2, decided_by_id = $3, reason = $4, decided_at = now()
         WHERE id = $1 AND status = 'pending' RETURNING ${APPROVAL_FIELDS}`,
        [id, resolution.status, resolution.decidedById, resolution.reason],
      ),
    );
    return approval;
  }

  /** Resolves every pending approval of a run the same way (the run was cancelled or erased). */
  async resolveAllOfRun(runId: string, resolution: Resolution, manager: EntityManager): Promise<ApprovalEntity[]> {
    return toApprovals(
      await manager.query(
        `UPDATE approvals SET status = $2, decided_by_id = $3, reason = $4, decided_at = now()
         WHERE run_id = $1 AND status = 'pending' RETURNING ${APPROVAL_FIELDS}`,
        [runId, resolution.status, resolution.decidedById, resolution.reason],
      ),
    );
  }

  /** Runs with pending approvals past their expiry, oldest first (read without locks: see lockExpiredOf). */
  async runsWithExpired(limit: number): Promise<string[]> {
    const rows: { run_id: string }[] = await this.dataSource.query(
      `SELECT run_id FROM approvals WHERE status = 'pending' AND expires_at <= now() GROUP BY run_id ORDER BY min(expires_at) LIMIT $1`,
      [limit],
    );
    return rows.map((row) => row.run_id);
  }

  /**
   * A run's pending approvals past their expiry, locked after the run (see lock). An instance
   * sweeping the same run at the same time skips it: none is expired twice.
   */
  async lockExpiredOf(runId: string, manager: EntityManager): Promise<ApprovalEntity[]> {
    const locked = rowsOf<unknown>(await manager.query(`SELECT 1 FROM agent_runs WHERE id = $1 FOR UPDATE SKIP LOCKED`, [runId]));
    if (!locked.length) return [];
    return toApprovals(
      await manager.query(`SELECT ${APPROVAL_FIELDS} FROM approvals WHERE run_id = $1 AND status = 'pending' AND expires_at <= now() FOR UPDATE`, [runId]),
    );
  }

  /**
   * Once none of its approvals is pending, the run goes back to the queue, first in its
   * conversation's line (the oldest run): any instance resumes it. True if it did.
   */
  async requeueIfDecided(runId: string, manager: EntityManager): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await manager.query(
        `UPDATE agent_runs SET status = 'queued', instance_id = NULL, heartbeat_at = NULL
         WHERE id = $1 AND status = 'awaiting_approval'
           AND NOT EXISTS (SELECT 1 FROM approvals WHERE run_id = $1 AND status = 'pending')
         RETURNING 1`,
        [runId],
      ),
    );
    return rows.length > 0;
  }

  /** Every approval of a run, in the order its steps asked for them. */
  async allOfRun(runId: string): Promise<ApprovalEntity[]> {
    return this.dataSource.getRepository(ApprovalEntity).find({ where: { runId }, order: { step: 'ASC', createdAt: 'ASC', id: 'ASC' } });
  }

  /** The decisions on the calls of one step of a run (read when it resumes). */
  async decisionsOf(runId: string, step: number): Promise<ApprovalEntity[]> {
    return this.dataSource.getRepository(ApprovalEntity).find({ where: { runId, step } });
  }

  /** A conversation's approvals, oldest first, after a keyset position. */
  async page(query: { conversationId: string; status?: ApprovalStatus; after?: { at: string; id: string }; limit: number }): Promise<ApprovalEntity[]> {
    const params: unknown[] = [query.conversationId, query.limit];
    let where = 'conversation_id = $1';
    if (query.status) where += ` AND status = $${params.push(query.status)}`;
    if (query.after) where += ` AND (created_at, id) > ($${params.push(query.after.at)}::timestamptz, $${params.push(query.after.id)}::uuid)`;
    return toApprovals(await this.dataSource.query(`SELECT ${APPROVAL_FIELDS} FROM approvals WHERE ${where} ORDER BY created_at, id LIMIT $2`, params));
  }
}
