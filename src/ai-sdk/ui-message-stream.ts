import { UI_MESSAGE_STREAM_HEADERS, type UIMessageChunk } from 'ai';
import type { FastifyReply } from 'fastify';
import type { SessionExpiredReason } from '../common/auth/auth-user.js';
import { SSE_HEARTBEAT_MS, type SseSession } from '../chat/sse.js';

/** A response in the AI SDK's UI message stream protocol (v1): `data: <chunk>` frames, then `data: [DONE]`. */
export interface UiMessageStream {
  write(chunk: UIMessageChunk): void;
  /** Sends `[DONE]` and ends the response. */
  end(): void;
  readonly closed: boolean;
  /** Called once, when the response ends or the client goes away (which only detaches it from the run). */
  onClose(listener: () => void): void;
}

/**
 * Takes over a Fastify reply as a UI message stream: keeps the headers set so far (CORS, security,
 * request id), adds the protocol's own, and sends an SSE comment every 15 s so that proxies keep it
 * open (the SDK's parser skips comments). Like every stream of ours it lives no longer than the
 * caller's session: when that ends, an `error` chunk says so and the stream ends.
 */
export function openUiMessageStream(reply: FastifyReply, { user, events$, watch }: SseSession): UiMessageStream {
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = String(value);
  raw.writeHead(200, { ...headers, ...UI_MESSAGE_STREAM_HEADERS });
  let closed = false;
  const listeners: (() => void)[] = [];
  const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), SSE_HEARTBEAT_MS);
  const sessionEnd = (reason: SessionExpiredReason) => {
    stream.write({ type: 'error', errorText: `Your session has ended (${reason}); sign in again` });
    stream.end();
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
    for (const listener of listeners.splice(0)) listener();
  };
  raw.on('close', finish);
  const stream: UiMessageStream = {
    write(chunk) {
      if (!closed) raw.write(`data: ${JSON.stringify(chunk)}\n\n`);
    },
    end() {
      if (closed) return;
      raw.end('data: [DONE]\n\n');
      finish();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      if (closed) listener();
      else listeners.push(listener);
    },
  };
  return stream;
}
