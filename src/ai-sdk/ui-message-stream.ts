import { UI_MESSAGE_STREAM_HEADERS, type UIMessageChunk } from 'ai';
import type { FastifyReply } from 'fastify';
import { type HijackedStream, openEventStream, type SseSession } from '../chat/sse.js';

/** A response in the AI SDK's UI message stream protocol (v1): `data: <chunk>` frames, then `data: [DONE]`. */
export interface UiMessageStream {
  write(chunk: UIMessageChunk): void;
  /** Sends `[DONE]` and ends the response. */
  end(): void;
  readonly closed: boolean;
  /** Called once, when the response ends or the client goes away (which only detaches it from the run). */
  onClose(listener: () => void): void;
  /** Writes a reply replayed at once, not taken for a client that does not read (see HijackedStream.burst). */
  burst(write: () => void): void;
}

/**
 * Takes over a Fastify reply as a UI message stream, with the protocol's own headers (the SDK's
 * parser skips our heartbeat comments). When the caller's session ends, an `error` chunk says so
 * and the stream ends.
 */
export function openUiMessageStream(reply: FastifyReply, session: SseSession): UiMessageStream {
  const raw: HijackedStream = openEventStream(reply, session, UI_MESSAGE_STREAM_HEADERS, (reason) => {
    stream.write({ type: 'error', errorText: `Your session has ended (${reason}); sign in again` });
    stream.end();
  });
  const stream: UiMessageStream = {
    write: (chunk) => raw.send(`data: ${JSON.stringify(chunk)}\n\n`),
    end: () => raw.end('data: [DONE]\n\n'),
    get closed() {
      return raw.closed;
    },
    onClose: (listener) => raw.onClose(listener),
    burst: (write) => raw.burst(write),
  };
  return stream;
}
