import type { RunSnapshot } from '../agent/run-snapshots.service.js';
import type { RunDto, SendResultDto } from '../agent/dto/run.dto.js';
import type { ApprovalDto, WsDecideApprovalDto } from '../approvals/dto/approval.dto.js';
import type { SessionExpiredReason } from '../common/auth/auth-user.js';
import type { ConversationDto } from '../conversations/dto/conversation.dto.js';
import type { DocumentDto } from '../documents/dto/document.dto.js';
import type { MessageDto } from '../messages/dto/message.dto.js';
import type { CancelRunDto, ConversationRefDto, JoinDto, ReadDto, WsSendDto } from './dto/ws.dto.js';

/*
 * The wire contract: what clients receive (Socket.IO events, SSE `event:` frames) and what they
 * may send (Socket.IO events with their acknowledgements). Domain events on the realtime bus
 * (RealtimeEvent) are internal; toClientEvent maps them onto this.
 */

/** The contract's acknowledgement error codes; the specific reason goes in details. */
export type AckErrorCode = 'VALIDATION' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'RATE_LIMITED' | 'INTERNAL';

/** What every client event is answered with. */
export type Ack<T = unknown> = { ok: true; data: T } | { ok: false; error: { code: AckErrorCode; message: string; details?: unknown } };

type AckCallback<T> = (response: Ack<T>) => void;

/** A tool call of a run as clients see it (spelled out: a field added to the bus event is not public by accident). */
export interface RunToolPayload {
  conversationId: string;
  runId: string;
  callId: string;
  name: string;
  status: 'started' | 'completed' | 'failed';
  args?: unknown;
  result?: unknown;
}

/**
 * Every event the server sends, by name. A top-level `version` says which change of the
 * conversation the event announces; events without one are live only (deltas, tools, typing,
 * presence) or per user (read markers, pins, archives).
 */
export interface ServerToClientEvents {
  'message:created': (payload: { message: MessageDto; version: number }) => void;
  'message:updated': (payload: { message: MessageDto; version: number }) => void;
  'message:deleted': (payload: { conversationId: string; messageId: string; version: number }) => void;
  /** The conversation as the receiving user sees it (their unread count, pin and archive). */
  'conversation:updated': (payload: { conversation: ConversationDto; version?: number }) => void;
  'run:started': (payload: { run: RunDto }) => void;
  /** `index` counts the run's deltas from 0, without gaps. */
  'run:delta': (payload: { runId: string; conversationId: string; index: number; text: string }) => void;
  'run:tool': (payload: RunToolPayload) => void;
  'run:completed': (payload: { run: RunDto; message: MessageDto; version: number }) => void;
  'run:failed': (payload: { run: RunDto; error: { code: string; message: string }; version: number }) => void;
  'run:cancelled': (payload: { run: RunDto; version: number }) => void;
  /** Not echoed to the typist. */
  typing: (payload: { conversationId: string; userId: string; isTyping: boolean }) => void;
  presence: (payload: { conversationId: string; online: string[] }) => void;
  /**
   * A document's processing moved on (ready or failed), as GET /documents/:id shows it: to the
   * conversation for its documents, to the owner's own connections for a private one.
   */
  'document:updated': (payload: { document: DocumentDto }) => void;
  /**
   * The agent wants to call a tool that needs a person's approval: its run waits
   * (awaiting_approval) until the user who asked or the owner decides (`approval:decide`).
   */
  'approval:requested': (payload: { approval: ApprovalDto }) => void;
  /** A waiting call was approved, denied, expired or withdrawn (its run cancelled). */
  'approval:resolved': (payload: { approval: ApprovalDto }) => void;
  /** The connection's session ended (or its access token expired): the connection closes next. */
  'session:expired': (payload: { reason: SessionExpiredReason }) => void;
  /** Events may have been lost (a Redis outage): re-join these conversations from the last version. */
  resync: (payload: { conversationIds: string[] }) => void;
  /** This instance is stopping; the client reconnects (to another one). Socket.IO only. */
  'server:shutdown': (payload: { reconnect: true }) => void;
}

export type ServerEventName = keyof ServerToClientEvents;

/** The payload of an event of `Events`, by name (for a union of names, the union of their payloads). */
export type PayloadOf<Events, K extends keyof Events> = K extends unknown ? (Events[K] extends (payload: infer P) => void ? P : never) : never;

/**
 * Every server event with where it comes from: `bus` events are domain events that toClientEvent
 * maps for a client; `transport` events are sent by the connection itself (its session ending, a
 * resync after a bus outage, a shutdown). The annotation keeps this list and the interface equal.
 */
export const SERVER_EVENTS: Record<ServerEventName, 'bus' | 'transport'> = {
  'message:created': 'bus',
  'message:updated': 'bus',
  'message:deleted': 'bus',
  'conversation:updated': 'bus',
  'run:started': 'bus',
  'run:delta': 'bus',
  'run:tool': 'bus',
  'run:completed': 'bus',
  'run:failed': 'bus',
  'run:cancelled': 'bus',
  typing: 'bus',
  presence: 'bus',
  'document:updated': 'bus',
  'approval:requested': 'bus',
  'approval:resolved': 'bus',
  'session:expired': 'transport',
  resync: 'transport',
  'server:shutdown': 'transport',
};

/** Frames only the SSE feed of a conversation sends. */
export interface SseOnlyEvents {
  /** The reply streaming when the feed opened, with its text so far: deltas up to `index` are not sent. */
  'run:snapshot': (payload: RunSnapshot) => void;
  /** The conversation was deleted or the reader removed from it: the stream ends. */
  'conversation:closed': (payload: { conversationId: string }) => void;
}

/** What an SSE feed sends. */
export type SseEvents = ServerToClientEvents & SseOnlyEvents;

type EndedRunEvent = 'run:completed' | 'run:failed' | 'run:cancelled';

/**
 * What the SSE response of POST …/messages sends: the message, then the run's events. A message
 * sent again whose run had already ended gets that end as the live event told it — except a run
 * that ended before it had a reply (cancelled while queued, its message deleted, interrupted by a
 * crash before its first token): no message carries the version of that end, so its event has none.
 */
export type RunStreamEvents = Omit<SseEvents, 'run:cancelled' | 'run:failed'> & {
  'run:cancelled': (payload: { run: RunDto; version?: number }) => void;
  'run:failed': (payload: { run: RunDto; error: { code: string; message: string }; version?: number }) => void;
};

/** The event that tells of a run that has ended, as the POST …/messages stream replays it. */
export type EndedRunEventFrame = {
  [K in EndedRunEvent]: { name: K; payload: Parameters<RunStreamEvents[K]>[0] };
}[EndedRunEvent];

/** Answer of `conversation:join`: the changes after `afterVersion`, the current version and the reply streaming now. */
export interface JoinResult {
  conversation: ConversationDto;
  changes: MessageDto[];
  hasMore: boolean;
  version: number;
  activeRun: RunSnapshot | null;
  /** Deprecated: with `afterSeq` (and no `afterVersion`), the messages created after it. */
  missed?: MessageDto[];
}

/** Every event a client may send, with its payload (validated as the DTO) and its acknowledgement. */
export interface ClientToServerEvents {
  'conversation:join': (payload: JoinDto, ack: AckCallback<JoinResult>) => void;
  'conversation:leave': (payload: ConversationRefDto, ack: AckCallback<{ conversationId: string }>) => void;
  'message:send': (payload: WsSendDto, ack: AckCallback<SendResultDto>) => void;
  'typing:start': (payload: ConversationRefDto, ack: AckCallback<{ conversationId: string }>) => void;
  'typing:stop': (payload: ConversationRefDto, ack: AckCallback<{ conversationId: string }>) => void;
  'conversation:read': (payload: ReadDto, ack: AckCallback<{ conversationId: string; seq: number }>) => void;
  'run:cancel': (payload: CancelRunDto, ack: AckCallback<RunDto>) => void;
  /** Approve or deny a waiting tool call, as POST /approvals/:id does (the first decision wins). */
  'approval:decide': (payload: WsDecideApprovalDto, ack: AckCallback<ApprovalDto>) => void;
}

export type ClientEventName = keyof ClientToServerEvents;

/** The acknowledgement a client event is answered with. */
export type AckOf<K extends ClientEventName> = Parameters<Parameters<ClientToServerEvents[K]>[1]>[0];

/** Every client event name, at runtime (the annotation keeps it equal to the interface). */
export const CLIENT_EVENT_NAMES = Object.keys({
  'conversation:join': true,
  'conversation:leave': true,
  'message:send': true,
  'typing:start': true,
  'typing:stop': true,
  'conversation:read': true,
  'run:cancel': true,
  'approval:decide': true,
} satisfies Record<ClientEventName, true>) as ClientEventName[];

/** Instances talk through the realtime bus, never through Socket.IO's serverSideEmit. */
export type InterServerEvents = Record<string, never>;
