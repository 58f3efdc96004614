import type { PayloadOf, SseEvents } from '../wire.js';
import type { ConversationState } from './state.js';

/** One server event with its payload: a Socket.IO event or an SSE frame (same names and payloads). */
export type ServerEventFrame = { [K in keyof SseEvents]: { event: K; payload: PayloadOf<SseEvents, K> } }[keyof SseEvents];

/** The events that change what a conversation's state holds. */
export const SYNC_EVENTS = [
  'message:created',
  'message:updated',
  'message:deleted',
  'conversation:updated',
  'run:delta',
  'run:completed',
  'run:failed',
  'run:cancelled',
] as const satisfies readonly (keyof SseEvents)[];

/** Applies one server event to the state; true when it revealed a gap, and recovery is due. */
export function applyServerEvent(state: ConversationState, frame: ServerEventFrame, via = 'event'): boolean {
  const label = `${via} ${frame.event}`;
  switch (frame.event) {
    case 'message:created':
    case 'message:updated':
      state.applyMessage(frame.payload.message, label);
      return observe(state, frame.payload.version, label);
    case 'message:deleted':
      if (frame.payload.version !== undefined) state.applyDeletion(frame.payload.messageId, frame.payload.conversationId, frame.payload.version, label);
      return observe(state, frame.payload.version, label);
    case 'conversation:updated': {
      // Events of several instances may arrive out of order: keep the newest state.
      const { conversation, version } = frame.payload;
      if (!state.conversation || conversation.version >= state.conversation.version) state.conversation = conversation;
      // Without a version it is per user (a read marker, pin or archive), not a change of the conversation.
      return version === undefined ? false : state.observeVersion(version);
    }
    case 'run:delta':
      state.applyDelta(frame.payload, via);
      return false;
    case 'run:snapshot':
      state.applySnapshot(frame.payload, label);
      return false;
    case 'run:completed':
      if (frame.payload.message) state.applyMessage(frame.payload.message, label);
      return observe(state, frame.payload.version, label);
    case 'run:failed':
    case 'run:cancelled':
      return endedWithoutMessage(state, frame.payload, label);
    default:
      return false;
  }
}

function observe(state: ConversationState, version: number | undefined, label: string): boolean {
  if (version !== undefined) return state.observeVersion(version);
  state.anomaly('missing-version', `${label} carries no version`);
  return false;
}

/**
 * run:failed and run:cancelled carry no message: their version is held only once the reply's
 * final state is, so one that arrives first calls for recovery.
 */
function endedWithoutMessage(state: ConversationState, payload: { run: { id: string; responseMessageId: string | null }; version?: number }, label: string): boolean {
  const { run, version } = payload;
  state.dropStream(run.id);
  // A run that ended before it had a reply (cancelled in the queue) changed nothing visible.
  if (!run.responseMessageId && version === undefined) return false;
  const reply = run.responseMessageId ? state.messages.get(run.responseMessageId) : undefined;
  if (version !== undefined && (!reply || reply.version < version) && version > state.version) {
    state.note(`${label} v${version} before its final reply: recover`);
    return true;
  }
  return observe(state, version, label);
}
