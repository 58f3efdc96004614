import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { AuthUser } from '../common/auth/auth-user.js';
import { RateLimitedError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { SessionWatch } from '../realtime/session-watch.js';
import type { SseSession, StreamEnd } from './sse.js';

/** How long a caller refused a stream is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

/** What a stream carries: a conversation's events, one run's (POST …/messages as SSE), or a useChat reply. */
export const STREAM_KINDS = ['conversation_events', 'run_stream', 'ai_sdk_chat'] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

/**
 * The long-lived event streams of this instance (SSE and useChat's), counted per user: each one
 * holds a connection, a bus subscription and whatever waits unsent, so one user may hold at most
 * SSE_MAX_STREAMS_PER_USER at once, as sockets are bounded by WS_MAX_SOCKETS_PER_USER.
 */
@Injectable()
export class EventStreams implements BeforeApplicationShutdown {
  private readonly open = new Map<string, number>();
  private readonly cuts = new Set<() => void>();
  private readonly logger = new Logger('EventStreams');
  private readonly opened: Gauge<'kind'>;
  private readonly total: Counter<'kind'>;

  constructor(
    private readonly bus: RealtimeBus,
    private readonly watch: SessionWatch,
    private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    const registers = [metrics.registry];
    this.opened = new Gauge({ name: 'sse_streams_open', help: 'Event streams open on this instance (SSE and useChat), by kind', labelNames: ['kind'], registers });
    this.total = new Counter({ name: 'sse_streams_total', help: 'Event streams opened on this instance, by kind', labelNames: ['kind'], registers });
    for (const kind of STREAM_KINDS) {
      this.opened.set({ kind }, 0);
      this.total.inc({ kind }, 0);
    }
  }

  /**
   * A stream for the caller, bound by their session; 429 past the limit. Released when the stream
   * ends, with one log line that says how long it lasted, what it sent and why it ended.
   */
  claim(user: AuthUser, kind: StreamKind, conversationId: string): SseSession {
    const held = this.open.get(user.id) ?? 0;
    if (held >= this.config.limits.sseMaxStreamsPerUser) {
      throw new RateLimitedError(`Too many open event streams (${held}); close one first`, RETRY_AFTER_SECONDS);
    }
    this.open.set(user.id, held + 1);
    this.opened.inc({ kind });
    this.total.inc({ kind });
    const started = performance.now();
    let released = false;
    let cut: (() => void) | undefined;
    const track = (cutStream: () => void) => {
      cut = cutStream;
      this.cuts.add(cutStream);
    };
    const release = (end: StreamEnd) => {
      if (released) return;
      released = true;
      if (cut) this.cuts.delete(cut);
      const left = (this.open.get(user.id) ?? 1) - 1;
      if (left > 0) this.open.set(user.id, left);
      else this.open.delete(user.id);
      this.opened.dec({ kind });
      const durationMs = Math.round(performance.now() - started);
      this.logger.log({ msg: 'Event stream ended', kind, conversationId, userId: user.id, durationMs, events: end.events, reason: end.reason });
    };
    return { user, events$: this.bus.events$, watch: this.watch, maxBacklogBytes: this.config.limits.wsMaxBacklogBytes, track, release };
  }

  /**
   * Open streams would hold the server's close until its timeout: they are cut, and their clients
   * reconnect to another instance (EventSource by itself from its last id, useChat through resume).
   */
  beforeApplicationShutdown(): void {
    for (const cut of this.cuts) cut();
  }
}
