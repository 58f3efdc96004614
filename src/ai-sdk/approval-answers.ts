import { Injectable } from '@nestjs/common';
import type { RunDto } from '../agent/dto/run.dto.js';
import { ApprovalsService } from '../approvals/approvals.service.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError, ErrorCode, fieldError } from '../common/errors.js';
import type { RequestMeta } from '../common/http/request-meta.js';
import type { ApprovalResponse } from './approval-responses.js';
import type { UiMessageDto } from './dto/ai-sdk.dto.js';
import { PausedReplies } from './paused-replies.js';
import type { Delivered, PausedReply } from './reply-chunks.js';

/** Tool part states that show a call's outcome. */
const SETTLED_STATES = new Set(['output-available', 'output-error', 'output-denied']);

/** What a client holds of a reply it received up to its run's pause. */
function deliveredAtPause(paused: PausedReply): Delivered {
  const settledIds = paused.toolCalls.map((call) => call.callId);
  return {
    content: paused.content,
    index: paused.index,
    toolCallIds: [...settledIds, ...paused.waiting.map((call) => call.toolCallId)],
    settledIds,
    sources: paused.sources,
  };
}

/** What a client holds of a reply whose run has ended since, by its own copy of the message. */
function deliveredTo(message: UiMessageDto): Delivered {
  const tools = message.parts.filter((part) => typeof part.toolCallId === 'string');
  return {
    content: message.parts.flatMap((part) => (part.type === 'text' ? [part.text as string] : [])).join(''),
    toolCallIds: tools.map((part) => part.toolCallId as string),
    settledIds: tools.filter((part) => SETTLED_STATES.has(part.state as string)).map((part) => part.toolCallId as string),
    sources: [],
  };
}

/** A 409 that says the call was already decided the way this response decides it: nothing to do. */
function alreadySo(error: unknown, response: ApprovalResponse): boolean {
  if (!(error instanceof AppError) || error.code !== ErrorCode.APPROVAL_DECIDED) return false;
  const status = error.details?.approvalStatus;
  // An expired call was not run: denying it asks for what happened.
  return response.approved ? status === 'approved' : status === 'denied' || status === 'expired';
}

/**
 * The approvals a useChat client answered (`addToolApprovalResponse`), decided as that user
 * through ApprovalsService: only the user who asked or the owner may (403 otherwise), and a
 * response sent again (a retried request) is not an error when the call was decided that way.
 */
@Injectable()
export class ApprovalAnswers {
  constructor(
    private readonly approvals: ApprovalsService,
    private readonly paused: PausedReplies,
  ) {}

  /**
   * Decides the responses to the calls of `run`, all checked before any is decided; returns what
   * the client already holds of the reply, from where the stream of its continuation starts.
   */
  async decide(user: AuthUser, run: RunDto, message: UiMessageDto, index: number, responses: ApprovalResponse[], request?: RequestMeta): Promise<Delivered> {
    const paused = await this.paused.of(run.id);
    const approvals = paused?.approvals ?? (await this.paused.approvalsOf(run.id));
    const waiting = paused?.run.status === 'awaiting_approval' ? paused.waiting.length : approvals.length;
    if (responses.length > waiting) {
      throw fieldError(`messages.${index}.parts`, `answers ${responses.length} approvals; the reply waits for ${waiting}`);
    }
    const byId = new Map(approvals.map((approval) => [approval.id, approval]));
    for (const response of responses) {
      if (byId.get(response.approvalId)?.toolCallId !== response.toolCallId) {
        throw fieldError(`messages.${index}.parts`, `approval ${response.approvalId} is not the approval of call ${response.toolCallId} of this reply`);
      }
    }
    for (const response of responses) await this.decideOne(user, response, request);
    return paused ? deliveredAtPause(paused) : deliveredTo(message);
  }

  private async decideOne(user: AuthUser, response: ApprovalResponse, request?: RequestMeta): Promise<void> {
    const decision = response.approved ? { decision: 'approve' as const } : { decision: 'deny' as const, ...(response.reason && { reason: response.reason }) };
    try {
      await this.approvals.decide(user, response.approvalId, decision, request);
    } catch (error) {
      if (!alreadySo(error, response)) throw error;
    }
  }
}
