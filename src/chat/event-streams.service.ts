import { type BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user.js';
import { RateLimitedError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { SessionWatch } from '../realtime/session-watch.js';
import type { SseSession } from './sse.js';

/** How long a caller refused a stream is told to wait before trying again. */
const RETRY_AFTER_SECONDS = 5;

/**
 * The long-lived event streams of this instance (SSE and useChat's), counted per user: each one
 * holds a connection, a bus subscription and whatever waits unsent, so one user may hold at most
 * SSE_MAX_STREAMS_PER_USER at once, as sockets are bounded by WS_MAX_SOCKETS_PER_USER.
 */
@Injectable()
export class EventStreams implements BeforeApplicationShutdown {
  private readonly open = new Map<string, number>();
  private readonly cuts = new Set<() => void>();

  constructor(
    private readonly bus: RealtimeBus,
    private readonly watch: SessionWatch,
    private readonly config: AppConfig,
  ) {}

  /** A stream for the caller, bound by their session; 429 past the limit. Released when the stream ends. */
  claim(user: AuthUser): SseSession {
    const held = this.open.get(user.id) ?? 0;
    if (held >= this.config.limits.sseMaxStreamsPerUser) {
      throw new RateLimitedError(`Too many open event streams (${held}); close one first`, RETRY_AFTER_SECONDS);
    }
    this.open.set(user.id, held + 1);
    let released = false;
    let cut: (() => void) | undefined;
    const track = (cutStream: () => void) => {
      cut = cutStream;
      this.cuts.add(cutStream);
    };
    const release = () => {
      if (released) return;
      released = true;
      if (cut) this.cuts.delete(cut);
      const left = (this.open.get(user.id) ?? 1) - 1;
      if (left > 0) this.open.set(user.id, left);
      else this.open.delete(user.id);
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
