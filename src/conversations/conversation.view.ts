import type { AgentMode } from './conversation.entity.js';
import type { ParticipantRole } from './participant.entity.js';

/**
 * A conversation with every participant's own state (read marker, pin, archive): enough to render
 * it for any one of them, so a single event can serve every participant.
 */
export interface ConversationView {
  id: string;
  title: string;
  ownerId: string;
  agent: { mode: AgentMode; provider: string | null; model: string | null; systemPrompt: string | null; tools: string[] | null };
  lastSeq: number;
  /** The conversation's newest version: every change up to it is in this view (and in its messages). */
  version: number;
  lastMessageAt: string | null;
  createdAt: string;
  updatedAt: string;
  participants: ParticipantView[];
}

export interface ParticipantView {
  userId: string;
  role: ParticipantRole;
  lastReadSeq: number;
  pinned: boolean;
  archived: boolean;
}
