import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { filter, type Subscription } from 'rxjs';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { RunAbort } from './run-abort.js';

/** Cancels asked for runs this instance has claimed but not yet started are remembered this long. */
const PENDING_CANCEL_TTL_MS = 60_000;

type CancelRequest = Extract<RealtimeEvent, { type: 'run.cancel' }>;

/**
 * Cross-instance cancellation: a cancel request (`run.cancel` on the bus) reaches every instance,
 * and the one executing the run stops it — at once, or as soon as it starts there when it was
 * claimed but had not started yet. Also stops every run of this process on shutdown.
 */
@Injectable()
export class RunCancellations implements OnModuleInit, OnModuleDestroy {
  private readonly executing = new Map<string, RunAbort>();
  /** When a cancel came for a run not executing here (yet), by run id. */
  private readonly pending = new Map<string, number>();
  private subscription: Subscription | undefined;

  constructor(private readonly bus: RealtimeBus) {}

  onModuleInit(): void {
    this.subscription = this.bus.events$
      .pipe(filter((event): event is CancelRequest => event.type === 'run.cancel'))
      .subscribe((event) => this.cancel(event.runId));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /** How a run starting here stops; already aborted when a cancel for it came first. */
  track(runId: string): RunAbort {
    const abort = new RunAbort();
    this.executing.set(runId, abort);
    if (this.pending.delete(runId)) abort.abort('cancelled');
    return abort;
  }

  /** The run no longer executes here. */
  release(runId: string): void {
    this.executing.delete(runId);
  }

  /** Stops every run of this process (shutdown): they end as interrupted, text kept. */
  abortAll(): void {
    for (const abort of this.executing.values()) abort.abort('shutdown');
  }

  /** Stops a run executing here at once (it ends as cancelled, text kept), or as soon as it starts here. */
  private cancel(runId: string): void {
    const executing = this.executing.get(runId);
    if (executing) return executing.abort('cancelled');
    const now = Date.now();
    for (const [id, at] of this.pending) if (now - at > PENDING_CANCEL_TTL_MS) this.pending.delete(id);
    this.pending.set(runId, now);
  }
}
