import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ApprovalsService, type Decided } from '../approvals/approvals.service.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { AccountErasure, ERASURE_ORDER, type ErasureAnnouncement, type ErasureStep } from '../users/account-erasure.service.js';
import { RunDto } from './dto/run.dto.js';
import { RunsRepository } from './runs.repository.js';

/**
 * The agent's work for a deleted account: the replies to its messages become tombstones, the
 * tool calls of those runs are blanked, and runs not finished yet are stopped.
 */
@Injectable()
export class RunsErasure implements ErasureStep, OnModuleInit {
  constructor(
    private readonly erasure: AccountErasure,
    private readonly runs: RunsRepository,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly bus: RealtimeBus,
    private readonly approvals: ApprovalsService,
  ) {}

  onModuleInit(): void {
    this.erasure.register(this, ERASURE_ORDER.runs);
  }

  async erase(userId: string, manager: EntityManager): Promise<ErasureAnnouncement | undefined> {
    const { ids, cancelled, running } = await this.runs.eraseRequested(userId, manager);
    if (!ids.length) return undefined;
    const { deleted, conversationIds } = await this.messages.erase({ runIds: ids }, manager);
    await this.conversations.forgetSummaries(conversationIds, manager);
    // A run cancelled before it started (or while it waited for approvals) is a change the
    // participants see, like any run's end; the calls it waited on are withdrawn.
    const ended: { run: RunDto; version: number }[] = [];
    const withdrawn: Decided[] = [];
    for (const run of cancelled) {
      const version = await this.conversations.takeVersion(run.conversationId, manager);
      if (version !== undefined) ended.push({ run: RunDto.from(run), version });
      withdrawn.push(...(await this.approvals.withdrawAll(run.id, null, 'The account that asked for it was deleted', manager)));
    }
    return () => {
      for (const { conversationId, id, seq, version } of deleted) this.bus.publish({ type: 'message.deleted', conversationId, messageId: id, seq, version });
      for (const { run, version } of ended) {
        this.bus.publish({ type: 'run.cancelled', conversationId: run.conversationId, run, version });
        // The runs queued behind a cancelled one may start.
        this.bus.publish({ type: 'run.queued', conversationId: run.conversationId });
      }
      for (const decided of withdrawn) this.approvals.announce(decided);
      // The instance executing each one stops it; its reply, already a tombstone, stays erased.
      for (const run of running) this.bus.publish({ type: 'run.cancel', conversationId: run.conversationId, runId: run.id });
    };
  }
}
