import type { BroadcastOperator, Namespace, Socket } from 'socket.io';
import type { ClientEvent } from '../chat/client-events.js';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents } from '../chat/wire-events.js';
import type { AuthUser } from '../common/auth/auth-user.js';

/** What the gateway keeps on each socket of /chat. */
export interface SocketData {
  user: AuthUser;
  conversations: Set<string>;
  /** Per conversation, the socket's last typing change: the next one waits for it (none while it does not type). */
  typing: Map<string, Promise<unknown>> | undefined;
  /** Recovery pages read and not yet written to the transport, in bytes. */
  unsentPageBytes: number;
  expiry?: NodeJS.Timeout;
  unwatch?: () => void;
}

export type ChatNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export const conversationRoom = (id: string) => `conversation:${id}`;
export const userRoom = (id: string) => `user:${id}`;

/**
 * Emits a mapped domain event. Socket.IO types `emit` per name, and a union of names with a union
 * of payloads does not fit that signature; ClientEvent pairs each name with its own payload, so
 * widening here (and only here) loses nothing.
 */
export function emitEvent(target: ChatSocket | BroadcastOperator<ServerToClientEvents, SocketData>, event: ClientEvent): void {
  (target as { emit(name: ClientEvent['name'], payload: ClientEvent['payload']): boolean }).emit(event.name, event.payload);
}
