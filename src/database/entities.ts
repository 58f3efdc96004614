import { RunEntity } from '../agent/run.entity.js';
import { ToolInvocationEntity } from '../agent/tool-invocation.entity.js';
import { AnalyticsDayEntity } from '../analytics/analytics-day.entity.js';
import { ApprovalEntity } from '../approvals/approval.entity.js';
import { AuditEventEntity } from '../audit/audit-event.entity.js';
import { RefreshTokenEntity } from '../auth/refresh-token.entity.js';
import { SessionEntity } from '../auth/session.entity.js';
import { StreamTicketEntity } from '../auth/stream-ticket.entity.js';
import { ConversationEntity } from '../conversations/conversation.entity.js';
import { ParticipantEntity } from '../conversations/participant.entity.js';
import { DocumentChunkEntity, DocumentContentEntity, DocumentEntity } from '../documents/document.entity.js';
import { MessageFeedbackEntity } from '../feedback/message-feedback.entity.js';
import { MessageEntity } from '../messages/message.entity.js';
import { UserEntity } from '../users/user.entity.js';

/** Listed explicitly: under ESM there is no reliable directory glob for compiled entities. */
export const ENTITIES = [
  UserEntity,
  SessionEntity,
  RefreshTokenEntity,
  StreamTicketEntity,
  ConversationEntity,
  ParticipantEntity,
  MessageEntity,
  RunEntity,
  ToolInvocationEntity,
  DocumentEntity,
  DocumentContentEntity,
  DocumentChunkEntity,
  AuditEventEntity,
  ApprovalEntity,
  MessageFeedbackEntity,
  AnalyticsDayEntity,
];
