import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { filter, firstValueFrom, map, of, type Subscription, timeout } from 'rxjs';
import { MessagesRepository } from '../messages/messages.repository.js';
import { INSTANCE_ID } from '../realtime/instance.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { AgentCore } from './agent-core.service.js';
import type { RunDto } from './dto/run.dto.js';
import type { StreamPosition } from './reply-stream.js';
import type { RunEntity } from './run.entity.js';

/** A run streaming now, with its text so far and the index of its last delta. */
export interface RunSnapshot extends StreamPosition {
  run: RunDto;
}

/** How long a join waits for the instance executing a run to tell its text so far. */
export const SNAPSHOT_ANSWER_TIMEOUT_MS = 500;

type SnapshotRequest = Extract<RealtimeEvent, { type: 'run.snapshot.request' }>;
type SnapshotAnswer = Extract<RealtimeEvent, { type: 'run.snapshot' }>;

/**
 * The text so far of a run streaming on any instance, with the index of its last delta.
 *
 * Deltas exist only on the bus; the database gets a checkpoint every AGENT_CHECKPOINT_MS. So the
 * instance executing the run is asked over the bus and answers from memory, exactly: whoever asks
 * has already subscribed to the conversation, so every delta after the answer reaches it live.
 * Storing the delta index with each checkpoint could not be exact on its own — the deltas after
 * the last checkpoint are nowhere else — but it keeps the fallback consistent (text and index
 * agree) when that instance does not answer in time: it died, or Redis is down. Deltas between
 * that checkpoint and the join are then missing, which the client sees as a jump in `index`.
 */
@Injectable()
export class RunSnapshots implements OnModuleInit, OnModuleDestroy {
  private subscription: Subscription | undefined;

  constructor(
    private readonly core: AgentCore,
    private readonly messages: MessagesRepository,
    private readonly bus: RealtimeBus,
  ) {}

  /** Answers for the runs executing here. */
  onModuleInit(): void {
    this.subscription = this.bus.events$
      .pipe(filter((event): event is SnapshotRequest => event.type === 'run.snapshot.request'))
      .subscribe(({ runId, requestId }) => {
        const snapshot = this.core.snapshot(runId);
        if (snapshot) this.bus.publish({ type: 'run.snapshot', runId, requestId, ...snapshot });
      });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /** Where a running run stands; undefined when its reply turns out to have ended meanwhile. */
  async of(run: RunEntity): Promise<StreamPosition | undefined> {
    const local = this.core.snapshot(run.id);
    if (local) return local;
    // Executed elsewhere: that instance knows exactly. Claimed here but not streaming (yet, or
    // any more): nobody knows more than the checkpoint.
    if (run.instanceId && run.instanceId !== INSTANCE_ID) {
      const answer = await this.ask(run.id);
      if (answer) return answer;
    }
    return run.responseMessageId ? this.messages.streamCheckpoint(run.responseMessageId) : { content: '', index: -1 };
  }

  private ask(runId: string): Promise<StreamPosition | undefined> {
    const requestId = randomUUID();
    // Listening before asking: an answer cannot come back before it is awaited.
    const answer = firstValueFrom(
      this.bus.events$.pipe(
        filter((event): event is SnapshotAnswer => event.type === 'run.snapshot' && event.requestId === requestId),
        map(({ content, index }): StreamPosition | undefined => ({ content, index })),
        timeout({ first: SNAPSHOT_ANSWER_TIMEOUT_MS, with: () => of(undefined) }),
      ),
      { defaultValue: undefined },
    );
    this.bus.publish({ type: 'run.snapshot.request', runId, requestId });
    return answer;
  }
}
