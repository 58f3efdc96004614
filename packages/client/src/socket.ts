import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { AckOf, ClientEventName, ClientToServerEvents, ServerToClientEvents } from './wire.js';
import type { AuthHooks } from './rest.js';

/** A Socket.IO socket of the /chat namespace, typed with the server's own event maps. */
export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ChatSocketOptions extends AuthHooks {
  baseUrl: string;
  /** Passed to socket.io-client (`auth` is the client's own). */
  socket?: Partial<Omit<ManagerOptions & SocketOptions, 'auth'>>;
}

/**
 * Connects to /chat with the access token read on every (re)connect. With `refresh`, a refused
 * handshake (`connect_error: unauthorized`) and an access token expiring on a live socket
 * (`session:expired {reason: "expired"}`) refresh the token and reconnect; a session that ended
 * (any other reason) stays disconnected, and its refresh fails too.
 */
export function connectChat(options: ChatSocketOptions): ChatSocket {
  let used: string | undefined;
  const socket: ChatSocket = io(`${options.baseUrl.replace(/\/+$/, '')}/chat`, {
    transports: ['websocket'],
    ...options.socket,
    auth: (cb) => {
      void (async () => {
        used = await options.getToken?.();
        cb({ token: used });
      })();
    },
  });
  if (options.refresh) reauthorize(socket, options.refresh, () => used);
  return socket;
}

function reauthorize(socket: ChatSocket, refresh: (stale: string) => Promise<string | undefined>, used: () => string | undefined): void {
  // One refresh per failed handshake: a fresh token refused again is not retried in a loop.
  let refreshedSinceConnect = false;
  const renew = async (stale: string | undefined) => {
    const fresh = stale ? await refresh(stale).catch(() => undefined) : undefined;
    if (fresh) socket.connect();
  };
  socket.on('connect', () => {
    refreshedSinceConnect = false;
  });
  socket.on('connect_error', (error) => {
    if (error.message !== 'unauthorized' || socket.active || refreshedSinceConnect) return;
    refreshedSinceConnect = true;
    void renew(used());
  });
  socket.on('session:expired', ({ reason }) => {
    if (reason !== 'expired') return;
    // The server disconnects right after telling; reconnect once that has happened.
    const stale = used();
    socket.once('disconnect', () => void renew(stale));
  });
}

export interface AckOptions {
  timeoutMs?: number;
}

/** Sends a client event and resolves its acknowledgement (`{ok, data}` or `{ok: false, error}`); rejects on timeout. */
export function emitAck<K extends ClientEventName>(
  socket: ChatSocket,
  event: K,
  payload: Parameters<ClientToServerEvents[K]>[0],
  { timeoutMs = 10_000 }: AckOptions = {},
): Promise<AckOf<K>> {
  // socket.io-client's overloads cannot follow a generic event name; the map above types both ends.
  const timed = socket.timeout(timeoutMs) as unknown as { emitWithAck(event: K, payload: unknown): Promise<AckOf<K>> };
  return timed.emitWithAck(event, payload);
}
