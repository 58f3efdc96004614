/*
 * The Socket.IO contract, as the server declares it (src/chat/wire-events.ts): the build emits
 * the server's own declarations next to this package's, so the two cannot drift apart.
 */
export type {
  Ack,
  AckErrorCode,
  AckOf,
  ClientEventName,
  ClientToServerEvents,
  JoinResult,
  PayloadOf,
  RunToolPayload,
  ServerEventName,
  ServerToClientEvents,
  SseEvents,
  SseOnlyEvents,
} from './generated/server/chat/wire-events.js';
export type { RunSnapshot } from './generated/server/agent/run-snapshots.service.js';
export type { RunDto } from './generated/server/agent/dto/run.dto.js';
export type { ConversationDto } from './generated/server/conversations/dto/conversation.dto.js';
export type { MessageDto } from './generated/server/messages/dto/message.dto.js';
export type { SessionExpiredReason } from './generated/server/common/auth/auth-user.js';
