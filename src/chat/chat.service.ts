import { HttpStatus, Injectable } from '@nestjs/common';
import { filter, firstValueFrom, timeout } from 'rxjs';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError, ErrorCode, type FieldErrors, fieldError, RateLimitedError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import type { AgentMode } from '../conversations/conversation.entity.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import { type ConversationAccess, ConversationsService } from '../conversations/conversations.service.js';
import { DocumentsService } from '../documents/documents.service.js';
import { MessageDto, type SendMessageDto } from '../messages/dto/message.dto.js';
import type { MessageAttachment } from '../messages/message.entity.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { MessagesService, type SendOutcome } from '../messages/messages.service.js';
import { INSTANCE_ID } from '../realtime/instance.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { isRunEnd } from '../realtime/realtime.events.js';
import type { RunSnapshot } from '../agent/run-snapshots.service.js';
import type { FeedSource } from './conversation-feed.js';
import { RunDto } from '../agent/dto/run.dto.js';
import { ModelFactory } from '../agent/providers/model.factory.js';
import { isTerminalRunStatus, type RunEntity } from '../agent/run.entity.js';
import { RunPauses } from '../agent/run-pauses.service.js';
import { RunScheduler } from '../agent/run-scheduler.service.js';
import { RunSnapshots } from '../agent/run-snapshots.service.js';
import { resumeFrom } from './sse-resume.js';
import type { EndedRunEventFrame } from './wire-events.js';
import { RunsRepository } from '../agent/runs.repository.js';
import { CONTEXT_PAGE } from '../agent/context.service.js';

const MENTION = /(^|[^\w@])@agent\b/i;

/** Whether the agent answers a user message in this mode. */
function agentReplies(mode: AgentMode, content: string): boolean {
  return mode === 'auto' || (mode === 'mention' && MENTION.test(content));
}

/** Waits before each look for a concurrent copy of a refused message: at most 0.75 s in all. */
const CONCURRENT_COPY_WAITS_MS = [0, 50, 200, 500];

function runNotFound(): AppError {
  return new AppError(HttpStatus.NOT_FOUND, 'RUN_NOT_FOUND', 'Run not found');
}

/**
 * What happens when someone talks in a conversation: the message is stored (messages module),
 * and when the agent mode calls for it a run is queued for AgentCore. Shared by REST and Socket.IO.
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly messagesService: MessagesService,
    private readonly messages: MessagesRepository,
    private readonly runs: RunsRepository,
    private readonly scheduler: RunScheduler,
    private readonly pauses: RunPauses,
    private readonly snapshots: RunSnapshots,
    private readonly models: ModelFactory,
    private readonly documents: DocumentsService,
    private readonly bus: RealtimeBus,
    private readonly config: AppConfig,
  ) {}

  async send(user: AuthUser, conversationId: string, dto: SendMessageDto): Promise<{ message: MessageDto; run: RunDto | null }> {
    const access = await this.conversations.authorize(conversationId, user, 'send');
    // A retry of a stored message is answered before any limit: it adds nothing.
    const replay = dto.clientMessageId ? await this.messagesService.findReplay(user, access, dto.clientMessageId) : undefined;
    if (replay) return this.replayed(replay);
    const attachments = await this.attachmentsOf(access.view.id, dto.attachments);
    const replies = agentReplies(access.view.agent.mode, dto.content);
    let sent: SendOutcome;
    try {
      if (replies) await this.checkQuota(user);
      const run = replies ? { ...this.models.resolve(access.view.agent.provider, access.view.agent.model), instanceId: INSTANCE_ID, contextLimit: CONTEXT_PAGE } : undefined;
      sent = await this.messagesService.send(user, access, dto, attachments, run);
    } catch (error) {
      // A concurrent send of the same message (another transport, a retry) may have stored it
      // meanwhile, using up the last of a limit: that one is a replay, which no limit refuses.
      const limited = error instanceof AppError && error.getStatus() === HttpStatus.TOO_MANY_REQUESTS;
      const stored = limited && dto.clientMessageId ? await this.concurrentCopy(user, access, dto.clientMessageId) : undefined;
      if (!stored) throw error;
      return this.replayed(stored);
    }
    const { message, created, run, reply, tail } = sent;
    if (!created) return this.replayed(message);
    if (!run) return { message, run: null };
    // Claimed with the message: it starts here with what the send already knows.
    if (run.status === 'running') this.scheduler.start(run, { view: access.view, triggerSeq: message.seq, ...(reply && { reply }), ...(tail && { tail }) });
    else this.scheduler.enqueue(run.conversationId);
    return { message, run: RunDto.from(run) };
  }

  /**
   * The copy of a message sent at the same moment over another transport: it charged the limit
   * first, and may still be committing when this copy is refused, so it is looked for a few times
   * over a short while (only on this refusal path) before the refusal stands.
   */
  private async concurrentCopy(user: AuthUser, access: ConversationAccess, clientMessageId: string): Promise<SendOutcome['message'] | undefined> {
    for (const delayMs of CONCURRENT_COPY_WAITS_MS) {
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const stored = await this.messagesService.findReplay(user, access, clientMessageId);
      if (stored) return stored;
    }
    return undefined;
  }

  /**
   * The documents a message may carry: documents of its own conversation only, which every
   * participant can read (DocumentsService), so that attaching one shows nobody, the agent's
   * readers included, anything they could not read already. A private document is uploaded to the
   * conversation first; anything else, whoever owns it and whether it exists, is "no document in
   * this conversation" alike. A document still being processed is accepted (the run waits a while
   * for its text); one that failed has no text to give and is refused with its reason.
   */
  private async attachmentsOf(conversationId: string, requested: string[] | undefined): Promise<MessageAttachment[]> {
    if (!requested?.length) return [];
    const max = this.config.limits.attachmentsMax;
    if (requested.length > max) throw fieldError('attachments', `attachments must contain no more than ${max} elements`);
    const ids = requested.map((id) => id.toLowerCase());
    if (new Set(ids).size !== ids.length) throw fieldError('attachments', 'attachments must not name a document twice');
    const found = new Map((await this.documents.attachable(conversationId, ids)).map((document) => [document.id, document]));
    const errors: FieldErrors = {};
    for (const [index, id] of ids.entries()) {
      const document = found.get(id);
      if (!document) errors[`attachments.${index}`] = ['no document with this id in this conversation (upload it with conversationId first)'];
      else if (document.status === 'failed') errors[`attachments.${index}`] = [`the document could not be processed: ${document.error ?? 'unreadable'}`];
    }
    if (Object.keys(errors).length) throw new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Validation failed', errors);
    return ids.map((id) => {
      const { filename, mediaType, bytes } = found.get(id)!;
      return { id, filename, mediaType, bytes };
    });
  }

  /** A stored message sent again, with the run that answered it (if any). */
  private async replayed(message: MessageDto): Promise<{ message: MessageDto; run: RunDto | null }> {
    const existing = await this.runs.findByTrigger(message.id);
    return { message, run: existing ? RunDto.from(existing) : null };
  }

  /** A new run answering the same user message. */
  async regenerate(user: AuthUser, conversationId: string, messageId: string): Promise<RunDto> {
    const access = await this.conversations.authorize(conversationId, user, 'send');
    const message = await this.messages.findById(conversationId, messageId);
    if (!message || message.deletedAt) throw new AppError(HttpStatus.NOT_FOUND, 'MESSAGE_NOT_FOUND', 'Message not found');
    if (message.role !== 'user') {
      throw new AppError(HttpStatus.BAD_REQUEST, ErrorCode.VALIDATION, 'Only a user message can be answered again', {
        messageId: ['messageId must refer to a user message'],
      });
    }
    await this.checkQuota(user);
    // A regenerate costs what a message costs: one more call to the provider.
    await this.messagesService.takeSendAllowance(user);
    return RunDto.from(await this.queueRun(user, conversationId, access.view.agent, message.id));
  }

  async getRun(user: AuthUser, conversationId: string, runId: string): Promise<RunDto> {
    await this.conversations.authorize(conversationId, user, 'read');
    const run = await this.runs.findInConversation(conversationId, runId);
    if (!run) throw runNotFound();
    return RunDto.from(run);
  }

  /** Any participant who may send may cancel. Idempotent: a finished run is returned as it is. */
  async cancel(user: AuthUser, conversationId: string, runId: string): Promise<RunDto> {
    await this.conversations.authorize(conversationId, user, 'send');
    // Listen before reading, as waitForRun does: a run ending in between must not leave us waiting.
    const finished = this.waitForEnd(runId);
    finished.catch(() => undefined);
    const run = await this.runs.findInConversation(conversationId, runId);
    if (!run) throw runNotFound();
    if (isTerminalRunStatus(run.status)) return RunDto.from(run);
    // Queued or waiting for approvals: it ends here. Running here or on another instance: whichever executes it stops it.
    const cancelledWaiting = await this.pauses.cancelWaiting(runId, conversationId, user.id);
    if (!cancelledWaiting) this.bus.publish({ type: 'run.cancel', conversationId, runId });
    await finished.catch(() => undefined);
    return RunDto.from((await this.runs.findById(runId))!);
  }

  /**
   * Stop, as a chat UI means it: the caller's own newest run that has not ended (queued behind
   * another, or streaming); without one, the run streaming in the conversation. Undefined when
   * neither exists.
   */
  async cancelLatest(user: AuthUser, conversationId: string): Promise<RunDto | undefined> {
    await this.conversations.authorize(conversationId, user, 'send');
    const run = (await this.runs.findUnfinishedBy(conversationId, user.id)) ?? (await this.runs.findActive(conversationId));
    return run ? this.cancel(user, conversationId, run.id) : undefined;
  }

  /** Cancel by run id alone (Socket.IO `run:cancel`): the run's conversation decides who may. */
  async cancelById(user: AuthUser, runId: string): Promise<RunDto> {
    const run = await this.runs.findById(runId);
    if (!run) throw runNotFound();
    return this.cancel(user, run.conversationId, runId);
  }

  /** Resolves with the finished run (and its reply) once it has ended. */
  async waitForRun(runId: string): Promise<{ run: RunDto; reply: MessageDto | null }> {
    const ended = this.waitForEnd(runId);
    const current = await this.runs.findById(runId);
    if (current && !isTerminalRunStatus(current.status)) await ended;
    const run = (await this.runs.findById(runId))!;
    const reply = run.responseMessageId ? await this.messages.findById(run.conversationId, run.responseMessageId) : undefined;
    return { run: RunDto.from(run), reply: reply ? MessageDto.from(reply) : null };
  }

  /**
   * The end of a run that has ended, told as the live event did, read back from its reply. A reply
   * changed since (edited away, deleted) is sent as it is now, with the version of that change: a
   * newer state with its own version, never an older one.
   */
  async endedRunEvent(run: RunDto): Promise<EndedRunEventFrame> {
    const reply = run.responseMessageId ? await this.messages.findById(run.conversationId, run.responseMessageId) : undefined;
    const message = reply && MessageDto.from(reply);
    if (run.status === 'completed' && message) return { name: 'run:completed', payload: { run, message, version: message.version } };
    if (run.status === 'cancelled') return { name: 'run:cancelled', payload: { run, ...(message && { version: message.version }) } };
    const error = run.error ?? { code: 'INTERNAL', message: 'The run failed' };
    return { name: 'run:failed', payload: { run, error, ...(message && { version: message.version }) } };
  }

  /**
   * The version an SSE feed of the conversation resumes after (a deprecated seq is turned into
   * one); a point it could never deliver from is a 400.
   */
  async resumePoint(
    view: ConversationView,
    lastEventId: string | undefined,
    query: { afterVersion?: number | undefined; afterSeq?: number | undefined },
  ): Promise<number | undefined> {
    const point = await resumeFrom(lastEventId, query, view, () => this.conversations.progress(view.id));
    if (!point || 'afterVersion' in point) return point?.afterVersion;
    return this.messages.versionBeforeSeq(view.id, point.afterSeq);
  }

  /** What an SSE feed of the conversation reads, for a reader the caller has authorized (`access`). */
  feedSource(access: ConversationAccess): FeedSource {
    return {
      changes: (afterVersion) => this.messagesService.changes(access, afterVersion),
      activeRun: () => this.activeRun(access.view.id),
    };
  }

  /**
   * A recovery page read together with the reply streaming now, as one consistent answer. The run
   * is looked up first: one that ends meanwhile has its final reply in the page (and no snapshot
   * is given for it), one that starts meanwhile shows a streaming reply, whose snapshot is then read.
   */
  async withActiveRun<Page extends { items: MessageDto[] }>(
    conversationId: string,
    readPage: () => Promise<Page>,
  ): Promise<{ page: Page; activeRun: RunSnapshot | null }> {
    let activeRun = await this.activeRun(conversationId);
    const page = await readPage();
    const runId = activeRun?.run.id;
    if (runId && page.items.some((message) => message.runId === runId && message.status !== 'streaming')) activeRun = null;
    const streaming = page.items.find((message) => message.status === 'streaming' && message.runId !== null);
    if (streaming && streaming.runId !== activeRun?.run.id) activeRun = await this.activeRun(conversationId);
    return { page, activeRun };
  }

  /** The run streaming in a conversation, with its text so far (for joins and stream resumes). */
  async activeRun(conversationId: string): Promise<RunSnapshot | null> {
    const run = await this.runs.findActive(conversationId);
    if (!run) return null;
    const position = await this.snapshots.of(run);
    // Ended meanwhile: its final events reach the caller, who listens from before the lookup.
    return position ? { run: RunDto.from(run), ...position } : null;
  }

  private waitForEnd(runId: string): Promise<unknown> {
    return firstValueFrom(
      this.bus.events$.pipe(
        filter((event) => isRunEnd(event) && event.run.id === runId),
        timeout(this.config.agent.runTimeoutMs + 30_000),
      ),
    );
  }

  private async queueRun(user: AuthUser, conversationId: string, agent: { provider: string | null; model: string | null }, triggerMessageId: string): Promise<RunEntity> {
    const { provider, model } = this.models.resolve(agent.provider, agent.model);
    const run = await this.runs.create({ conversationId, triggerMessageId, requestedById: user.id, provider, model });
    this.scheduler.enqueue(conversationId);
    return run;
  }

  /** AGENT_DAILY_RUNS / AGENT_DAILY_TOKENS per user and UTC day; unset means unlimited. */
  private async checkQuota(user: AuthUser): Promise<void> {
    const { dailyRuns, dailyTokens } = this.config.agent;
    if (dailyRuns === undefined && dailyTokens === undefined) return;
    const used = await this.runs.usageToday(user.id);
    if ((dailyRuns !== undefined && used.runs >= dailyRuns) || (dailyTokens !== undefined && used.tokens >= dailyTokens)) {
      const midnight = new Date().setUTCHours(24, 0, 0, 0);
      throw new RateLimitedError('Your daily agent quota is used up; it resets at midnight UTC', Math.max(1, Math.ceil((midnight - Date.now()) / 1000)), 'QUOTA_EXCEEDED');
    }
  }
}
