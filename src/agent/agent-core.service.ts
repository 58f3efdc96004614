import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { MessageDto } from '../messages/dto/message.dto.js';
import type { MessageEntity, MessageMetadata } from '../messages/message.entity.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { type AgentStreamPart, streamSteps } from './agent-steps.js';
import { tokensOf } from '../common/text/tokens.js';
import { ContextService } from './context.service.js';
import { RunDto } from './dto/run.dto.js';
import { readWithRetries } from './provider-retries.js';
import { ModelFactory } from './providers/model.factory.js';
import { ReplyStream, type StreamPosition } from './reply-stream.js';
import type { RunAbort } from './run-abort.js';
import { RunCancellations } from './run-cancellations.service.js';
import type { RunEntity, RunUsage } from './run.entity.js';
import { failureOutcome, type RunOutcome } from './run-outcome.js';
import { RunsRepository } from './runs.repository.js';
import { ToolCallRecorder } from './tool-call-recorder.js';
import { ToolRegistry } from './tools/tool-registry.js';

/** One run as it executes here. */
interface RunExecution {
  run: RunEntity;
  reply: ReplyStream;
  abort: RunAbort;
  tools: ToolCallRecorder;
  usage?: RunUsage;
}

/** Starts an async generator at once (its first step runs now) and yields what it yields. */
function primed<T>(generator: AsyncGenerator<T>): AsyncGenerator<T> {
  const first = generator.next();
  first.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
  return (async function* () {
    try {
      let next = await first;
      while (!next.done) {
        yield next.value;
        next = await generator.next();
      }
    } finally {
      await generator.return(undefined);
    }
  })();
}

/**
 * AgentCore: executes one run. Builds the context through the repositories, calls the provider
 * with the tools, streams deltas (gap-free index) on the realtime bus, records tool calls,
 * checkpoints the partial reply, and persists the final message with model, usage, tool calls
 * and sources. Knows nothing of Socket.IO or HTTP.
 */
@Injectable()
export class AgentCore {
  private readonly logger = new Logger('AgentCore');
  private readonly replies = new Map<string, ReplyStream>();

  constructor(
    private readonly runs: RunsRepository,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly context: ContextService,
    private readonly models: ModelFactory,
    private readonly tools: ToolRegistry,
    private readonly cancellations: RunCancellations,
    private readonly bus: RealtimeBus,
    private readonly config: AppConfig,
  ) {}

  get activeRunIds(): string[] {
    return [...this.replies.keys()];
  }

  /** The text streamed so far of a run executing here, with the index of its last delta. */
  snapshot(runId: string): StreamPosition | undefined {
    return this.replies.get(runId)?.position;
  }

  /** Stops every run of this process (shutdown): they end as interrupted, text kept. */
  abortAll(): void {
    this.cancellations.abortAll();
  }

  /** Executes a run this instance has claimed (status running). */
  async run(run: RunEntity): Promise<void> {
    const [view, trigger] = await Promise.all([
      this.conversations.findView(run.conversationId),
      this.messages.findById(run.conversationId, run.triggerMessageId),
    ]);
    if (!view || !trigger || trigger.deletedAt) return this.endGone(run);
    const reply = new ReplyStream(run, this.messages, this.bus, this.config.agent);
    this.replies.set(run.id, reply);
    const abort = this.cancellations.track(run.id, run.conversationId);
    try {
      await this.execute({ run, reply, abort, tools: new ToolCallRecorder(run, this.runs, this.bus) }, view, trigger);
    } finally {
      this.replies.delete(run.id);
      this.cancellations.release(run.id);
    }
  }

  /** Ends a run whose message or conversation was deleted before it could answer. */
  private async endGone(run: RunEntity): Promise<void> {
    const ended = await this.conversations.versioned(run.conversationId, (manager) =>
      this.runs.finish(run.id, 'cancelled', { error: { code: 'TRIGGER_GONE', message: 'The message or conversation was deleted' } }, manager),
    );
    if (ended) this.bus.publish({ type: 'run.cancelled', conversationId: run.conversationId, run: RunDto.from(ended.result), version: ended.version });
  }

  private async execute(execution: RunExecution, view: ConversationView, trigger: MessageEntity): Promise<void> {
    const { run, abort } = execution;
    abort.startDeadlines(this.config.agent);
    let outcome: RunOutcome;
    try {
      if (!(await this.generate(execution, view, trigger))) return await this.endGone(run);
      outcome = { status: 'completed' };
    } catch (error) {
      outcome = this.failed(error, execution);
    } finally {
      abort.end();
    }
    const { usage, tools } = execution;
    await this.finish(execution.reply, run, outcome, { model: run.model, ...(usage && { usage }), ...tools.metadata });
  }

  /**
   * Calls the provider with the run's context and tools, and streams its answer into the reply.
   * False, with nothing streamed, when the conversation went away before the reply was written.
   */
  private async generate(execution: RunExecution, view: ConversationView, trigger: MessageEntity): Promise<boolean> {
    const { run, reply, abort, tools } = execution;
    const agent = this.config.agent;
    const model = this.models.create({ provider: run.provider as never, model: run.model });
    const context = await this.context.build(view, trigger.seq);
    const bound = await this.tools.bind({ conversationId: run.conversationId, userId: run.requestedById ?? '' }, agent.toolTimeoutMs, view.agent.tools);
    const steps = () =>
      streamSteps({ model, system: context.system, messages: context.messages, tools: bound, maxSteps: agent.maxSteps, abortSignal: abort.signal });

    // The provider request goes out first; the reply row is written and announced while the
    // model thinks, so that bookkeeping adds nothing to the time to the first token.
    const first = primed(steps());
    abort.touch();
    if (!(await reply.open())) return false;
    await readWithRetries(first, {
      restart: steps,
      consume: (parts) => this.consume(parts, execution, context.tokens),
      nothingSent: () => reply.untouched && !tools.any,
      signal: abort.signal,
      settings: agent,
      provider: run.provider,
      onRetry: (delay, attempt) => this.logger.warn(`Run ${run.id}: provider error before the first token, retrying in ${delay} ms (attempt ${attempt})`),
    });
    return true;
  }

  /** Reads one attempt's stream: each part keeps the run from idling out, and a checkpoint follows when due. */
  private async consume(parts: AsyncIterable<AgentStreamPart>, execution: RunExecution, contextTokens: number): Promise<void> {
    execution.abort.touch();
    for await (const part of parts) {
      execution.abort.touch();
      await this.dispatch(part, execution, contextTokens);
      await execution.reply.checkpointIfDue();
    }
  }

  private async dispatch(part: AgentStreamPart, execution: RunExecution, contextTokens: number): Promise<void> {
    const { reply, tools } = execution;
    switch (part.type) {
      case 'text-delta':
        if (part.text) reply.addText(part.text);
        return;
      case 'tool-call':
        reply.flush();
        return tools.started(part);
      case 'tool-result':
        return tools.completed(part);
      case 'tool-error':
        return tools.failed(part);
      case 'finish': {
        const { inputTokens, outputTokens } = part.usage;
        execution.usage = { inputTokens: inputTokens ?? contextTokens, outputTokens: outputTokens ?? tokensOf(reply.content) };
        return;
      }
    }
  }

  private failed(error: unknown, { run, abort }: RunExecution): RunOutcome {
    const outcome = failureOutcome(error, abort.reason, run.provider, this.config.agent);
    if (outcome) return outcome;
    this.logger.error(`Run ${run.id} failed unexpectedly`, error instanceof Error ? error.stack : String(error));
    return { status: 'failed', error: { code: 'INTERNAL', message: 'The run failed unexpectedly' } };
  }

  private async finish(reply: ReplyStream, run: RunEntity, outcome: RunOutcome, metadata: MessageMetadata): Promise<void> {
    reply.flush();
    const error = 'error' in outcome ? outcome.error : undefined;
    // A run that failed before its reply row existed (say, an unconfigured provider) still gets one.
    if (!(await reply.open())) return this.endGone(run);
    // The run's end and its reply's final state are one change: one version, all or nothing. A run
    // that has ended meanwhile (interrupted by another instance that took this one for dead) keeps
    // the reply as that end left it.
    const ended = await this.conversations.versioned(run.conversationId, async (manager, version) => {
      const finished = await this.runs.finish(run.id, outcome.status, { usage: metadata.usage ?? null, error: error ?? null }, manager);
      if (!finished) return undefined;
      const message = await this.messages.finalizeReply(
        reply.messageId,
        { content: reply.content, status: outcome.status === 'completed' ? 'complete' : outcome.status, metadata: { ...metadata, ...(error && { error }) } },
        version,
        manager,
      );
      return message && { run: RunDto.from(finished), message: MessageDto.from(message) };
    });
    if (!ended) return;
    const { conversationId } = run;
    const { version, result } = ended;
    this.bus.publish({ type: 'message.updated', conversationId, message: result.message });
    if (outcome.status === 'completed') this.bus.publish({ type: 'run.completed', conversationId, run: result.run, message: result.message, version });
    else if (outcome.status === 'cancelled') this.bus.publish({ type: 'run.cancelled', conversationId, run: result.run, version });
    else this.bus.publish({ type: 'run.failed', conversationId, run: result.run, error: error!, version });
  }
}
