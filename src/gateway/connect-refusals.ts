import type { Socket } from 'socket.io';
import { cutOff } from './socket-backlog.js';

/**
 * Refused namespace connects one connection may ask for before it is closed. A client whose token
 * expired retries a few times on the same connection (each refusal is answered `connect_error`);
 * a client that keeps asking is flooding: every refusal costs a check and an answer, and the
 * connection carries no event budget before it has a socket.
 */
export const MAX_REFUSED_CONNECTS = 20;

const REFUSED = Symbol('refusedConnects');
type Counted = Socket['conn'] & { [REFUSED]?: number };

/**
 * Counts a refused connect on its connection (kept only on connections that were refused) and
 * closes the connection once past MAX_REFUSED_CONNECTS: that refusal and those still queued behind
 * it go unanswered (Socket.IO answers on the next tick, only while the connection is open).
 */
export function refusedConnect(socket: Socket): void {
  const conn = socket.conn as Counted;
  const refused = (conn[REFUSED] ?? 0) + 1;
  conn[REFUSED] = refused;
  if (refused > MAX_REFUSED_CONNECTS && conn.readyState === 'open') cutOff(conn);
}
