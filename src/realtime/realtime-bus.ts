import { Injectable } from '@nestjs/common';
import { NEVER, Observable, Subject } from 'rxjs';
import type { RealtimeEvent } from './realtime.events.js';

/**
 * Where domain events go. Services publish; the gateway and the SSE endpoint subscribe. The
 * in-process implementation serves a single instance; the Redis one (REDIS_URL) spans instances.
 */
export abstract class RealtimeBus {
  abstract publish(event: RealtimeEvent): void;
  abstract readonly events$: Observable<RealtimeEvent>;
  /**
   * Emits when events between instances may have been lost and delivery works again (Redis came
   * back): what this instance's clients missed must be recovered (they re-join).
   */
  abstract readonly resumed$: Observable<void>;
}

@Injectable()
export class InProcessRealtimeBus extends RealtimeBus {
  private readonly subject = new Subject<RealtimeEvent>();
  readonly events$ = this.subject.asObservable();
  /** One process: nothing published can be lost on the way. */
  readonly resumed$: Observable<void> = NEVER;

  publish(event: RealtimeEvent): void {
    this.subject.next(event);
  }
}
