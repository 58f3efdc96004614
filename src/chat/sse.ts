import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import type { AuthUser, SessionExpiredReason } from '../common/auth/auth-user.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import type { SessionWatch } from '../realtime/session-watch.js';
import type { ClientEvent } from './client-events.js';
import type { PayloadOf, SseEvents } from './wire-events.js';

export const SSE_HEARTBEAT_MS = 15_000;

/** One frame and its payload, paired: a union of names cannot be sent with another name's payload. */
export type SseFrame<Events> = { [K in keyof Events & string]: [event: K, data: PayloadOf<Events, K>, id?: number] }[keyof Events & string];

/** An SSE response; `Events` names the frames it may send, each with its payload. */
export interface SseStream<Events = SseEvents> {
  /** Sends one event; `id` (a version) becomes the client's last event id. */
  send(...frame: SseFrame<Events>): void;
  /** Sets the client's last event id without an event (EventSource takes an `id:` alone and dispatches nothing). */
  mark(id: number): void;
  /** A comment line: EventSource and other SSE parsers skip it; it tells a reader the stream's state. */
  comment(text: string): void;
  close(): void;
  readonly closed: boolean;
  /** Called once, when the stream ends either way; at once if it has already ended. */
  onClose(listener: () => void): void;
}

/** Sends a bus event as a client receives it (toClientEvent pairs its name and payload). */
export function sendClientEvent(stream: SseStream<SseEvents>, event: ClientEvent, id?: number): void {
  // The pairing holds by construction of ClientEvent; TypeScript cannot follow it through a union.
  stream.send(...([event.name, event.payload, id] as SseFrame<SseEvents>));
}

/**
 * Why a stream ended: the client went away, the server finished it (its run ended, a resync, the
 * conversation closed), the session was ended or its access token expired, the server shut down,
 * or the client read too slowly and was cut off.
 */
export type StreamEndReason = 'client_closed' | 'completed' | 'session_expired' | 'token_expired' | 'server_shutdown' | 'slow_client';

export interface StreamEnd {
  reason: StreamEndReason;
  /** Events sent (frames a client dispatches; not heartbeats, comments or bare ids). */
  events: number;
}

/**
 * The caller whose session bounds the stream, the bus that announces sessions ending, the watch
 * that double-checks; how much may wait unsent before the stream is dropped; what to release
 * when it ends.
 */
export interface SseSession {
  user: Pick<AuthUser, 'sessionId' | 'expiresAt'>;
  events$: Observable<RealtimeEvent>;
  watch: SessionWatch;
  maxBacklogBytes: number;
  /** Told how to cut the stream (at shutdown), once it is open. */
  track?: (cut: () => void) => void;
  release?: (end: StreamEnd) => void;
}

/**
 * A Fastify reply taken over as a long-lived event stream: the headers set so far are kept (CORS,
 * security, request id), a heartbeat comment goes out every 15 s so that proxies keep it open, and
 * it lives no longer than the caller's session — when that is revoked (on any instance) or its
 * access token expires, `onSessionEnd` says so in the stream's own terms and ends it. Shared by
 * our SSE and the AI SDK's UI message stream.
 */
export function openEventStream(
  reply: FastifyReply,
  session: SseSession,
  headers: Record<string, string>,
  onSessionEnd: (reason: SessionExpiredReason) => void,
): HijackedStream {
  const stream = new HijackedStream(hijack(reply, headers), session.maxBacklogBytes);
  session.track?.(() => stream.cut('server_shutdown'));
  const heartbeat = setInterval(() => stream.write(': heartbeat\n\n'), SSE_HEARTBEAT_MS);
  const endSession = boundBySession(session, (reason) => {
    stream.endingBecause(reason === 'expired' ? 'token_expired' : 'session_expired');
    onSessionEnd(reason);
  });
  stream.onClose(() => {
    clearInterval(heartbeat);
    endSession();
    session.release?.(stream.ended!);
  });
  return stream;
}

/** Our Server-Sent Events: `event:`/`data:` frames with `id:` watermarks; a session's end is `session:expired {reason}`. */
export function openSse<Events = SseEvents>(reply: FastifyReply, session: SseSession): SseStream<Events> {
  const headers = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' };
  const raw: HijackedStream = openEventStream(reply, session, headers, (reason) => {
    raw.send(frame('session:expired', { reason } satisfies PayloadOf<SseEvents, 'session:expired'>));
    raw.end();
  });
  raw.write(': connected\n\n');
  return new EventFrames<Events>(raw);
}

function frame(event: string, data: unknown, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Hijacks the reply and writes the response head, keeping the headers set so far. */
function hijack(reply: FastifyReply, own: Record<string, string>): ServerResponse {
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = String(value);
  raw.writeHead(200, { ...headers, ...own });
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

/** How long an ended stream may take to flush what it still holds before its connection is cut. */
export const END_FLUSH_MS = 5000;

/**
 * Text on a hijacked response, until either side ends it. A client that stops reading is cut off
 * once `maxBacklogBytes` wait unsent (the memory is the server's), as a socket is.
 */
export class HijackedStream {
  private done = false;
  private readonly listeners: (() => void)[] = [];
  private events = 0;
  private reason: StreamEndReason | undefined;
  /** Bytes written in bursts (see burst), allowed on top of maxBacklogBytes. */
  private allowance = 0;
  private bursting = false;

  constructor(
    private readonly raw: ServerResponse,
    private readonly maxBacklogBytes: number,
  ) {
    raw.on('close', () => this.finish('client_closed'));
    // A client gone before the takeover: 'close' has fired already and will not again.
    if (raw.destroyed) this.finish('client_closed');
  }

  get closed(): boolean {
    return this.done;
  }

  /** How the stream ended; undefined while it is open. */
  get ended(): StreamEnd | undefined {
    return this.done ? { reason: this.reason!, events: this.events } : undefined;
  }

  write(text: string): void {
    if (this.done) return;
    this.raw.write(text);
    if (this.raw.writableLength > this.maxBacklogBytes + this.allowance && !this.bursting) this.cut('slow_client');
  }

  /**
   * Writes what `burst` writes at once (a reply replayed from where it stands, its tool calls'
   * results included) without taking it for a client that does not read: the cap is raised by
   * what it wrote until the client has read it all (the response drains), so a reader is cut off
   * only once more than the cap waits on top of it, and then, as before, past the cap alone.
   */
  burst(burst: () => void): void {
    const before = this.raw.writableLength;
    this.bursting = true;
    try {
      burst();
    } finally {
      this.bursting = false;
    }
    const written = Math.max(0, this.raw.writableLength - before);
    if (!written) return;
    this.allowance += written;
    this.raw.once('drain', () => (this.allowance = 0));
  }

  /** Writes one event (counted). */
  send(text: string): void {
    if (this.done) return;
    this.events += 1;
    this.write(text);
  }

  /** Says why the stream is about to end, when the end itself (the server's) would not tell. */
  endingBecause(reason: StreamEndReason): void {
    this.reason ??= reason;
  }

  end(last?: string): void {
    if (this.done) return;
    this.raw.end(last);
    this.finish('completed');
    // A client that does not read would hold the ended response (and what it holds) for ever.
    if (!this.raw.writableFinished) setTimeout(() => this.raw.destroy(), END_FLUSH_MS).unref();
  }

  /** Drops the connection: the client sees it fail and reconnects (EventSource, useChat's resume). */
  cut(reason: StreamEndReason): void {
    this.reason ??= reason;
    this.raw.destroy();
    this.finish(reason);
  }

  onClose(listener: () => void): void {
    if (this.done) listener();
    else this.listeners.push(listener);
  }

  private finish(reason: StreamEndReason): void {
    if (this.done) return;
    this.reason ??= reason;
    this.done = true;
    for (const listener of this.listeners.splice(0)) listener();
  }
}

/** SSE frames on a hijacked stream. */
class EventFrames<Events> implements SseStream<Events> {
  constructor(private readonly raw: HijackedStream) {}

  get closed(): boolean {
    return this.raw.closed;
  }

  send(...[event, data, id]: SseFrame<Events>): void {
    this.raw.send(frame(event, data, id));
  }

  mark(id: number): void {
    this.raw.write(`id: ${id}\n\n`);
  }

  comment(text: string): void {
    this.raw.write(`: ${text}\n\n`);
  }

  close(): void {
    this.raw.end();
  }

  onClose(listener: () => void): void {
    this.raw.onClose(listener);
  }
}
