import { Injectable } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import type { RealtimeEvent } from './realtime.events.js';

/**
 * Where domain events go. Services publish; the gateway and the SSE endpoint subscribe. The
 * in-process implementation serves a single instance; the Redis one (REDIS_URL) spans instances.
 */
export abstract class RealtimeBus {
  abstract publish(event: RealtimeEvent): void;
  abstract readonly events$: Observable<RealtimeEvent>;
}

@Injectable()
export class InProcessRealtimeBus extends RealtimeBus {
  private readonly subject = new Subject<RealtimeEvent>();
  readonly events$ = this.subject.asObservable();

  publish(event: RealtimeEvent): void {
    this.subject.next(event);
  }
}
