import { InitialSchema1795265668851 } from '../../migrations/1795265668851-InitialSchema.js';
import { ErasedAccountsHaveNoEmail1795300000000 } from '../../migrations/1795300000000-ErasedAccountsHaveNoEmail.js';
import { Sessions1795400000000 } from '../../migrations/1795400000000-Sessions.js';
import { ReplyStreamIndex1795450000000 } from '../../migrations/1795450000000-ReplyStreamIndex.js';
import { Versions1795500000000 } from '../../migrations/1795500000000-Versions.js';
import { StreamTickets1795600000000 } from '../../migrations/1795600000000-StreamTickets.js';
import { Documents1795700000000 } from '../../migrations/1795700000000-Documents.js';
import { DocumentChunks1795800000000 } from '../../migrations/1795800000000-DocumentChunks.js';
import { DocumentProcessingLease1795810000000 } from '../../migrations/1795810000000-DocumentProcessingLease.js';
import { DocumentChunkEmbeddings1795820000000 } from '../../migrations/1795820000000-DocumentChunkEmbeddings.js';
import { MessageAttachments1795830000000 } from '../../migrations/1795830000000-MessageAttachments.js';
import { AuditEvents1795900000000 } from '../../migrations/1795900000000-AuditEvents.js';
import { ConversationAgentTools1795910000000 } from '../../migrations/1795910000000-ConversationAgentTools.js';
import { Approvals1795920000000 } from '../../migrations/1795920000000-Approvals.js';
import { FeedbackAndAnalytics1795930000000 } from '../../migrations/1795930000000-FeedbackAndAnalytics.js';
import { ConversationRunsIdle1795940000000 } from '../../migrations/1795940000000-ConversationRunsIdle.js';

/** In order of application. New migrations are appended here as well as written to migrations/. */
export const MIGRATIONS = [
  InitialSchema1795265668851,
  ErasedAccountsHaveNoEmail1795300000000,
  Sessions1795400000000,
  ReplyStreamIndex1795450000000,
  Versions1795500000000,
  StreamTickets1795600000000,
  Documents1795700000000,
  DocumentChunks1795800000000,
  DocumentProcessingLease1795810000000,
  DocumentChunkEmbeddings1795820000000,
  MessageAttachments1795830000000,
  AuditEvents1795900000000,
  ConversationAgentTools1795910000000,
  Approvals1795920000000,
  FeedbackAndAnalytics1795930000000,
  ConversationRunsIdle1795940000000,
];
