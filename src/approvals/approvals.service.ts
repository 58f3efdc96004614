import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError, ErrorCode } from '../common/errors.js';
import type { RequestMeta } from '../common/http/request-meta.js';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor.js';
import { AuditService } from '../audit/audit.service.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { ApprovalEntity } from './approval.entity.js';
import { ApprovalsRepository, type Resolution } from './approvals.repository.js';
import { ApprovalDto, type ApprovalPageDto, type DecideApprovalDto, type ListApprovalsQuery } from './dto/approval.dto.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
type Position = [string, string];
const isPosition = (values: unknown[]): values is Position =>
  values.length === 2 && typeof values[0] === 'string' && !Number.isNaN(Date.parse(values[0])) && typeof values[1] === 'string' && UUID.test(values[1]);

/**
 * Who may decide a call: the user who asked the agent, while still a participant, and the owner.
 * Their own connections hear of it even when they have not joined the conversation (a phone).
 */
export function decidersOf(view: Pick<ConversationView, 'ownerId' | 'participants'>, requestedById: string | null): string[] {
  const asker = requestedById && view.participants.some((participant) => participant.userId === requestedById && participant.role !== 'viewer') ? [requestedById] : [];
  return [...new Set([view.ownerId, ...asker])];
}

function approvalNotFound(): AppError {
  return new AppError(HttpStatus.NOT_FOUND, ErrorCode.APPROVAL_NOT_FOUND, 'Approval not found');
}

/** What the decision changed, told once its transaction has committed. */
export interface Decided {
  approval: ApprovalEntity;
  requeued: boolean;
}

type DecideOutcome = { kind: 'gone' } | { kind: 'taken'; approval: ApprovalEntity } | { kind: 'decided' | 'expired'; decided: Decided };

/**
 * Decisions on tool calls that wait for a person. The user who asked the agent, or the
 * conversation's owner, decides; the first decision wins (a row lock orders concurrent ones, on any
 * instance) and is recorded in the audit trail in the same transaction. Once a run's calls are all
 * decided it goes back to the queue and whichever instance is free resumes it.
 */
@Injectable()
export class ApprovalsService {
  constructor(
    private readonly approvals: ApprovalsRepository,
    private readonly conversations: ConversationsService,
    private readonly audit: AuditService,
    private readonly bus: RealtimeBus,
    private readonly dataSource: DataSource,
  ) {}

  /** An approval of a conversation the caller takes part in (404 otherwise, as for the conversation). */
  async get(user: AuthUser, id: string): Promise<ApprovalDto> {
    return ApprovalDto.from(await this.readable(user, id));
  }

  async list(user: AuthUser, conversationId: string, query: ListApprovalsQuery): Promise<ApprovalPageDto> {
    await this.conversations.authorize(conversationId, user, 'read');
    const limit = query.limit ?? 50;
    const after = query.cursor === undefined ? undefined : decodeCursor<Position>(query.cursor, isPosition);
    const rows = await this.approvals.page({ conversationId, status: query.status, after: after && { at: after[0], id: after[1] }, limit: limit + 1 });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items.map((row) => ApprovalDto.from(row)),
      nextCursor: rows.length > limit && last ? encodeCursor([last.createdAt.toISOString(), last.id]) : null,
    };
  }

  /** Approves or denies a pending call: by the user who asked the agent or the owner; 409 once decided. */
  async decide(user: AuthUser, id: string, dto: DecideApprovalDto, request?: RequestMeta): Promise<ApprovalDto> {
    const approval = await this.readable(user, id);
    const { participant, view } = await this.conversations.authorize(approval.conversationId, user, 'read');
    // A viewer never decides, not even one who asked before being made a viewer.
    if (participant.role === 'viewer' || (approval.requestedById !== user.id && participant.role !== 'owner')) {
      throw new AppError(HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN, 'Only the user who asked the agent, or the conversation’s owner, can decide');
    }
    const resolution: Resolution = {
      status: dto.decision === 'approve' ? 'approved' : 'denied',
      decidedById: user.id,
      reason: dto.decision === 'deny' ? dto.reason || null : null,
    };
    const outcome = await this.dataSource.transaction(async (manager): Promise<DecideOutcome> => {
      const locked = await this.approvals.lock(id, approval.runId, manager);
      if (!locked) return { kind: 'gone' };
      if (locked.status !== 'pending') return { kind: 'taken', approval: locked };
      // Past its expiry the call is denied as expired, whoever comes first: the sweep or this decision.
      if (locked.expired) return { kind: 'expired', decided: await this.settle(locked, EXPIRED, manager) };
      return { kind: 'decided', decided: await this.settle(locked, resolution, manager, request) };
    });
    if (outcome.kind === 'gone') throw approvalNotFound();
    if (outcome.kind !== 'taken') this.announce(outcome.decided, decidersOf(view, approval.requestedById));
    if (outcome.kind === 'decided') return ApprovalDto.from(outcome.decided.approval);
    const current = outcome.kind === 'taken' ? outcome.approval : outcome.decided.approval;
    throw new AppError(HttpStatus.CONFLICT, ErrorCode.APPROVAL_DECIDED, `This call was already decided: ${current.status}`, {
      approvalStatus: current.status,
      decidedBy: current.decidedById,
    });
  }

  /**
   * Withdraws every pending call of a run that ended without them (cancelled, its account erased),
   * as denied by whoever ended it. Within the transaction that ends the run; announce afterwards.
   */
  async withdrawAll(runId: string, actorId: string | null, reason: string, manager: EntityManager): Promise<Decided[]> {
    const withdrawn = await this.approvals.resolveAllOfRun(runId, { status: 'denied', decidedById: actorId, reason }, manager);
    for (const approval of withdrawn) await this.recordDecision(approval, manager);
    return withdrawn.map((approval) => ({ approval, requeued: false }));
  }

  /**
   * Records a resolution of a locked pending approval with its audit event, and queues its run
   * again when nothing else of it waits. Within the caller's transaction.
   */
  async settle(approval: ApprovalEntity, resolution: Resolution, manager: EntityManager, request?: RequestMeta): Promise<Decided> {
    const resolved = (await this.approvals.resolve(approval.id, resolution, manager)) ?? approval;
    await this.recordDecision(resolved, manager, request);
    return { approval: resolved, requeued: await this.approvals.requeueIfDecided(approval.runId, manager) };
  }

  private recordDecision(approval: ApprovalEntity, manager: EntityManager, request?: RequestMeta): Promise<void> {
    return this.audit.record(
      {
        action: `approval.${approval.status as Resolution['status']}`,
        actorId: approval.decidedById,
        target: { type: 'approval', id: approval.id },
        conversationId: approval.conversationId,
        // The call's arguments and a denial's reason are the users' words: the trail names the tool and the run only.
        details: { runId: approval.runId, toolName: approval.toolName, toolCallId: approval.toolCallId },
        ...(request && { request }),
      },
      manager,
    );
  }

  /** Tells the participants (and the deciders' own connections), and wakes the instances when the run can go on. */
  announce({ approval, requeued }: Decided, notify?: string[]): void {
    const { conversationId } = approval;
    this.bus.publish({ type: 'approval.resolved', conversationId, approval: ApprovalDto.from(approval), ...(notify && { notify }) });
    if (requeued) this.bus.publish({ type: 'run.queued', conversationId });
  }

  private async readable(user: AuthUser, id: string): Promise<ApprovalEntity> {
    const approval = await this.approvals.findById(id);
    if (!approval) throw approvalNotFound();
    try {
      await this.conversations.authorize(approval.conversationId, user, 'read');
    } catch {
      // Someone outside the conversation learns nothing, not even that the approval exists.
      throw approvalNotFound();
    }
    return approval;
  }
}

/** How an expired call is resolved: denied, by nobody, with the reason the model is told. */
export const EXPIRED: Resolution = { status: 'expired', decidedById: null, reason: 'No one approved this call in time' };
