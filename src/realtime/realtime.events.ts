import type { RunDto } from '../agent/dto/run.dto.js';
import type { ApprovalDto } from '../approvals/dto/approval.dto.js';
import type { SessionEndReason } from '../common/auth/auth-user.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import type { DocumentDto } from '../documents/dto/document.dto.js';
import type { MessageDto } from '../messages/dto/message.dto.js';

/**
 * Domain events, published once and delivered by every transport (Socket.IO, SSE) to the
 * clients of the conversation. Payloads are plain JSON so they can cross instances over Redis.
 * Those about a change carry the conversation version it took (messages carry theirs).
 */
export type RealtimeEvent =
  | { type: 'message.created'; conversationId: string; message: MessageDto }
  | { type: 'message.updated'; conversationId: string; message: MessageDto }
  | { type: 'message.deleted'; conversationId: string; messageId: string; seq: number; version: number }
  /** `version` when it announces a change that took one; none for read markers, pins and archives (per user). */
  | { type: 'conversation.updated'; conversationId: string; conversation: ConversationView; version?: number }
  | { type: 'conversation.deleted'; conversationId: string }
  | { type: 'participant.removed'; conversationId: string; userId: string }
  | { type: 'run.started'; conversationId: string; run: RunDto }
  | { type: 'run.delta'; conversationId: string; runId: string; index: number; text: string }
  | {
      type: 'run.tool';
      conversationId: string;
      runId: string;
      callId: string;
      name: string;
      status: 'started' | 'completed' | 'failed';
      args?: unknown;
      result?: unknown;
    }
  /** The version the run's end took (its reply's final state, when it has one). */
  | { type: 'run.completed'; conversationId: string; run: RunDto; message: MessageDto; version: number }
  | { type: 'run.failed'; conversationId: string; run: RunDto; error: { code: string; message: string }; version: number }
  | { type: 'run.cancelled'; conversationId: string; run: RunDto; version: number }
  /**
   * A tool call waits for a decision (its run is awaiting_approval), or was decided, expired or
   * withdrawn. `notify`: users who may decide, whose own connections get it too, joined or not.
   */
  | { type: 'approval.requested'; conversationId: string; approval: ApprovalDto; notify?: string[] }
  | { type: 'approval.resolved'; conversationId: string; approval: ApprovalDto; notify?: string[] }
  /** Internal: a run went back to the queue (its calls decided); whichever instance is free resumes it. */
  | { type: 'run.queued'; conversationId: string }
  /** Internal: asks whichever instance executes the run to stop it. */
  | { type: 'run.cancel'; conversationId: string; runId: string }
  /** Internal: asks whichever instance executes the run for its text so far (a join on another instance). */
  | { type: 'run.snapshot.request'; conversationId?: undefined; runId: string; requestId: string }
  /** Internal: the answer, from the instance executing the run: the text of deltas 0..index. */
  | { type: 'run.snapshot'; conversationId?: undefined; runId: string; requestId: string; content: string; index: number }
  | { type: 'typing'; conversationId: string; userId: string; isTyping: boolean }
  | { type: 'presence'; conversationId: string; online: string[] }
  /** A document's processing moved on: to its conversation, or (a private document) to its owner alone. */
  | { type: 'document.updated'; conversationId?: string; document: DocumentDto }
  /** Internal: an account was changed or deleted; instances drop what they cached of it. */
  | { type: 'user.changed'; conversationId?: undefined; userId: string }
  /** Sessions ended: their access tokens are refused, their sockets and SSE streams closed. */
  | { type: 'session.revoked'; conversationId?: undefined; userId: string; sessionIds: string[]; reason: SessionEndReason };

export type RealtimeEventType = RealtimeEvent['type'];

/** The event that tells a run has ended (an interrupted run is told as failed). */
export type RunEndEvent = Extract<RealtimeEvent, { type: 'run.completed' | 'run.failed' | 'run.cancelled' }>;

export function isRunEnd(event: RealtimeEvent): event is RunEndEvent {
  return event.type === 'run.completed' || event.type === 'run.failed' || event.type === 'run.cancelled';
}
