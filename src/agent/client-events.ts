import { ConversationDto } from '../conversations/dto/conversation.dto.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';

export interface ClientEvent {
  /** The event name on the wire (Socket.IO event, SSE `event:`). */
  name: string;
  payload: unknown;
}

/**
 * A domain event as a given user receives it, or undefined when it is not for clients. Socket.IO
 * and SSE both use this, so they deliver the same events with the same payloads.
 */
export function toClientEvent(event: RealtimeEvent, userId: string): ClientEvent | undefined {
  switch (event.type) {
    case 'message.created':
      return { name: 'message:created', payload: { message: event.message } };
    case 'message.updated':
      return { name: 'message:updated', payload: { message: event.message } };
    case 'message.deleted':
      return { name: 'message:deleted', payload: { conversationId: event.conversationId, messageId: event.messageId } };
    case 'conversation.updated':
      return { name: 'conversation:updated', payload: { conversation: ConversationDto.from(event.conversation, userId) } };
    case 'run.started':
      return { name: 'run:started', payload: { run: event.run } };
    case 'run.delta':
      return { name: 'run:delta', payload: { runId: event.runId, conversationId: event.conversationId, index: event.index, text: event.text } };
    case 'run.tool': {
      const { type: _type, ...payload } = event;
      return { name: 'run:tool', payload };
    }
    case 'run.completed':
      return { name: 'run:completed', payload: { run: event.run, message: event.message } };
    case 'run.failed':
      return { name: 'run:failed', payload: { run: event.run, error: event.error } };
    case 'run.cancelled':
      return { name: 'run:cancelled', payload: { run: event.run } };
    case 'typing':
      return { name: 'typing', payload: { conversationId: event.conversationId, userId: event.userId, isTyping: event.isTyping } };
    case 'presence':
      return { name: 'presence', payload: { conversationId: event.conversationId, online: event.online } };
    default:
      return undefined;
  }
}
