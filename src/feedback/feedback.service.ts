import { HttpStatus, Injectable } from '@nestjs/common';
import type { AuthUser } from '../common/auth/auth-user.js';
import { AppError, ErrorCode, fieldError } from '../common/errors.js';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor.js';
import { AppConfig } from '../config/app-config.js';
import { ConversationsRepository } from '../conversations/conversations.repository.js';
import { ConversationsService } from '../conversations/conversations.service.js';
import { MessageDto } from '../messages/dto/message.dto.js';
import type { MessageEntity } from '../messages/message.entity.js';
import { MessagesRepository } from '../messages/messages.repository.js';
import { RateLimiter } from '../realtime/rate-limiter.js';
import { RealtimeBus } from '../realtime/realtime-bus.js';
import type { FeedbackDto, FeedbackPageDto, ListFeedbackQuery, MyFeedbackPageDto, MyFeedbackQuery, SetFeedbackDto, SetFeedbackResultDto } from './dto/feedback.dto.js';
import { type FeedbackRecord, FeedbackRepository } from './feedback.repository.js';
import type { FeedbackRating } from './message-feedback.entity.js';

const RATE_WINDOW_MS = 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type FeedbackPosition = [updatedAt: string, messageId: string, userId: string];

function isFeedbackPosition(values: unknown[]): values is FeedbackPosition {
  return (
    values.length === 3 &&
    typeof values[0] === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(values[0]) &&
    values.slice(1).every((value) => typeof value === 'string' && UUID.test(value))
  );
}

function toDto(record: FeedbackRecord): FeedbackDto {
  return {
    messageId: record.messageId,
    conversationId: record.conversationId,
    rating: record.rating,
    comment: record.comment,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
}

/** How a change of one person's rating moves the reply's counts. */
function countsDelta(before: FeedbackRating | undefined, after: FeedbackRating | undefined): { up: number; down: number } {
  const one = (rating: FeedbackRating | undefined, kind: FeedbackRating) => (rating === kind ? 1 : 0);
  return { up: one(after, 'up') - one(before, 'up'), down: one(after, 'down') - one(before, 'down') };
}

function messageNotFound(): AppError {
  return new AppError(HttpStatus.NOT_FOUND, ErrorCode.MESSAGE_NOT_FOUND, 'Message not found');
}

/** Only a finished assistant reply that still exists can be rated. */
function checkRateable(message: MessageEntity | undefined): MessageEntity {
  if (!message || message.deletedAt) throw messageNotFound();
  if (message.role !== 'assistant') throw fieldError('messageId', 'only assistant replies can be rated');
  if (message.status === 'streaming') throw new AppError(HttpStatus.CONFLICT, ErrorCode.CONFLICT, 'The reply is still being written: rate it once it has finished');
  return message;
}

/**
 * 👍/👎 on agent replies: one rating per participant and reply, changeable and removable. Any
 * participant who can read the conversation may rate, viewers included: a rating says something
 * about the agent, it adds nothing to the conversation. Participants see only the counts, which
 * move with the conversation's version (message:updated); the comment is its author's and admins'.
 */
@Injectable()
export class FeedbackService {
  constructor(
    private readonly feedback: FeedbackRepository,
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsService,
    private readonly conversationsRepository: ConversationsRepository,
    private readonly bus: RealtimeBus,
    private readonly rateLimiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  private async takeAllowance(user: AuthUser): Promise<void> {
    await this.rateLimiter.take(`feedback:${user.id}`, this.config.limits.feedbackRateLimit, RATE_WINDOW_MS, 'Too many ratings, slow down');
  }

  async set(user: AuthUser, conversationId: string, messageId: string, dto: SetFeedbackDto): Promise<SetFeedbackResultDto> {
    if (dto.comment?.includes('\0')) throw fieldError('comment', 'comment must not contain NUL characters');
    const comment = dto.comment?.trim() || null;
    await this.conversations.authorize(conversationId, user, 'read');
    await this.takeAllowance(user);
    const message = checkRateable(await this.messages.findById(conversationId, messageId));
    const current = await this.feedback.find(messageId, user.id);
    // The same rating with another comment: nothing participants see changes, so no version is taken.
    if (current?.rating === dto.rating) {
      const saved = await this.feedback.saveComment(messageId, user.id, dto.rating, comment);
      if (saved) return { feedback: toDto(saved), message: MessageDto.from(message) };
    }
    const changed = await this.conversationsRepository.versioned(conversationId, async (manager, version) => {
      checkRateable(await this.messages.findById(conversationId, messageId, manager));
      const before = await this.feedback.find(messageId, user.id, manager);
      const saved = await this.feedback.save({ messageId, conversationId, userId: user.id, rating: dto.rating, comment }, manager);
      const counted = await this.messages.countFeedback(conversationId, messageId, countsDelta(before?.rating, dto.rating), version, manager);
      return counted && { saved, counted };
    });
    if (!changed) throw messageNotFound();
    const reply = MessageDto.from(changed.result.counted);
    this.bus.publish({ type: 'message.updated', conversationId, message: reply });
    return { feedback: toDto(changed.result.saved), message: reply };
  }

  /** Removes the caller's rating, if they gave one (204 either way). */
  async remove(user: AuthUser, conversationId: string, messageId: string): Promise<void> {
    await this.conversations.authorize(conversationId, user, 'read');
    await this.takeAllowance(user);
    const message = await this.messages.findById(conversationId, messageId);
    if (!message || message.deletedAt) throw messageNotFound();
    const changed = await this.conversationsRepository.versioned(conversationId, async (manager, version) => {
      const removed = await this.feedback.remove(messageId, user.id, manager);
      return removed && this.messages.countFeedback(conversationId, messageId, countsDelta(removed, undefined), version, manager);
    });
    if (changed) this.bus.publish({ type: 'message.updated', conversationId, message: MessageDto.from(changed.result) });
  }

  /** The caller's own ratings in a conversation (to show which replies they rated). */
  async mine(user: AuthUser, conversationId: string, query: MyFeedbackQuery): Promise<MyFeedbackPageDto> {
    await this.conversations.authorize(conversationId, user, 'read');
    const limit = query.limit ?? 100;
    const rows = await this.feedback.listMine(user.id, conversationId, query.afterSeq ?? 0, limit + 1);
    return { items: rows.slice(0, limit).map((row) => ({ ...toDto(row), seq: row.seq })), hasMore: rows.length > limit };
  }

  /** Every rating with its comment, for admins. */
  async list(query: ListFeedbackQuery): Promise<FeedbackPageDto> {
    const limit = query.limit ?? 50;
    const after = query.cursor === undefined ? undefined : decodeCursor<FeedbackPosition>(query.cursor, isFeedbackPosition);
    const rows = await this.feedback.list(
      { ...(query.rating && { rating: query.rating }), ...(query.conversationId && { conversationId: query.conversationId }) },
      limit + 1,
      after && { updatedAt: after[0], messageId: after[1], userId: after[2] },
    );
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items.map((row) => ({ ...toDto(row), userId: row.userId })),
      nextCursor: rows.length > limit && last ? encodeCursor([last.position, last.messageId, last.userId]) : null,
    };
  }
}
