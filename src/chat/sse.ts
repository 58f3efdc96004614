import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import type { AuthUser, SessionExpiredReason } from '../common/auth/auth-user.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { SessionWatch } from '../realtime/session-watch.js';
import type { PayloadOf, SseEvents } from './wire-events.js';

export const SSE_HEARTBEAT_MS = 15_000;

/** An SSE response; `Events` names the frames it may send, each with its payload. */
export interface SseStream<Events = SseEvents> {
  /** Sends one event; `id` (a version) becomes the client's last event id. */
  send<K extends keyof Events & string>(event: K, data: PayloadOf<Events, K>, id?: number): void;
  /** Sets the client's last event id without an event (EventSource takes an `id:` alone and dispatches nothing). */
  mark(id: number): void;
  /** A comment line: EventSource and other SSE parsers skip it; it tells a reader the stream's state. */
  comment(text: string): void;
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
export function openSse<Events = SseEvents>(reply: FastifyReply, session: SseSession): SseStream<Events> {
  const raw = startEventStream(reply);
  const stream = new EventStream<Events>(raw);
  const heartbeat = setInterval(() => stream.comment('heartbeat'), SSE_HEARTBEAT_MS);
  const endSession = boundBySession(session, (reason) => {
    stream.write('session:expired', { reason } satisfies PayloadOf<SseEvents, 'session:expired'>);
    stream.close();
  });
  stream.onClose(() => {
    clearInterval(heartbeat);
    endSession();
  });
  return stream;
}

/** Hijacks the reply and writes the event-stream head, keeping the headers set so far. */
function startEventStream(reply: FastifyReply): ServerResponse {
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
  return raw;
}

/**
 * Calls `end` once when the session ends: its access token expires, or it is revoked (the bus
 * announces it; the watch double-checks). Returns what stops watching.
 */
function boundBySession({ user, events$, watch }: SseSession, end: (reason: SessionExpiredReason) => void): () => void {
  const expiry = setTimeout(() => end('expired'), Math.max(0, user.expiresAt - Date.now()));
  const revocation = events$.subscribe((event) => {
    if (event.type === 'session.revoked' && event.sessionIds.includes(user.sessionId)) end(event.reason);
  });
  const unwatch = watch.watch(user.sessionId);
  return () => {
    clearTimeout(expiry);
    revocation.unsubscribe();
    unwatch();
  };
}

/** Event frames on a raw response, until either side closes it. */
class EventStream<Events> implements SseStream<Events> {
  private done = false;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly raw: ServerResponse) {
    raw.on('close', () => this.finish());
  }

  get closed(): boolean {
    return this.done;
  }

  send<K extends keyof Events & string>(event: K, data: PayloadOf<Events, K>, id?: number): void {
    this.write(event, data, id);
  }

  /** Any frame; `send` is the typed way in. */
  write(event: string, data: unknown, id?: number): void {
    if (this.done) return;
    this.raw.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  mark(id: number): void {
    if (!this.done) this.raw.write(`id: ${id}\n\n`);
  }

  comment(text: string): void {
    if (!this.done) this.raw.write(`: ${text}\n\n`);
  }

  close(): void {
    if (!this.done) this.raw.end();
    this.finish();
  }

  onClose(listener: () => void): void {
    this.listeners.push(listener);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const listener of this.listeners) listener();
  }
}
