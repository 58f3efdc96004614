import { randomUUID } from 'node:crypto';
import type { AuthUser } from '../../../src/common/auth/auth-user.js';
import type { Ack } from '../../../src/chat/wire-events.js';
import type { ChatSocket } from '../../../src/gateway/chat-socket.js';
import { ackError } from '../../../src/gateway/ws-ack.js';

/** What the gateway's handlers use of a socket that passed the handshake: its user, its rooms. */
export interface FakeSocket {
  id: string;
  data: { user: AuthUser; conversations: Set<string>; typing: Map<string, Promise<unknown>> | undefined; unsentPageBytes: number };
  disconnected: boolean;
  rooms: Set<string>;
  join(room: string): Promise<void>;
  leave(room: string): Promise<void>;
}

export function fakeSocket(user: AuthUser): FakeSocket & ChatSocket {
  const socket: FakeSocket = {
    id: randomUUID(),
    data: { user, conversations: new Set(), typing: undefined, unsentPageBytes: 0 },
    disconnected: false,
    rooms: new Set(),
    async join(room) {
      socket.rooms.add(room);
    },
    async leave(room) {
      socket.rooms.delete(room);
    },
  };
  return socket as FakeSocket & ChatSocket;
}

/** A handler's answer as the client gets it: a thrown error becomes the error acknowledgement. */
export async function acked<T>(handler: Promise<Ack<T>>): Promise<Ack<T>> {
  try {
    return await handler;
  } catch (error) {
    return ackError(error);
  }
}
