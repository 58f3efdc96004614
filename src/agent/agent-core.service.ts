import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { MessageDto } from '../messages/dto/message.dto.js';
import type { MessageEntity, MessageMetadata } from '../messages/message.entity.js';
import { type ContextTail, MessagesRepository } from '../messages/messages.repository.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { type AgentStreamPart, streamSteps, type TokenTotals } from './agent-steps.js';
import { tokensOf } from '../common/text/tokens.js';
import { ContextService } from './context.service.js';
import { RunDto } from './dto/run.dto.js';
import { readWithRetries } from './provider-retries.js';
import { ModelFactory } from './providers/model.factory.js';
import { ReplyStream, type StreamPosition } from './reply-stream.js';
import type { RunAbort } from './run-abort.js';
import { RunCancellations } from './run-cancellations.service.js';
import { RunMetrics } from './run-metrics.js';
import { type ResumePoint, RunPauses } from './run-pauses.service.js';
import type { RunEntity, RunUsage } from './run.entity.js';
import { failureOutcome, type RunOutcome } from './run-outcome.js';
import { RunsRepository } from './runs.repository.js';
import { ToolCallEnds } from './tool-call-ends.js';
import { ToolCallRecorder } from './tool-call-recorder.js';
import { ToolRegistry } from './tools/tool-registry.js';

/** What a run starts from: its conversation, the seq of the message it answers and, if written already, its reply. */
export interface RunStart {
  view: ConversationView;
  triggerSeq: number;
  reply?: MessageEntity;
  /** The first page of the context, read with the message that started the run. */
  tail?: ContextTail;
}

/** One run as it executes here. */
interface RunExecution {
  run: RunEntity;
  reply: ReplyStream;
  abort: RunAbort;
  tools: ToolCallRecorder;
  usage?: RunUsage;
  /** Set when the run resumes after its approvals. */
  resumed?: ResumePoint;
  /** The first page of the context, read with the message that started the run (see RunStart). */
  tail?: ContextTail;
  /** Set once a resumed run streams text or calls a tool beyond the calls it waited on: no retry starts it over after that. */
  progressed?: boolean;
  callsMade?: number;
  /** Set when the model called tools that wait for approval: the run pauses instead of finishing. */
  paused?: Extract<AgentStreamPart, { type: 'approval-needed' }>;
}

/** Tokens as the provider counted them, or as estimated where it did not say. */
function usageOf(totals: TokenTotals, contextTokens: number, content: string): RunUsage {
  return { inputTokens: totals.inputTokens ?? contextTokens, outputTokens: totals.outputTokens ?? tokensOf(content) };
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
    private readonly pauses: RunPauses,
    private readonly toolEnds: ToolCallEnds,
    private readonly bus: RealtimeBus,
    private readonly config: AppConfig,
    private readonly metrics: RunMetrics,
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

  /**
   * Executes a run this instance has claimed (status running). `known`: the conversation and the
   * message it answers, as whoever claimed it has just read them; otherwise they are read here.
   */
  async run(run: RunEntity, known?: RunStart): Promise<void> {
    this.metrics.begin(run);
    const start = known ?? (await this.readStart(run));
    if (!start) return this.endGone(run);
    const { view, triggerSeq } = start;
    const resumed = await this.pauses.resumePoint(run);
    const reply = new ReplyStream(run, this.messages, this.bus, this.config.agent);
    if (resumed && run.responseMessageId) reply.reattach(run.responseMessageId, resumed.reply);
    else if (start.reply) reply.adopt(start.reply);
    this.replies.set(run.id, reply);
    const abort = this.cancellations.track(run.id, run.conversationId);
    try {
      const tools = new ToolCallRecorder(run, this.runs, this.toolEnds, this.bus, resumed?.metadata);
      await this.execute({ run, reply, abort, tools, ...(resumed && { resumed }), ...(start.tail && { tail: start.tail }) }, view, triggerSeq);
    } finally {
      this.replies.delete(run.id);
      this.cancellations.release(run.id);
      this.metrics.settle(run.id);
    }
  }

  /**
   * The conversation and the message the run answers; undefined if either is gone. A run queued
   * again before it began (its instance stopped) has its reply row already: it is reused.
   */
  private async readStart(run: RunEntity): Promise<RunStart | undefined> {
    const unstarted = run.responseMessageId && !run.loopState ? run.responseMessageId : undefined;
    const [view, trigger, reply] = await Promise.all([
      this.conversations.findView(run.conversationId),
      this.messages.findById(run.conversationId, run.triggerMessageId),
      unstarted ? this.messages.findById(run.conversationId, unstarted) : undefined,
    ]);
    if (!view || !trigger || trigger.deletedAt) return undefined;
    return { view, triggerSeq: trigger.seq, ...(reply && !reply.deletedAt && { reply }) };
  }

  /**
   * Ends a run whose message or conversation was deleted before it could answer — or, for a run
   * resumed after approvals, before it could go on: its reply so far ends cancelled with it.
   */
  private async endGone(run: RunEntity): Promise<void> {
    const error = { code: 'TRIGGER_GONE', message: 'The message or conversation was deleted' };
    const ended = await this.conversations.versioned(run.conversationId, async (manager, version) => {
      const finished = await this.runs.finish(run.id, 'cancelled', { usage: run.usage, error }, manager);
      if (!finished) return undefined;
      const metadata = { model: run.model, ...(run.usage && { usage: run.usage }), ...run.loopState?.metadata, error };
      const reply = run.responseMessageId ? await this.messages.finalizeReply(run.responseMessageId, { status: 'cancelled', metadata }, version, manager) : undefined;
      return { run: RunDto.from(finished), reply: reply && MessageDto.from(reply) };
    });
    if (!ended) return;
    const { conversationId } = run;
    if (ended.result.reply) this.bus.publish({ type: 'message.updated', conversationId, message: ended.result.reply });
    this.bus.publish({ type: 'run.cancelled', conversationId, run: ended.result.run, version: ended.version });
  }

  private async execute(execution: RunExecution, view: ConversationView, triggerSeq: number): Promise<void> {
    const { run, abort } = execution;
    abort.startDeadlines(this.config.agent);
    let outcome: RunOutcome;
    try {
      if (!(await this.generate(execution, view, triggerSeq))) return await this.endGone(run);
      outcome = { status: 'completed' };
    } catch (error) {
      outcome = this.failed(error, execution);
    } finally {
      abort.end();
    }
    if (execution.paused && outcome.status === 'completed') {
      const paused = await this.pause(execution, view);
      if (paused === true) return;
      outcome = paused;
    }
    const { usage, tools } = execution;
    await this.finish(execution.reply, run, outcome, { model: run.model, ...(usage && { usage }), ...tools.metadata });
  }

  /**
   * Pauses a run whose calls wait for approval: true once it waits in the database for anyone to
   * resume; otherwise how it ends here. A shutdown does not stop the pause (the state is durable);
   * a cancel does, also one that comes while the pause commits.
   */
  private async pause(execution: RunExecution, view: ConversationView): Promise<true | RunOutcome> {
    const { run, abort, reply, tools, usage, paused } = execution;
    // Read again after the pause: a cancel may come meanwhile.
    const cancelled = () => abort.reason === 'cancelled';
    if (cancelled()) return { status: 'cancelled' };
    try {
      const progress = { reply: { ...reply.position, messageId: reply.messageId }, metadata: tools.metadata, ...(usage && { usage }) };
      // False: the run ended meanwhile (erased with its account, taken for dead): its end is not ours to write.
      if (!(await this.pauses.pause(run, paused!, progress, view))) return true;
      if (cancelled()) await this.pauses.cancelWaiting(run.id, run.conversationId, null);
      return true;
    } catch (error) {
      return this.failed(error, execution);
    }
  }

  /**
   * Calls the provider with the run's context and tools, and streams its answer into the reply.
   * False, with nothing streamed, when the conversation went away before the reply was written.
   */
  private async generate(execution: RunExecution, view: ConversationView, triggerSeq: number): Promise<boolean> {
    const { run, reply, abort, tools } = execution;
    const agent = this.config.agent;
    // A reply row not written with the run is written while the context is read and the model
    // thinks, so that no bookkeeping adds to the time to the first token. It is announced once
    // the request is out: after whoever sent the message has started listening for the run.
    const writing = reply.unwritten ? reply.open() : undefined;
    writing?.catch(() => undefined); // awaited below
    const model = this.models.create({ provider: run.provider as never, model: run.model });
    const context = await this.context.build(view, triggerSeq, execution.tail);
    const bound = await this.tools.bind({ conversationId: run.conversationId, userId: run.requestedById ?? '' }, agent.toolTimeoutMs, view.agent.tools);
    const { resumed } = execution;
    const steps = () =>
      streamSteps({
        model,
        system: context.system,
        messages: context.messages,
        tools: bound,
        maxSteps: agent.maxSteps,
        abortSignal: abort.signal,
        ...(resumed && { resume: resumed.resume }),
      });

    const first = primed(steps());
    abort.touch();
    if (!(await (writing ?? reply.open()))) return false;
    await readWithRetries(first, {
      restart: steps,
      consume: (parts) => this.consume(parts, execution, context.tokens),
      // A resumed run starts over from its pause until it goes further: the calls it waited on keep their results.
      nothingSent: () => (resumed ? !execution.progressed : reply.untouched && !tools.any),
      signal: abort.signal,
      settings: agent,
      provider: run.provider,
      onRetry: (delay, attempt, error) => {
        this.metrics.retried(run, error.code);
        this.logger.warn(`Run ${run.id}: provider error (${error.code}) before the first token, retrying in ${delay} ms (attempt ${attempt})`);
      },
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
        execution.progressed = true;
        return;
      case 'tool-call':
        reply.flush();
        // The first calls of a resumed run are the ones it waited on (settled once, even across retries).
        execution.callsMade = (execution.callsMade ?? 0) + 1;
        if (execution.callsMade > (execution.resumed?.resume.paused.results.filter((result) => result === null).length ?? 0)) execution.progressed = true;
        return tools.started(part);
      case 'tool-result':
        return tools.completed(part);
      case 'tool-error':
        return tools.failed(part);
      case 'approval-needed':
        reply.flush();
        execution.paused = part;
        execution.usage = usageOf(part.paused.totals, contextTokens, reply.content);
        return;
      case 'finish':
        execution.usage = usageOf(part.usage, contextTokens, reply.content);
        return;
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
