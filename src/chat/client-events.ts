import { ConversationDto } from '../conversations/dto/conversation.dto.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { PayloadOf, ServerEventName, ServerToClientEvents } from './wire-events.js';

/** A server event with its payload, one member per name: a payload that does not fit its name does not compile. */
export type ClientEvent<K extends ServerEventName = ServerEventName> = {
  [Name in K]: { name: Name; payload: PayloadOf<ServerToClientEvents, Name> };
}[K];

/**
 * A domain event as a given user receives it, or undefined when it is not for clients. Socket.IO
 * and SSE both use this, so they deliver the same events with the same payloads. A top-level
 * `version` says which change of the conversation the event announces; events without one are
 * live only (deltas, tools, typing, presence) or per user (read markers, pins, archives).
 */
export function toClientEvent(event: RealtimeEvent, userId: string): ClientEvent | undefined {
  switch (event.type) {
    case 'message.created':
      return { name: 'message:created', payload: { message: event.message, version: event.message.version } };
    case 'message.updated':
      return { name: 'message:updated', payload: { message: event.message, version: event.message.version } };
    case 'message.deleted':
      return { name: 'message:deleted', payload: { conversationId: event.conversationId, messageId: event.messageId, version: event.version } };
    case 'conversation.updated':
      return {
        name: 'conversation:updated',
        payload: { conversation: ConversationDto.from(event.conversation, userId), ...(event.version !== undefined && { version: event.version }) },
      };
    case 'run.started':
      return { name: 'run:started', payload: { run: event.run } };
    case 'run.delta':
      return { name: 'run:delta', payload: { runId: event.runId, conversationId: event.conversationId, index: event.index, text: event.text } };
    case 'run.tool': {
      const { conversationId, runId, callId, name, status, args, result } = event;
      return { name: 'run:tool', payload: { conversationId, runId, callId, name, status, ...(args !== undefined && { args }), ...(result !== undefined && { result }) } };
    }
    case 'run.completed':
      return { name: 'run:completed', payload: { run: event.run, message: event.message, version: event.version } };
    case 'run.failed':
      return { name: 'run:failed', payload: { run: event.run, error: event.error, version: event.version } };
    case 'run.cancelled':
      return { name: 'run:cancelled', payload: { run: event.run, version: event.version } };
    case 'typing':
      return { name: 'typing', payload: { conversationId: event.conversationId, userId: event.userId, isTyping: event.isTyping } };
    case 'presence':
      return { name: 'presence', payload: { conversationId: event.conversationId, online: event.online } };
    case 'document.updated':
      return { name: 'document:updated', payload: { document: event.document } };
    case 'approval.requested':
      return { name: 'approval:requested', payload: { approval: event.approval } };
    case 'approval.resolved':
      return { name: 'approval:resolved', payload: { approval: event.approval } };
    default:
      return undefined;
  }
}
