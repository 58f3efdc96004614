import type { Observable } from 'rxjs';
import type { RealtimeEvent } from '../../../src/realtime/realtime.events.js';

import { DEFAULT_DEADLINE_MS } from '../conditions.js';

/** Every event published on the bus from the moment it is made, with waits on what is to come. */
export class BusRecorder {
  readonly events: RealtimeEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly subscription;

  constructor(events$: Observable<RealtimeEvent>) {
    this.subscription = events$.subscribe((event) => {
      this.events.push(event);
      for (const wake of this.waiters) wake();
    });
  }

  /** The events of one conversation, or of one run. */
  of(filter: { conversationId?: string; runId?: string }): RealtimeEvent[] {
    return this.events.filter((event) => {
      if (filter.conversationId && event.conversationId !== filter.conversationId) return false;
      return !filter.runId || runIdOf(event) === filter.runId;
    });
  }

  /** Resolves with the first event (already recorded or still to come) that matches. */
  waitFor<E extends RealtimeEvent>(match: (event: RealtimeEvent) => event is E, what: string, deadlineMs?: number): Promise<E>;
  waitFor(match: (event: RealtimeEvent) => boolean, what: string, deadlineMs?: number): Promise<RealtimeEvent>;
  waitFor(match: (event: RealtimeEvent) => boolean, what: string, deadlineMs = DEFAULT_DEADLINE_MS): Promise<RealtimeEvent> {
    const found = this.events.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const wake = () => {
        const event = this.events.find(match);
        if (!event) return;
        done();
        resolve(event);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`No ${what} within ${deadlineMs} ms`));
      }, deadlineMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      this.waiters.add(wake);
    });
  }

  /** The event that ends a run: run.completed, run.failed or run.cancelled. */
  runEnded(runId: string, deadlineMs?: number): Promise<Extract<RealtimeEvent, { type: 'run.completed' | 'run.failed' | 'run.cancelled' }>> {
    return this.waitFor((event): event is Extract<RealtimeEvent, { type: 'run.completed' | 'run.failed' | 'run.cancelled' }> =>
      (event.type === 'run.completed' || event.type === 'run.failed' || event.type === 'run.cancelled') && event.run.id === runId,
    `the end of run ${runId}`, deadlineMs);
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}

function runIdOf(event: RealtimeEvent): string | undefined {
  if ('runId' in event) return event.runId;
  if ('run' in event) return event.run.id;
  if ('message' in event) return event.message.runId ?? undefined;
  return undefined;
}
