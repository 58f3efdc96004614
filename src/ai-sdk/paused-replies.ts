import { Injectable } from '@nestjs/common';
import { DataSource, IsNull, Not } from 'typeorm';
import { RunDto } from '../agent/dto/run.dto.js';
import { RunEntity } from '../agent/run.entity.js';
import { RunsRepository } from '../agent/runs.repository.js';
import { ApprovalsRepository } from '../approvals/approvals.repository.js';
import type { CallApproval, PausedReply, ToolCall } from './reply-chunks.js';

/**
 * Where the replies of runs that paused for approvals stand, read from the run's stored loop
 * state and its approvals: what a useChat stream shows of a paused run, and what a client that
 * answers its approvals already holds.
 */
@Injectable()
export class PausedReplies {
  constructor(
    private readonly runs: RunsRepository,
    private readonly approvals: ApprovalsRepository,
    private readonly dataSource: DataSource,
  ) {}

  /** The reply at its run's last pause; undefined for a run that never paused or has ended. */
  async of(runId: string): Promise<PausedReply | undefined> {
    const [run, approvals] = await Promise.all([this.runs.findById(runId), this.approvalsOf(runId)]);
    if (!run?.loopState) return undefined;
    const { loop, reply, metadata } = run.loopState;
    return {
      run: RunDto.from(run),
      content: reply.content,
      index: reply.index,
      toolCalls: (metadata.toolCalls ?? []) as ToolCall[],
      sources: metadata.sources ?? [],
      waiting: loop.calls.filter((_, index) => loop.results[index] === null),
      approvals,
    };
  }

  async approvalsOf(runId: string): Promise<CallApproval[]> {
    return (await this.approvals.decisionsOf(runId)).map(({ id, toolCallId, status }) => ({ id, toolCallId, status }));
  }

  /**
   * A run of the conversation queued again once its approvals were decided, that no instance has
   * picked up yet: its reply exists (a fresh run gets one when it starts), and it is first in line.
   */
  async requeued(conversationId: string): Promise<RunDto | undefined> {
    const run = await this.dataSource.getRepository(RunEntity).findOne({
      where: { conversationId, status: 'queued', responseMessageId: Not(IsNull()) },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    return run ? RunDto.from(run) : undefined;
  }
}
