import { HttpStatus, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError, ErrorCode, fieldError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import type { ConversationView } from '../conversations/conversation.view.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { ConversationDto } from '../conversations/dto/conversation.dto.js';
import { type ConversationAccess, ConversationsService, conversationNotFound } from '../conversations/conversations.service.js';
import { RateLimiter } from '../realtime/rate-limiter.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import { type ChangesPageDto, type ChangesQuery, type HistoryQuery, MessageDto, type SearchResultDto, type SendMessageDto } from './dto/message.dto.js';
import { type HistoryRead, HistoryPages } from './history-pages.js';
import type { MessageAttachment, MessageEntity } from './message.entity.js';
import { type ContextTail, MessagesRepository, type RunRequest } from './messages.repository.js';
import type { RunEntity } from '../agent/run.entity.js';

const MARK_START = '\u0002';
const MARK_STOP = '\u0003';
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes the excerpt (messages may contain any HTML) and turns the match delimiters into <mark>. */
function renderSnippet(raw: string): string {
  return raw
    .replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!)
    .replaceAll(MARK_START, '<mark>')
    .replaceAll(MARK_STOP, '</mark>');
}

function sendKey(user: AuthUser): string {
  return `send:${user.id}`;
}

function messageNotFound(): AppError {
  return new AppError(HttpStatus.NOT_FOUND, 'MESSAGE_NOT_FOUND', 'Message not found');
}

export interface SendOutcome {
  message: MessageDto;
  /** False when the clientMessageId was seen before and the stored message is returned. */
  created: boolean;
  /** The run stored with a new message, when one was asked for: running if claimed at once, else queued. */
  run?: RunEntity;
  /** The reply a run claimed at once streams into (announced when the run starts). */
  reply?: MessageEntity;
  /** The first page of a run claimed at once's context, read with the message (see MessagesRepository.append). */
  tail?: ContextTail;
}

export interface RecoveryPage {
  items: MessageDto[];
  hasMore: boolean;
  /** The page's size as JSON, in bytes. */
  bytes: number;
}

/** A page of the changes feed, with the conversation as of the version it was read at. */
export interface ChangesPage extends RecoveryPage {
  conversation: ConversationView;
  /** The conversation's version when read: with `hasMore` false, the reader is up to date with it. */
  version: number;
}

/** Messages: sending (ordered, idempotent, rate-limited), history, edits, deletion and search. */
@Injectable()
export class MessagesService {
  constructor(
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsService,
    private readonly conversationsRepository: ConversationsRepository,
    private readonly bus: RealtimeBus,
    private readonly rateLimiter: RateLimiter,
    private readonly config: AppConfig,
    private readonly pages: HistoryPages,
  ) {}

  /** Checks the content against MESSAGE_MAX_LENGTH (the DTO only caps it far above). */
  private checkLength(content: string): void {
    const max = this.config.limits.messageMaxLength;
    if (content.length > max) {
      throw fieldError('content', `content must be shorter than or equal to ${max} characters`);
    }
  }

  /** Counts one message (a send or a regenerate) against MESSAGE_RATE_LIMIT; 429 past it. */
  async takeSendAllowance(user: AuthUser): Promise<void> {
    const { messageRateLimit, messageRateWindowMs } = this.config.limits;
    await this.rateLimiter.take(sendKey(user), messageRateLimit, messageRateWindowMs, 'Too many messages, slow down');
  }

  /** The message this author already stored under clientMessageId, if any: a retry gets it back. */
  async findReplay(user: AuthUser, access: ConversationAccess, clientMessageId: string): Promise<MessageDto | undefined> {
    const stored = await this.messages.findByClientMessageId(access.view.id, user.id, clientMessageId);
    return stored && MessageDto.from(stored);
  }

  /**
   * Stores a message from a sender the caller has authorized (`access`), within the rate limit,
   * with the attachments the caller has checked — and with `run`, the run that answers it, in the
   * same statement. A concurrent retry with the same clientMessageId gets the stored message
   * (`created: false`, no run).
   */
  async send(user: AuthUser, access: ConversationAccess, dto: SendMessageDto, attachments: MessageAttachment[] = [], run?: RunRequest): Promise<SendOutcome> {
    const conversationId = access.view.id;
    this.checkLength(dto.content);
    await this.takeSendAllowance(user);
    let stored: Awaited<ReturnType<MessagesRepository['append']>>;
    try {
      stored = await this.messages.append(
        { conversationId, role: 'user', authorId: user.id, content: dto.content, clientMessageId: dto.clientMessageId ?? null, attachments },
        run,
      );
    } finally {
      // Only the send that stores the message is charged: a concurrent retry of it (from any transport) gives its share back.
      if (!stored?.created) await this.rateLimiter.refund(sendKey(user));
    }
    if (!stored) throw conversationNotFound();
    const message = MessageDto.from(stored.message);
    if (stored.created) this.bus.publish({ type: 'message.created', conversationId, message });
    return { message, created: stored.created, ...(stored.run && { run: stored.run }), ...(stored.reply && { reply: stored.reply }), ...(stored.tail && { tail: stored.tail }) };
  }

  /** A page of history, or notModified when If-None-Match (`ifNoneMatch`) names it as it still is. */
  async history(user: AuthUser, conversationId: string, query: HistoryQuery, ifNoneMatch?: string): Promise<HistoryRead> {
    await this.conversations.authorize(conversationId, user, 'read');
    const window = {
      limit: query.limit ?? 50,
      ...(query.afterSeq !== undefined && { afterSeq: query.afterSeq }),
      ...(query.beforeSeq !== undefined && { beforeSeq: query.beforeSeq }),
    };
    return this.pages.read(conversationId, window, ifNoneMatch);
  }

  /**
   * The messages after afterSeq, for a reader the caller has authorized (`access`) who is catching
   * up: one page of at most RECOVERY_PAGE_MESSAGES and RECOVERY_PAGE_BYTES as sent (at least one
   * message), with its size so that the transport can charge for it.
   */
  async recoveryPage(access: ConversationAccess, afterSeq: number): Promise<RecoveryPage> {
    const { recoveryPageMessages: limit, recoveryPageBytes: maxBytes } = this.config.limits;
    const { items, hasMore, bytes } = await this.messages.recoveryPage(access.view.id, 'seq', afterSeq, { limit, maxBytes });
    return { items: items.map(MessageDto.from), hasMore, bytes };
  }

  /**
   * The changes feed, for a reader the caller has authorized (`access`): the current state of every
   * message changed after afterVersion (tombstones included), ascending by version, one page of at
   * most `limit` (RECOVERY_PAGE_MESSAGES by default) and RECOVERY_PAGE_BYTES as sent, read at one
   * version together with the conversation, so that nothing is half applied. Without afterVersion
   * only the conversation and its version. An afterVersion the conversation has not reached is a
   * 400: such a reader would wait for changes it already claims to have.
   */
  async changes(access: ConversationAccess, afterVersion: number | undefined, limit = this.config.limits.recoveryPageMessages): Promise<ChangesPage> {
    const { recoveryPageBytes: maxBytes } = this.config.limits;
    if (afterVersion === undefined) {
      // The conversation alone is one consistent row: no transaction around it (one round trip, not
      // three, on every join that does not catch up).
      const conversation = await this.conversationsRepository.findView(access.view.id);
      if (!conversation) throw conversationNotFound();
      return { conversation, version: conversation.version, items: [], hasMore: false, bytes: 0 };
    }
    const page = await this.conversationsRepository.atVersion(access.view.id, async (conversation, manager) => {
      const base = { conversation, version: conversation.version };
      if (afterVersion > conversation.version) {
        throw fieldError('afterVersion', `afterVersion ${afterVersion} is past the conversation's version ${conversation.version}`);
      }
      const { items, hasMore, bytes } = await this.messages.recoveryPage(conversation.id, 'version', afterVersion, { limit, maxBytes }, manager);
      return { ...base, items: items.map(MessageDto.from), hasMore, bytes };
    });
    if (!page) throw conversationNotFound();
    return page;
  }

  /** GET …/changes: the changes feed, a page at a time (see changes). */
  async changesFeed(user: AuthUser, conversationId: string, query: ChangesQuery): Promise<ChangesPageDto> {
    const access = await this.conversations.authorize(conversationId, user, 'read');
    const { items, hasMore, version, conversation } = await this.changes(access, query.afterVersion ?? 0, query.limit ?? 100);
    return { items, hasMore, version, conversation: ConversationDto.from(conversation, user.id) };
  }

  /** Only the author edits, and only while they may still send here. */
  async edit(user: AuthUser, conversationId: string, messageId: string, content: string): Promise<MessageDto> {
    this.checkLength(content);
    await this.conversations.authorize(conversationId, user, 'send');
    const existing = await this.messages.findById(conversationId, messageId);
    if (!existing || existing.deletedAt) throw messageNotFound();
    if (existing.authorId !== user.id) {
      throw new AppError(HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN, 'Only the author can edit a message');
    }
    const edited = await this.conversationsRepository.versioned(conversationId, async (manager, version) =>
      this.forgettingSummary(conversationId, await this.messages.edit(conversationId, messageId, content, version, manager), manager),
    );
    if (!edited) throw messageNotFound();
    const message = MessageDto.from(edited.result);
    this.bus.publish({ type: 'message.updated', conversationId, message });
    return message;
  }

  /** The author or the conversation's owner deletes; the seq stays taken by a tombstone. */
  async remove(user: AuthUser, conversationId: string, messageId: string): Promise<void> {
    const { participant } = await this.conversations.authorize(conversationId, user, 'read');
    const existing = await this.messages.findById(conversationId, messageId);
    if (!existing || existing.deletedAt) throw messageNotFound();
    if (existing.authorId !== user.id && participant.role !== 'owner') {
      throw new AppError(HttpStatus.FORBIDDEN, ErrorCode.FORBIDDEN, 'Only the author or the owner can delete a message');
    }
    const deleted = await this.conversationsRepository.versioned(conversationId, async (manager, version) =>
      this.forgettingSummary(conversationId, await this.messages.softDelete(conversationId, messageId, version, manager), manager),
    );
    if (!deleted) throw messageNotFound();
    this.bus.publish({ type: 'message.deleted', conversationId, messageId, seq: deleted.result.seq, version: deleted.version });
    // A reply deleted while it streams stops its run, wherever it executes: nobody asked for the rest.
    if (existing.runId && existing.status === 'streaming') this.bus.publish({ type: 'run.cancel', conversationId, runId: existing.runId });
  }

  /**
   * The agent's summary quotes the turns it covers: once one of them is edited or deleted, it is
   * dropped (and worked out again from what remains), in the same transaction as the change.
   */
  private async forgettingSummary(conversationId: string, changed: MessageEntity | undefined, manager: EntityManager): Promise<MessageEntity | undefined> {
    if (changed) await this.conversationsRepository.forgetSummaryFrom(conversationId, changed.seq, manager);
    return changed;
  }

  async search(user: AuthUser, q: string, limit = 20): Promise<SearchResultDto> {
    const rows = await this.messages.search(user.id, q, limit, { start: MARK_START, stop: MARK_STOP });
    return {
      items: rows.map((row) => ({
        message: MessageDto.from(row.message),
        conversationTitle: row.conversationTitle,
        rank: row.rank,
        snippet: renderSnippet(row.snippet),
      })),
    };
  }
}
