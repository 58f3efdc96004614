import { Injectable } from '@nestjs/common';
import { RunDto } from '../agent/dto/run.dto.js';
import { RunsRepository } from '../agent/runs.repository.js';
import { ApprovalsRepository } from '../approvals/approvals.repository.js';
import type { CallApproval, PausedReply, RecordedCall, ToolCall } from './reply-chunks.js';

/**
 * Where the replies of runs that paused for approvals stand, read from the run's stored loop
 * state and its approvals: what a useChat stream shows of a paused run, and what a client that
 * answers its approvals already holds. Also the calls a running reply has made, recorded as they
 * start and end, which its in-memory snapshot (text only) does not tell.
 */
@Injectable()
export class PausedReplies {
  constructor(
    private readonly runs: RunsRepository,
    private readonly approvals: ApprovalsRepository,
  ) {}

  /** The reply at its run's last pause; undefined for a run that never paused or has ended. */
  async of(runId: string): Promise<PausedReply | undefined> {
    const run = await this.runs.findById(runId);
    if (!run?.loopState) return undefined;
    const { loop, reply, metadata } = run.loopState;
    // The calls of the step it paused at: a provider may reuse call ids from one step to the next.
    const approvals = (await this.approvalsOf(runId)).filter((approval) => approval.step === loop.step);
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

  /** The calls a run has made so far, as `run:tool` tells them (a failed one's result is `{error}`). */
  async callsOf(runId: string): Promise<RecordedCall[]> {
    return (await this.runs.toolCallsOf(runId)).map(({ callId, name, status, arguments: args, result, error }) => ({
      callId,
      name,
      status,
      args,
      result: status === 'failed' ? { error } : result,
    }));
  }

  async approvalsOf(runId: string): Promise<(CallApproval & { step: number })[]> {
    return (await this.approvals.allOfRun(runId)).map(({ id, toolCallId, status, step }) => ({ id, toolCallId, status, step }));
  }

  /** A run of the conversation queued again once its approvals were decided, not picked up yet. */
  async requeued(conversationId: string): Promise<RunDto | undefined> {
    const run = await this.runs.findRequeued(conversationId);
    return run ? RunDto.from(run) : undefined;
  }
}
