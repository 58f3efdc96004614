import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { AppConfig } from '../config/app-config.js';
import { AppDataSource } from '../database/data-source.factory.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { MessageDto } from '../messages/dto/message.dto.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { INSTANCE_ID } from '../realtime/instance.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { AgentCore, type RunStart } from './agent-core.service.js';
import { RunDto } from './dto/run.dto.js';
import type { RunEntity } from './run.entity.js';
import { RunsRepository } from './runs.repository.js';

/** How often this instance heartbeats its runs, sweeps for dead ones and picks up waiting ones. */
export const SWEEP_INTERVAL_MS = 5000;

/**
 * Runs of one conversation execute one at a time, in order, across all instances: a run starts
 * only by claiming it in the database (see RunsRepository.claimNext). Every instance heartbeats
 * the runs it executes; a run whose instance stops heartbeating is marked interrupted by another
 * (text kept), and waiting runs are picked up by whichever instance is free.
 */
@Injectable()
export class RunScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RunScheduler');
  private readonly pumping = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Runs started as they were stored (see start). */
  private readonly started = new Set<Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;
  private queued: Subscription | undefined;
  private stopping = false;

  constructor(
    private readonly core: AgentCore,
    private readonly runs: RunsRepository,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly bus: RealtimeBus,
    private readonly config: AppConfig,
    private readonly dataSource: AppDataSource,
  ) {}

  /** Starts the conversation's next run here if it is free (no-op if one runs anywhere). */
  enqueue(conversationId: string): void {
    if (this.stopping) return;
    if (this.pumping.has(conversationId)) {
      this.again.add(conversationId);
      return;
    }
    const pump = this.pump(conversationId).finally(() => {
      this.pumping.delete(conversationId);
      if (this.again.delete(conversationId)) this.enqueue(conversationId);
    });
    this.pumping.set(conversationId, pump);
  }

  /**
   * Executes a run this instance claimed as it was stored (with the message it answers), then
   * goes on with the conversation's next one. `start` is what the send already read.
   */
  start(run: RunEntity, start: RunStart): void {
    if (this.stopping) return void this.requeue(run.id, { instanceId: INSTANCE_ID });
    const execution = this.execute(run, start).finally(() => {
      this.started.delete(execution);
      this.enqueue(run.conversationId);
    });
    this.started.add(execution);
  }

  private async pump(conversationId: string): Promise<void> {
    while (!this.stopping) {
      let run: RunEntity | undefined;
      try {
        run = await this.runs.claimNext(conversationId, INSTANCE_ID);
      } catch (error) {
        this.logger.warn(`Could not claim a run of ${conversationId}: ${String(error)}`);
        return;
      }
      if (!run) return;
      await this.execute(run);
    }
  }

  private async execute(run: RunEntity, start?: RunStart): Promise<void> {
    try {
      await this.core.run(run, start);
    } catch (error) {
      this.logger.error(`Run ${run.id} crashed`, error instanceof Error ? error.stack : String(error));
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    // The embedded database belongs to this process alone: whatever was running died with the last one.
    await this.interrupt(this.dataSource.isEmbedded ? undefined : this.config.agent.heartbeatTimeoutMs);
    await this.pickUpWaiting();
    // A run queued again (its approvals decided) on any instance: whichever is free resumes it.
    this.queued = this.bus.events$.subscribe((event) => {
      if (event.type === 'run.queued') this.enqueue(event.conversationId);
    });
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  private async sweep(): Promise<void> {
    try {
      await this.runs.heartbeat(this.core.activeRunIds);
      await this.interrupt(this.config.agent.heartbeatTimeoutMs);
      await this.pickUpWaiting();
    } catch (error) {
      this.logger.warn(`Run sweep failed: ${String(error)}`);
    }
  }

  private async pickUpWaiting(): Promise<void> {
    for (const conversationId of await this.runs.conversationsWithQueued()) this.enqueue(conversationId);
  }

  /**
   * A run claimed here or by a stopped instance that never got going goes back to the queue for
   * whichever instance is free. Best effort: one not requeued now is found stale by a sweep.
   */
  private async requeue(runId: string, only: { staleMs?: number | undefined; instanceId?: string }): Promise<boolean> {
    try {
      const conversationId = await this.runs.requeueUntouched(runId, only);
      if (!conversationId) return false;
      this.logger.warn(`Run ${runId} was queued again: the instance that claimed it stopped before it began`);
      this.bus.publish({ type: 'run.queued', conversationId });
      return true;
    } catch (error) {
      this.logger.warn(`Could not queue run ${runId} again: ${String(error)}`);
      return false;
    }
  }

  /**
   * Each stale run that never got going is queued again; any other ends as interrupted together
   * with its reply (text kept): one change, one version.
   */
  private async interrupt(staleMs: number | undefined): Promise<void> {
    for (const { id, conversationId } of await this.runs.findStale(staleMs)) {
      if (await this.requeue(id, { staleMs })) {
        this.enqueue(conversationId);
        continue;
      }
      const ended = await this.conversations.versioned(conversationId, async (manager, version) => {
        const run = await this.runs.interrupt(id, staleMs, manager);
        if (!run) return undefined;
        const message = run.responseMessageId
          ? await this.messages.finalizeReply(
              run.responseMessageId,
              { status: 'interrupted', metadata: { model: run.model, ...run.loopState?.metadata, error: run.error! } },
              version,
              manager,
            )
          : undefined;
        return { run, message };
      });
      if (!ended) continue;
      const { run, message } = ended.result;
      if (message) this.bus.publish({ type: 'message.updated', conversationId, message: MessageDto.from(message) });
      this.bus.publish({ type: 'run.failed', conversationId, run: RunDto.from(run), error: run.error!, version: ended.version });
      this.logger.warn(`Run ${run.id} was interrupted: the instance running it stopped`);
      this.enqueue(conversationId);
    }
  }

  /** Stops taking runs, ends those in flight as interrupted (text kept), and waits for them — before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    this.queued?.unsubscribe();
    this.core.abortAll();
    await Promise.allSettled([...this.pumping.values(), ...this.started]);
  }
}
