import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { filter, type Subscription } from 'rxjs';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { RunAbort } from './run-abort.js';

/** Cancels asked for runs this instance has claimed but not yet started are remembered this long. */
const PENDING_CANCEL_TTL_MS = 60_000;

type StopRequest = Extract<RealtimeEvent, { type: 'run.cancel' | 'conversation.deleted' }>;

interface Executing {
  abort: RunAbort;
  conversationId: string;
}

/**
 * Cross-instance cancellation: a cancel request (`run.cancel` on the bus) reaches every instance,
 * and the one executing the run stops it — at once, or as soon as it starts there when it was
 * claimed but had not started yet. Deleting a conversation cancels its runs the same way: nobody
 * can read their replies any more. Also stops every run of this process on shutdown.
 */
@Injectable()
export class RunCancellations implements OnModuleInit, OnModuleDestroy {
  private readonly executing = new Map<string, Executing>();
  /** When a cancel came for a run, or a conversation was deleted, with nothing executing here (yet), by id. */
  private readonly pending = new Map<string, number>();
  private subscription: Subscription | undefined;

  constructor(private readonly bus: RealtimeBus) {}

  onModuleInit(): void {
    this.subscription = this.bus.events$
      .pipe(filter((event): event is StopRequest => event.type === 'run.cancel' || event.type === 'conversation.deleted'))
      .subscribe((event) => (event.type === 'run.cancel' ? this.cancel(event.runId) : this.cancelIn(event.conversationId)));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /** How a run starting here stops; already aborted when a cancel for it came first. */
  track(runId: string, conversationId: string): RunAbort {
    const abort = new RunAbort();
    this.executing.set(runId, { abort, conversationId });
    if (this.pending.delete(runId) || this.pending.has(conversationId)) abort.abort('cancelled');
    return abort;
  }

  /** The run no longer executes here. */
  release(runId: string): void {
    this.executing.delete(runId);
  }

  /** Stops every run of this process (shutdown): they end as interrupted, text kept. */
  abortAll(): void {
    for (const { abort } of this.executing.values()) abort.abort('shutdown');
  }

  /** Stops a run executing here at once (it ends as cancelled, text kept), or as soon as it starts here. */
  private cancel(runId: string): void {
    const executing = this.executing.get(runId);
    if (executing) return executing.abort.abort('cancelled');
    this.remember(runId);
  }

  /** Stops the runs of a deleted conversation executing here, and any that starts here soon after. */
  private cancelIn(conversationId: string): void {
    for (const { abort, conversationId: of } of this.executing.values()) if (of === conversationId) abort.abort('cancelled');
    this.remember(conversationId);
  }

  private remember(id: string): void {
    const now = Date.now();
    for (const [key, at] of this.pending) if (now - at > PENDING_CANCEL_TTL_MS) this.pending.delete(key);
    this.pending.set(id, now);
  }
}
