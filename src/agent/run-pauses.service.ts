import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { filter, type Subscription } from 'rxjs';
import { DataSource } from 'typeorm';
import { ApprovalsRepository } from '../approvals/approvals.repository.js';
import { ApprovalsService, decidersOf } from '../approvals/approvals.service.js';
import { ApprovalDto } from '../approvals/dto/approval.dto.js';
import { AppConfig } from '../config/app-config.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { MessageDto } from '../messages/dto/message.dto.js';
import type { MessageMetadata } from '../messages/message.entity.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { AgentStreamPart, CallDecision, ResumeFrom } from './agent-steps.js';
import { RunDto } from './dto/run.dto.js';
import { RunFailure } from './run-outcome.js';
import type { StreamPosition } from './reply-stream.js';
import type { RunEntity, RunUsage } from './run.entity.js';
import { RunsRepository } from './runs.repository.js';

type ApprovalNeeded = Extract<AgentStreamPart, { type: 'approval-needed' }>;

/** Where a resumed run goes on from. */
export interface ResumePoint {
  resume: ResumeFrom;
  reply: StreamPosition;
  metadata: Pick<MessageMetadata, 'toolCalls' | 'sources'>;
}

/** What the model is told about a call that did not run. */
function refusal(status: string, reason: string | null): string {
  if (status === 'expired') return 'No one approved this tool call in time; it was not run.';
  return `The user denied this tool call; it was not run.${reason ? ` Their reason: ${reason}` : ''}`;
}

type StopRequest = Extract<RealtimeEvent, { type: 'run.cancel' | 'message.deleted' }>;

/**
 * The most a paused run may store (its steps so far, with their tool results): each result is cut
 * at 32 KiB and a step runs at most 32 calls, yet many steps of many calls add up.
 */
const MAX_PAUSED_STATE_CHARS = 4 * 1024 * 1024;

/**
 * Runs that wait for people: a run whose model called tools that need approval is paused — its
 * loop, reply so far and usage stored in its row, its calls stored as approvals — and executes
 * nowhere until they are decided; then any instance resumes it from the row. Nothing of a paused
 * run lives in memory, so restarts and crashes lose nothing.
 */
@Injectable()
export class RunPauses implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('RunPauses');
  private subscription: Subscription | undefined;

  constructor(
    private readonly runs: RunsRepository,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly approvals: ApprovalsRepository,
    private readonly approvalsService: ApprovalsService,
    private readonly bus: RealtimeBus,
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  /**
   * A run that executes nowhere because it waits for approvals ends when it is asked to stop (its
   * reply deleted, its account erased) or when the message it answers is deleted — rather than
   * holding its conversation's later runs until someone decides. Every instance hears it; one
   * ends the run.
   */
  onModuleInit(): void {
    this.subscription = this.bus.events$
      .pipe(filter((event): event is StopRequest => event.type === 'run.cancel' || event.type === 'message.deleted'))
      .subscribe((event) => void this.stopPaused(event));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  private async stopPaused(event: StopRequest): Promise<void> {
    try {
      // A run executing somewhere is stopped by that instance (or ends by itself); this only ends those that wait.
      const runs = event.type === 'run.cancel' ? [await this.runs.findById(event.runId)] : await this.runs.findWaitingByTrigger(event.messageId);
      for (const run of runs) {
        if (run && (run.status === 'awaiting_approval' || (run.status === 'queued' && run.responseMessageId))) {
          await this.cancelWaiting(run.id, run.conversationId, null, 'paused');
        }
      }
    } catch (error) {
      this.logger.warn(`Could not stop a paused run: ${String(error)}`);
    }
  }

  /**
   * Pauses a run executing here, in one transaction: the run (awaiting_approval, with its state),
   * its reply's checkpoint and its approvals. False if the run ended meanwhile (cancelled).
   */
  async pause(
    run: RunEntity,
    needed: ApprovalNeeded,
    progress: { reply: StreamPosition & { messageId: string }; metadata: ResumePoint['metadata']; usage?: RunUsage },
    view: Pick<ConversationView, 'ownerId' | 'participants'>,
  ): Promise<boolean> {
    const { reply, metadata, usage } = progress;
    const state = { loop: needed.paused, reply: { content: reply.content, index: reply.index }, metadata };
    if (JSON.stringify(state).length > MAX_PAUSED_STATE_CHARS) {
      throw new RunFailure({ code: 'STATE_TOO_LARGE', message: 'The run has grown too large to wait for an approval; ask again with less' });
    }
    const created = await this.dataSource.transaction(async (manager) => {
      if (!(await this.runs.pause(run.id, state, usage, manager))) return undefined;
      await this.messages.checkpointReply(reply.messageId, reply.content, reply.index, manager);
      const calls = needed.calls.map(({ toolCallId, toolName, input }) => ({ toolCallId, toolName, input }));
      return this.approvals.createForRun(run, needed.paused.step, calls, this.config.agent.approvalTtlMs, manager);
    });
    if (!created) return false;
    const notify = decidersOf(view, run.requestedById);
    for (const approval of created) {
      this.bus.publish({ type: 'approval.requested', conversationId: run.conversationId, approval: ApprovalDto.from(approval), notify });
    }
    return true;
  }

  /** Where a run queued again after its approvals goes on from; undefined for a run that never paused. */
  async resumePoint(run: RunEntity): Promise<ResumePoint | undefined> {
    if (!run.loopState) return undefined;
    const decisions = new Map<string, CallDecision>();
    for (const approval of await this.approvals.decisionsOf(run.id, run.loopState.loop.step)) {
      decisions.set(approval.toolCallId, approval.status === 'approved' ? { approved: true } : { approved: false, reason: refusal(approval.status, approval.reason) });
    }
    const { loop, reply, metadata } = run.loopState;
    return { resume: { paused: loop, decisions, settled: new Map() }, reply, metadata };
  }

  /**
   * Cancels a run that executes nowhere — queued, or waiting for approvals — with its reply so
   * far kept, and its waiting calls withdrawn (denied, by whoever cancelled). Undefined if the run
   * is executing (the instance running it stops it) or has ended.
   */
  async cancelWaiting(runId: string, conversationId: string, actorId: string | null, only: 'waiting' | 'paused' = 'waiting'): Promise<RunDto | undefined> {
    const ended = await this.conversations.versioned(conversationId, async (manager, version) => {
      const run = await this.runs.cancelWaiting(runId, manager, only);
      if (!run) return undefined;
      const state = run.loopState;
      const message = run.responseMessageId
        ? await this.messages.finalizeReply(
            run.responseMessageId,
            { status: 'cancelled', metadata: { model: run.model, ...(run.usage && { usage: run.usage }), ...state?.metadata } },
            version,
            manager,
          )
        : undefined;
      const withdrawn = await this.approvalsService.withdrawAll(run.id, actorId, 'The run was cancelled', manager);
      return { run: RunDto.from(run), message: message && MessageDto.from(message), withdrawn };
    });
    if (!ended) return undefined;
    const { run, message, withdrawn } = ended.result;
    if (message) this.bus.publish({ type: 'message.updated', conversationId, message });
    this.bus.publish({ type: 'run.cancelled', conversationId, run, version: ended.version });
    for (const decided of withdrawn) this.approvalsService.announce(decided);
    // The runs queued behind it in the conversation may start now.
    this.bus.publish({ type: 'run.queued', conversationId });
    return run;
  }
}
