import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APICallError } from '@ai-sdk/provider';
import { filter, type Subscription } from 'rxjs';
import { AppConfig } from '../config/app-config.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { MessageDto } from '../messages/dto/message.dto.js';
import type { MessageEntity, MessageMetadata } from '../messages/message.entity.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { streamSteps } from './agent-steps.js';
import { ContextService, tokensOf } from './context.service.js';
import { RunDto } from './dto/run.dto.js';
import { ModelFactory, ModelUnavailableError } from './providers/model.factory.js';
import { RunEntity, type RunError, type RunUsage } from './run.entity.js';
import { RunsRepository } from './runs.repository.js';
import { ToolRegistry } from './tools/tool-registry.js';

/** Cancels asked for runs this instance has claimed but not yet started are remembered this long. */
const PENDING_CANCEL_TTL_MS = 60_000;

type AbortReason = 'cancelled' | 'timeout' | 'idle' | 'shutdown';

interface ActiveRun {
  run: RunEntity;
  responseMessageId: string;
  /** The text published so far (what `index` covers). */
  content: string;
  /** Index of the last delta published; -1 before the first. */
  index: number;
  /** Text received but not yet published: deltas are coalesced to AGENT_DELTA_INTERVAL_MS. */
  pending: string;
  lastFlush: number;
  flushTimer?: NodeJS.Timeout;
  controller: AbortController;
  reason?: AbortReason;
}

export interface RunSnapshot {
  run: RunDto;
  content: string;
  index: number;
}

class RunFailure extends Error {
  constructor(readonly error: RunError) {
    super(error.message);
  }
}

function isRetryable(error: unknown): boolean {
  if (APICallError.isInstance(error)) return error.isRetryable;
  const code = (error as { code?: string; cause?: { code?: string } })?.cause?.code ?? (error as { code?: string })?.code;
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'].includes(code ?? '') ||
    (error instanceof TypeError && /fetch failed/i.test(error.message));
}

function describeProviderError(error: unknown, provider: string): RunError {
  if (error instanceof ModelUnavailableError) return { code: error.code, message: error.message };
  if (APICallError.isInstance(error)) {
    if (error.statusCode === 401 || error.statusCode === 403) {
      return { code: 'PROVIDER_AUTH', message: `The ${provider} provider rejected the credentials (HTTP ${error.statusCode}); check the API key` };
    }
    if (error.statusCode === 404) return { code: 'MODEL_NOT_FOUND', message: `The ${provider} provider does not know this model (HTTP 404); check AGENT_MODEL` };
    if (error.statusCode === 429) return { code: 'PROVIDER_RATE_LIMITED', message: `The ${provider} provider is rate limiting requests (HTTP 429)` };
    return { code: 'PROVIDER_ERROR', message: `The ${provider} provider answered HTTP ${error.statusCode ?? '?'}` };
  }
  if (isRetryable(error)) return { code: 'PROVIDER_UNAVAILABLE', message: `The ${provider} provider cannot be reached; check OPENAI_BASE_URL / network` };
  return { code: 'PROVIDER_ERROR', message: `The ${provider} provider failed: ${error instanceof Error ? error.message.slice(0, 200) : 'unknown error'}` };
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
export class AgentCore implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AgentCore');
  private readonly active = new Map<string, ActiveRun>();
  private readonly pendingCancels = new Map<string, number>();
  private subscription: Subscription | undefined;

  constructor(
    private readonly runs: RunsRepository,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly context: ContextService,
    private readonly models: ModelFactory,
    private readonly tools: ToolRegistry,
    private readonly bus: RealtimeBus,
    private readonly config: AppConfig,
  ) {}

  /** Cancel requests reach every instance; the one executing the run stops it. */
  onModuleInit(): void {
    this.subscription = this.bus.events$
      .pipe(filter((event): event is Extract<RealtimeEvent, { type: 'run.cancel' }> => event.type === 'run.cancel'))
      .subscribe((event) => this.requestCancel(event.runId));
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  get activeRunIds(): string[] {
    return [...this.active.keys()];
  }

  /** The text streamed so far of a run executing here, with the index of its last delta. */
  snapshot(runId: string): { content: string; index: number } | undefined {
    const active = this.active.get(runId);
    return active && { content: active.content, index: active.index };
  }

  /** Stops a run executing here at once (it ends as cancelled, text kept), or as soon as it starts here. */
  private requestCancel(runId: string): void {
    if (this.abort(runId, 'cancelled')) return;
    const now = Date.now();
    for (const [id, at] of this.pendingCancels) if (now - at > PENDING_CANCEL_TTL_MS) this.pendingCancels.delete(id);
    this.pendingCancels.set(runId, now);
  }

  /** Stops every run of this process (shutdown): they end as interrupted, text kept. */
  abortAll(): void {
    for (const runId of this.active.keys()) this.abort(runId, 'shutdown');
  }

  private abort(runId: string, reason: AbortReason): boolean {
    const active = this.active.get(runId);
    if (!active) return false;
    active.reason ??= reason;
    active.controller.abort(reason);
    return true;
  }

  /** Executes a run this instance has claimed (status running). */
  async run(run: RunEntity): Promise<void> {
    const [view, trigger] = await Promise.all([
      this.conversations.findView(run.conversationId),
      this.messages.findById(run.conversationId, run.triggerMessageId),
    ]);
    if (!view || !trigger || trigger.deletedAt) return this.endGone(run);
    const active: ActiveRun = { run, responseMessageId: '', content: '', index: -1, pending: '', lastFlush: 0, controller: new AbortController() };
    this.active.set(run.id, active);
    if (this.pendingCancels.delete(run.id)) this.abort(run.id, 'cancelled');
    try {
      await this.execute(active, view, trigger);
    } finally {
      this.active.delete(run.id);
    }
  }

  /** Ends a run whose message or conversation was deleted before it could answer. */
  private async endGone(run: RunEntity): Promise<void> {
    const ended = await this.conversations.versioned(run.conversationId, (manager) =>
      this.runs.finish(run.id, 'cancelled', { error: { code: 'TRIGGER_GONE', message: 'The message or conversation was deleted' } }, manager),
    );
    if (ended) this.bus.publish({ type: 'run.cancelled', conversationId: run.conversationId, run: RunDto.from(ended.result), version: ended.version });
  }

  /**
   * Writes the assistant message the reply streams into and announces the run (message:created,
   * run:started). False if the conversation is gone.
   */
  private async openReply(active: ActiveRun): Promise<boolean> {
    if (active.responseMessageId) return true;
    const { run } = active;
    const reply = await this.messages.appendReply({ conversationId: run.conversationId, runId: run.id, metadata: { model: run.model } });
    if (!reply) return false;
    active.responseMessageId = reply.id;
    active.run = Object.assign(new RunEntity(), run, { responseMessageId: reply.id });
    this.bus.publish({ type: 'message.created', conversationId: run.conversationId, message: MessageDto.from(reply) });
    this.bus.publish({ type: 'run.started', conversationId: run.conversationId, run: RunDto.from(active.run) });
    return true;
  }

  private async execute(active: ActiveRun, view: ConversationView, trigger: MessageEntity): Promise<void> {
    const { run } = active;
    const agent = this.config.agent;
    const toolCalls: NonNullable<MessageMetadata['toolCalls']> = [];
    const sources: unknown[] = [];
    const invocations = new Map<string, string>();
    let usage: RunUsage | undefined;
    let lastCheckpoint = Date.now();
    let idleTimer: NodeJS.Timeout | undefined;
    const resetIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => this.abort(run.id, 'idle'), agent.idleTimeoutMs);
    };
    const runTimer = setTimeout(() => this.abort(run.id, 'timeout'), agent.runTimeoutMs);
    let outcome: { status: 'completed' } | { status: 'cancelled' | 'failed' | 'interrupted'; error?: RunError };

    try {
      const model = this.models.create({ provider: run.provider as never, model: run.model });
      const context = await this.context.build(view, trigger.seq);
      const tools = await this.tools.bind({ conversationId: run.conversationId, userId: run.requestedById ?? '' }, agent.toolTimeoutMs);
      const steps = () =>
        streamSteps({ model, system: context.system, messages: context.messages, tools, maxSteps: agent.maxSteps, abortSignal: active.controller.signal });

      // The provider request goes out first; the reply row is written and announced while the
      // model thinks, so that bookkeeping adds nothing to the time to the first token.
      let parts = primed(steps());
      resetIdle();
      if (!(await this.openReply(active))) return await this.endGone(run);
      for (let attempt = 0; ; attempt++) {
        try {
          if (attempt > 0) parts = steps();
          resetIdle();
          for await (const part of parts) {
            resetIdle();
            switch (part.type) {
              case 'text-delta': {
                if (part.text) this.addText(active, part.text);
                break;
              }
              case 'tool-call': {
                this.flush(active);
                const id = await this.runs.recordToolStart({ runId: run.id, callId: part.toolCallId, name: part.toolName, arguments: part.input });
                // Not recorded: the run was erased with its account (its stop is on the way). Its
                // tool calls from then on are neither kept nor shown to anyone; nor are outcomes.
                if (!id) break;
                invocations.set(part.toolCallId, id);
                this.bus.publish({ type: 'run.tool', conversationId: run.conversationId, runId: run.id, callId: part.toolCallId, name: part.toolName, status: 'started', args: part.input });
                break;
              }
              case 'tool-result': {
                const id = invocations.get(part.toolCallId);
                if (!id || !(await this.runs.recordToolEnd(id, { result: part.output }))) break;
                toolCalls.push({ callId: part.toolCallId, name: part.toolName, args: part.input, result: part.output });
                if (part.toolName === 'search_history' && Array.isArray(part.output)) sources.push(...part.output);
                this.bus.publish({ type: 'run.tool', conversationId: run.conversationId, runId: run.id, callId: part.toolCallId, name: part.toolName, status: 'completed', args: part.input, result: part.output });
                break;
              }
              case 'tool-error': {
                const message = part.error instanceof Error ? part.error.message : String(part.error);
                const id = invocations.get(part.toolCallId);
                if (!id || !(await this.runs.recordToolEnd(id, { error: message }))) break;
                toolCalls.push({ callId: part.toolCallId, name: part.toolName, args: part.input, error: message });
                this.bus.publish({ type: 'run.tool', conversationId: run.conversationId, runId: run.id, callId: part.toolCallId, name: part.toolName, status: 'failed', args: part.input, result: { error: message } });
                break;
              }
              case 'finish': {
                const { inputTokens, outputTokens } = part.usage;
                usage = { inputTokens: inputTokens ?? context.tokens, outputTokens: outputTokens ?? tokensOf(active.content) };
                break;
              }
            }
            const now = Date.now();
            if (now - lastCheckpoint >= agent.checkpointMs) {
              lastCheckpoint = now;
              // The published text with the index of its last delta (the pending text is in neither).
              await this.messages.checkpointReply(active.responseMessageId, active.content, active.index);
            }
          }
          break;
        } catch (error) {
          if (active.controller.signal.aborted) throw error;
          const nothingSent = active.index === -1 && !active.pending && invocations.size === 0;
          if (nothingSent && attempt < agent.maxRetries && isRetryable(error)) {
            const delay = agent.retryBaseMs * 2 ** attempt;
            this.logger.warn(`Run ${run.id}: provider error before the first token, retrying in ${delay} ms (attempt ${attempt + 1})`);
            await new Promise((resolve) => setTimeout(resolve, delay));
            continue;
          }
          if (nothingSent) throw new RunFailure(describeProviderError(error, run.provider));
          throw new RunFailure({
            code: 'STREAM_INTERRUPTED',
            message: `The ${run.provider} stream broke off after the reply had started; the partial text is kept`,
          });
        }
      }
      outcome = { status: 'completed' };
    } catch (error) {
      const reason = active.reason;
      if (reason === 'cancelled') outcome = { status: 'cancelled' };
      else if (reason === 'shutdown') outcome = { status: 'interrupted', error: { code: 'SHUTDOWN', message: 'The server shut down during the run' } };
      else if (reason === 'timeout') outcome = { status: 'failed', error: { code: 'RUN_TIMEOUT', message: `The run took longer than ${agent.runTimeoutMs} ms` } };
      else if (reason === 'idle') outcome = { status: 'failed', error: { code: 'IDLE_TIMEOUT', message: `The provider sent nothing for ${agent.idleTimeoutMs} ms` } };
      else if (error instanceof RunFailure) outcome = { status: 'failed', error: error.error };
      else if (error instanceof ModelUnavailableError) outcome = { status: 'failed', error: describeProviderError(error, run.provider) };
      else {
        this.logger.error(`Run ${run.id} failed unexpectedly`, error instanceof Error ? error.stack : String(error));
        outcome = { status: 'failed', error: { code: 'INTERNAL', message: 'The run failed unexpectedly' } };
      }
    } finally {
      clearTimeout(runTimer);
      clearTimeout(idleTimer);
      // Whatever of the provider call is still open ends with the run — also a request started
      // early whose stream was never read because the bookkeeping in between failed.
      active.controller.abort('finished');
    }
    await this.finish(active, outcome, {
      model: run.model,
      ...(usage && { usage }),
      ...(toolCalls.length && { toolCalls }),
      ...(sources.length && { sources }),
    });
  }

  /** The first delta goes out at once; later ones at most every AGENT_DELTA_INTERVAL_MS, text merged. */
  private addText(active: ActiveRun, text: string): void {
    active.pending += text;
    const interval = this.config.agent.deltaIntervalMs;
    const wait = active.lastFlush + interval - Date.now();
    if (wait <= 0) this.flush(active);
    else active.flushTimer ??= setTimeout(() => this.flush(active), wait);
  }

  private flush(active: ActiveRun): void {
    clearTimeout(active.flushTimer);
    active.flushTimer = undefined;
    if (!active.pending) return;
    const text = active.pending;
    active.pending = '';
    active.content += text;
    active.index += 1;
    active.lastFlush = Date.now();
    this.bus.publish({ type: 'run.delta', conversationId: active.run.conversationId, runId: active.run.id, index: active.index, text });
  }

  private async finish(
    active: ActiveRun,
    outcome: { status: 'completed' } | { status: 'cancelled' | 'failed' | 'interrupted'; error?: RunError },
    metadata: MessageMetadata,
  ): Promise<void> {
    const { run } = active;
    this.flush(active);
    const error = 'error' in outcome ? outcome.error : undefined;
    // A run that failed before its reply row existed (say, an unconfigured provider) still gets one.
    if (!(await this.openReply(active))) return this.endGone(run);
    // The run's end and its reply's final state are one change: one version, all or nothing. A run
    // that has ended meanwhile (interrupted by another instance that took this one for dead) keeps
    // the reply as that end left it.
    const ended = await this.conversations.versioned(run.conversationId, async (manager, version) => {
      const finished = await this.runs.finish(run.id, outcome.status, { usage: metadata.usage ?? null, error: error ?? null }, manager);
      if (!finished) return undefined;
      const message = await this.messages.finalizeReply(
        active.responseMessageId,
        { content: active.content, status: outcome.status === 'completed' ? 'complete' : outcome.status, metadata: { ...metadata, ...(error && { error }) } },
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
