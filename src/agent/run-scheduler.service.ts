import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { MessageDto } from '../messages/dto/message.dto.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { AgentCore } from './agent-core.service.js';
import { RunDto } from './dto/run.dto.js';
import { RunsRepository } from './runs.repository.js';

/**
 * Runs of one conversation execute one at a time, in the order they were queued; different
 * conversations run concurrently. On start-up, runs a dead process left running are marked
 * interrupted (their checkpointed text kept) and queued runs are picked up again.
 */
@Injectable()
export class RunScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('RunScheduler');
  private readonly queues = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(
    private readonly core: AgentCore,
    private readonly runs: RunsRepository,
    private readonly messages: MessagesRepository,
    private readonly bus: RealtimeBus,
  ) {}

  enqueue(conversationId: string, runId: string): void {
    if (this.stopping) return;
    const previous = this.queues.get(conversationId) ?? Promise.resolve();
    const next = previous
      .then(() => (this.stopping ? undefined : this.core.run(runId)))
      .catch((error: unknown) => this.logger.error(`Run ${runId} crashed`, error instanceof Error ? error.stack : String(error)))
      .finally(() => {
        if (this.queues.get(conversationId) === next) this.queues.delete(conversationId);
      });
    this.queues.set(conversationId, next);
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const run of await this.runs.findRunning()) {
      const ended = await this.runs.finish(run.id, 'interrupted', {
        error: { code: 'INTERRUPTED', message: 'The server running this reply stopped; the text written so far is kept' },
      });
      if (!ended) continue;
      if (run.responseMessageId) {
        const message = await this.messages.updateReply(run.responseMessageId, { status: 'interrupted' });
        if (message) this.bus.publish({ type: 'message.updated', conversationId: run.conversationId, message: MessageDto.from(message) });
      }
      this.bus.publish({ type: 'run.failed', conversationId: run.conversationId, run: RunDto.from(ended), error: ended.error! });
      this.logger.warn(`Run ${run.id} was interrupted by a restart`);
    }
    for (const run of await this.runs.findQueued()) this.enqueue(run.conversationId, run.id);
  }

  /** Stops taking runs, ends those in flight as interrupted (text kept), and waits for them — before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.core.abortAll();
    await Promise.allSettled(this.queues.values());
  }
}
