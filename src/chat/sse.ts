import type { FastifyReply } from 'fastify';
import type { Observable } from 'rxjs';
import type { AuthUser, SessionExpiredReason } from '../common/auth/auth-user.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { SessionWatch } from '../realtime/session-watch.js';

export const SSE_HEARTBEAT_MS = 15_000;

export interface SseStream {
  send(event: string, data: unknown, id?: string | number): void;
  /** Sets the client's last event id without an event (EventSource takes an `id:` alone and dispatches nothing). */
  mark(id: string | number): void;
  close(): void;
  readonly closed: boolean;
  onClose(listener: () => void): void;
}

/** The caller whose session bounds the stream, the bus that announces sessions ending, and the watch that double-checks. */
export interface SseSession {
  user: Pick<AuthUser, 'sessionId' | 'expiresAt'>;
  events$: Observable<RealtimeEvent>;
  watch: SessionWatch;
}

/**
 * Takes over a Fastify reply as a Server-Sent Events stream: keeps the headers set so far
 * (CORS, security, request id), sends a heartbeat comment every 15 s so proxies keep it open,
 * and reports when the client goes away. Like a socket, the stream lives no longer than the
 * caller's session: when it is revoked (on any instance) or its access token expires, the stream
 * sends `session:expired {reason}` and closes.
 */
export function openSse(reply: FastifyReply, { user, events$, watch }: SseSession): SseStream {
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = String(value);
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(': connected\n\n');
  let closed = false;
  const listeners: (() => void)[] = [];
  const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), SSE_HEARTBEAT_MS);
  const sessionEnd = (reason: SessionExpiredReason) => {
    stream.send('session:expired', { reason });
    stream.close();
  };
  const expiry = setTimeout(() => sessionEnd('expired'), Math.max(0, user.expiresAt - Date.now()));
  const revocation = events$.subscribe((event) => {
    if (event.type === 'session.revoked' && event.sessionIds.includes(user.sessionId)) sessionEnd(event.reason);
  });
  const unwatch = watch.watch(user.sessionId);
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    clearTimeout(expiry);
    revocation.unsubscribe();
    unwatch();
    for (const listener of listeners) listener();
  };
  raw.on('close', finish);
  const stream: SseStream = {
    send(event, data, id) {
      if (closed) return;
      raw.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    mark(id) {
      if (!closed) raw.write(`id: ${id}\n\n`);
    },
    close() {
      if (!closed) raw.end();
      finish();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      listeners.push(listener);
    },
  };
  return stream;
}
