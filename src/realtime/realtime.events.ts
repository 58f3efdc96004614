import type { ConversationView } from '../conversations/conversation.view.js';
import type { MessageDto } from '../messages/dto/message.dto.js';

/**
 * Domain events, published once and delivered by every transport (Socket.IO, SSE) to the
 * clients of the conversation. Payloads are plain JSON so they can cross instances over Redis.
 */
export type RealtimeEvent =
  | { type: 'message.created'; conversationId: string; message: MessageDto }
  | { type: 'message.updated'; conversationId: string; message: MessageDto }
  | { type: 'message.deleted'; conversationId: string; messageId: string; seq: number }
  | { type: 'conversation.updated'; conversationId: string; conversation: ConversationView }
  | { type: 'conversation.deleted'; conversationId: string }
  | { type: 'participant.removed'; conversationId: string; userId: string };

export type RealtimeEventType = RealtimeEvent['type'];
