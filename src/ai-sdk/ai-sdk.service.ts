import { HttpStatus, Injectable } from '@nestjs/common';
import { filter, type Observable } from 'rxjs';
import type { RunDto } from '../agent/dto/run.dto.js';
import { isTerminalRunStatus } from '../agent/run.entity.js';
import { ChatService } from '../chat/chat.service.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError, fieldError } from '../common/errors.js';
import type { RequestMeta } from '../common/http/request-meta.js';
import { AppConfig } from '../config/app-config.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import type { MessageDto } from '../messages/dto/message.dto.js';
import type { MessageEntity } from '../messages/message.entity.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { RealtimeEvent } from '../realtime/realtime.events.js';
import { ApprovalAnswers } from './approval-answers.js';
import { approvalResponsesOf } from './approval-responses.js';
import type { ChatRequestDto, UiMessageDto } from './dto/ai-sdk.dto.js';
import { PausedReplies } from './paused-replies.js';
import { type Delivered, ReplyChunks, unansweredChunks } from './reply-chunks.js';
import type { UiMessageStream } from './ui-message-stream.js';

/** Writes an answer onto a stream that has just been opened, and ends it in due course. */
/** What a request is answered with, once its stream is open; `abandon` when none will be (refused). */
export interface Answer {
  play(stream: UiMessageStream): void;
  abandon(): void;
}

/** Where a stream's reply starts from, read before the stream opens. */
type Prime = (chunks: ReplyChunks) => void;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A conversation's events from now on, held until a reader is ready for them. */
interface HeldEvents {
  release(next: (event: RealtimeEvent) => void): void;
  /** Whether the run's start is among the events held: then they tell its reply from the beginning. */
  sawStart(runId: string): boolean;
  stop(): void;
}

function holdEvents(events$: Observable<RealtimeEvent>, conversationId: string): HeldEvents {
  const held: RealtimeEvent[] = [];
  let reader: ((event: RealtimeEvent) => void) | undefined;
  const subscription = events$.pipe(filter((event) => event.conversationId === conversationId)).subscribe((event) => {
    if (reader) reader(event);
    else held.push(event);
  });
  return {
    release(next) {
      reader = next;
      for (const event of held.splice(0)) next(event);
    },
    sawStart: (runId) => held.some((event) => event.type === 'run.started' && event.run.id === runId),
    stop: () => subscription.unsubscribe(),
  };
}

/** The text of a UI message: its text parts, one per line (other parts are not read). */
function textOf(message: UiMessageDto): string {
  return message.parts.flatMap((part) => (part.type === 'text' ? [part.text as string] : [])).join('\n');
}

/** A file part's url that names an uploaded document: `document:<id>`, or the document's own API address. */
const DOCUMENT_URL = /^(?:document:|https?:\/\/[^?#]*\/documents\/)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/content)?$/i;

/**
 * The documents a UI message carries: its file parts, each naming a document uploaded to the
 * conversation. A file sent inline (a data URL) is refused rather than dropped unseen.
 */
function attachmentsOf(message: UiMessageDto, index: number): string[] {
  const ids: string[] = [];
  for (const [partIndex, part] of message.parts.entries()) {
    if (part.type !== 'file') continue;
    const match = typeof part.url === 'string' ? DOCUMENT_URL.exec(part.url) : null;
    if (!match) {
      throw fieldError(`messages.${index}.parts.${partIndex}.url`, 'a file must be uploaded first (POST /documents with conversationId) and named by the url "document:<id>"');
    }
    ids.push(match[1]!.toLowerCase());
  }
  return ids;
}

/**
 * The Vercel AI SDK `useChat` protocol over ChatService: a UI message sent (idempotent on its id)
 * or an answer regenerated, streamed as UI message chunks; the reply streaming now, replayed for a
 * client that resumes; stop. Every stream listens to the bus before it reads where the reply
 * stands, so that nothing falls between the two.
 */
@Injectable()
export class AiSdkService {
  constructor(
    private readonly chat: ChatService,
    private readonly conversations: ConversationsService,
    private readonly messages: MessagesRepository,
    private readonly bus: RealtimeBus,
    private readonly config: AppConfig,
    private readonly paused: PausedReplies,
    private readonly answers: ApprovalAnswers,
  ) {}

  /**
   * POST /chat: everything that can fail with a JSON error happens here, before the stream opens.
   * A last message from the assistant carries the client's answers to its approval requests.
   */
  async submit(user: AuthUser, body: ChatRequestDto, request?: RequestMeta): Promise<Answer> {
    if (body.messages.at(-1)!.role === 'assistant' && body.trigger !== 'regenerate-message') return this.continueAfterApprovals(user, body, request);
    // Held from before the run exists: its reply is then told by its own events from the start,
    // in order (a snapshot read later would put text streamed meanwhile before the tool calls).
    // (Events name conversations by their ids as stored: lowercase.)
    const events = holdEvents(this.bus.events$, body.id.toLowerCase());
    try {
      if (body.trigger === 'regenerate-message') return await this.followHeld(user, await this.chat.regenerate(user, body.id, await this.answered(user, body)), events, {});
      const { message, run } = await this.send(user, body);
      if (!run) {
        events.stop();
        return { play: (stream) => this.writeAll(stream, unansweredChunks(message)), abandon: () => undefined };
      }
      return await this.followHeld(user, run, events, { userMessage: message });
    } catch (error) {
      events.stop();
      throw error;
    }
  }

  /**
   * GET /chat/:id/stream: the reply streaming now, from its start; undefined when none is. A reply
   * paused for approvals is one (its stream ends at the pause), as is one whose approvals were
   * just decided and whose run waits for an instance to go on.
   */
  async resume(user: AuthUser, conversationId: string): Promise<Answer | undefined> {
    await this.conversations.authorize(conversationId, user, 'read');
    const events = holdEvents(this.bus.events$, conversationId);
    try {
      const run = (await this.chat.activeRun(conversationId))?.run ?? (await this.paused.requeued(conversationId));
      if (!run) {
        events.stop();
        return undefined;
      }
      return await this.followHeld(user, run, events, {});
    } catch (error) {
      events.stop();
      throw error;
    }
  }

  /** POST /chat/:id/stop: cancels the caller's reply (its text so far is kept); undefined when there is none to stop. */
  stop(user: AuthUser, conversationId: string): Promise<RunDto | undefined> {
    return this.chat.cancelLatest(user, conversationId);
  }

  /**
   * The answers to a paused reply's approval requests (the tool parts of the client's copy of it,
   * in state approval-responded), decided as the caller; then the same run's reply goes on, from
   * where the client's copy ends. No message is stored.
   */
  private async continueAfterApprovals(user: AuthUser, body: ChatRequestDto, request?: RequestMeta): Promise<Answer> {
    const index = body.messages.length - 1;
    const last = body.messages[index]!;
    const responses = approvalResponsesOf(last, index);
    if (!responses.length) {
      throw fieldError(`messages.${index}.role`, 'the last message must be the user message to send, or the reply whose approval requests were answered');
    }
    await this.conversations.authorize(body.id, user, 'read');
    const reply = await this.stored(body.id, last.id);
    if (reply?.role !== 'assistant' || !reply.runId) throw new AppError(HttpStatus.NOT_FOUND, 'MESSAGE_NOT_FOUND', 'The answered message is not a reply of this conversation');
    const run = await this.chat.getRun(user, body.id, reply.runId);
    // Listening before deciding: the run may go on at once, on any instance.
    const events = holdEvents(this.bus.events$, run.conversationId);
    try {
      const delivered = await this.answers.decide(user, run, last, index, responses, request);
      return await this.followHeld(user, run, events, { delivered });
    } catch (error) {
      events.stop();
      throw error;
    }
  }

  /** The last message is the one to send; its UI id is the idempotency key, so a retried POST adds nothing. */
  private async send(user: AuthUser, body: ChatRequestDto): Promise<{ message: MessageDto; run: RunDto | null }> {
    const index = body.messages.length - 1;
    const last = body.messages[index]!;
    if (last.role !== 'user') throw fieldError(`messages.${index}.role`, 'the last message must be the user message to send');
    const content = textOf(last);
    if (!/\S/.test(content)) throw fieldError(`messages.${index}.parts`, 'the message to send must have text');
    const max = this.config.limits.messageMaxLength;
    if (content.length > max) throw fieldError(`messages.${index}.parts`, `the text must be shorter than or equal to ${max} characters`);
    const attachments = attachmentsOf(last, index);
    const sent = await this.chat.send(user, body.id, { content, clientMessageId: last.id, ...(attachments.length && { attachments }) });
    if (sent.message.content !== content || sent.message.attachments.join() !== attachments.join()) {
      // The id is that of a message sent before with other text or files: useChat's edit, which would be lost.
      throw new AppError(HttpStatus.CONFLICT, 'MESSAGE_ID_REUSED', 'A message with this id was already sent with other text or files; send the edit as a new message');
    }
    return sent;
  }

  /**
   * The user message a regenerate answers again: the one the named message (`messageId`, our id of
   * a reply or of a user message) answered or is; otherwise the last user message of the body, by
   * our id or by the caller's clientMessageId (the UI id it was sent with).
   */
  private async answered(user: AuthUser, { id, messageId, messages }: ChatRequestDto): Promise<string> {
    await this.conversations.authorize(id, user, 'send');
    const named = messageId ? await this.stored(id, messageId) : undefined;
    // One of our ids that is not a message of this conversation is a mistake, not a client-side id.
    if (messageId && UUID.test(messageId) && !named) throw new AppError(HttpStatus.NOT_FOUND, 'MESSAGE_NOT_FOUND', 'messageId is not a message of this conversation');
    if (named?.role === 'assistant' && named.runId) return (await this.chat.getRun(user, id, named.runId)).triggerMessageId;
    if (named?.role === 'user') return named.id;
    const last = messages.findLast((message) => message.role === 'user');
    const stored = last && ((await this.stored(id, last.id)) ?? (await this.messages.findByClientMessageId(id, user.id, last.id)));
    if (stored?.role === 'user' && !stored.deletedAt) return stored.id;
    throw new AppError(HttpStatus.NOT_FOUND, 'MESSAGE_NOT_FOUND', 'None of these messages is a message of this conversation to answer again');
  }

  private async stored(conversationId: string, id: string): Promise<MessageEntity | undefined> {
    const message = UUID.test(id) ? await this.messages.findById(conversationId, id) : undefined;
    return message && !message.deletedAt ? message : undefined;
  }

  /** A run's reply, where it stands then live; `delivered`: only what comes after the client's copy of it. */
  private async followHeld(user: AuthUser, run: RunDto, events: HeldEvents, from: { userMessage?: MessageDto; delivered?: Delivered }): Promise<Answer> {
    const prime = await this.standing(user, run, events);
    return {
      play: (stream) => {
        const chunks = new ReplyChunks((chunk) => stream.write(chunk), run.id, from.userMessage);
        if (from.delivered) chunks.continueFrom(from.delivered);
        this.play(stream, events, chunks, run.id, prime);
      },
      // The conversation's events would otherwise be held for nobody, for ever.
      abandon: () => events.stop(),
    };
  }

  /** Where a run's reply stands: ended, streaming (its snapshot), paused for approvals, or not started. */
  private async standing(user: AuthUser, run: RunDto, events: HeldEvents): Promise<Prime> {
    const current = await this.chat.getRun(user, run.conversationId, run.id);
    if (isTerminalRunStatus(current.status)) {
      const [ended, approvals] = await Promise.all([this.chat.waitForRun(run.id), this.paused.approvalsOf(run.id)]);
      return (chunks) => {
        chunks.know(approvals);
        chunks.settle(ended.run, ended.reply);
      };
    }
    if (current.status === 'running') {
      if (events.sawStart(run.id)) return () => undefined;
      // The calls are read with the snapshot: ones made since reach the stream as held events.
      const [snapshot, approvals, calls] = await Promise.all([
        this.chat.activeRun(run.conversationId),
        this.paused.approvalsOf(run.id),
        this.paused.callsOf(run.id),
      ]);
      return (chunks) => {
        chunks.know(approvals);
        if (snapshot?.run.id === run.id) chunks.resume(snapshot, calls);
      };
    }
    // Never started: no reply yet, nothing to read.
    if (!current.responseMessageId) return () => undefined;
    // Waiting for approvals, or queued again once they were decided.
    const paused = await this.paused.of(run.id);
    return (chunks) => paused && chunks.pause(paused, { end: paused.run.status === 'awaiting_approval' });
  }

  /**
   * Writes the reply from where it stands, then its live events in order. The first approval
   * request of a pause ends the stream with every waiting call, read from the run; when they were
   * decided before that read, the stream just goes on.
   */
  private play(stream: UiMessageStream, events: HeldEvents, chunks: ReplyChunks, runId: string, prime: Prime): void {
    stream.onClose(() => events.stop());
    // Where the reply stands goes out at once, however large its tool calls' inputs and results.
    stream.burst(() => prime(chunks));
    let queue = Promise.resolve();
    const fail = (): void => {
      if (stream.closed) return;
      stream.write({ type: 'error', errorText: 'The reply could not be read; resume the stream' });
      stream.end();
    };
    events.release((event) => {
      queue = queue.then(() => this.feed(stream, chunks, runId, event)).catch(fail);
    });
    if (chunks.done) stream.end();
  }

  private async feed(stream: UiMessageStream, chunks: ReplyChunks, runId: string, event: RealtimeEvent): Promise<void> {
    if (chunks.done) return;
    const paused = chunks.pausedBy(event);
    chunks.event(event);
    const pause = paused ? await this.paused.of(runId) : undefined;
    if (pause?.run.status === 'awaiting_approval') chunks.pause(pause, { end: true });
    if (chunks.done && !stream.closed) stream.end();
  }

  private writeAll(stream: UiMessageStream, chunks: ReturnType<typeof unansweredChunks>): void {
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  }
}
