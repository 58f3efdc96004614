import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageCursor, PageLimit, SeqQuery } from '../../common/pagination/query-params.js';
import { MessageDto } from '../../messages/dto/message.dto.js';
import { FEEDBACK_RATINGS, type FeedbackRating } from '../message-feedback.entity.js';

export const FEEDBACK_COMMENT_MAX = 2000;

export class SetFeedbackDto {
  @ApiProperty({ enum: FEEDBACK_RATINGS, example: 'up' })
  @IsIn(FEEDBACK_RATINGS)
  rating!: FeedbackRating;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: FEEDBACK_COMMENT_MAX,
    example: 'Right answer, and it cited the runbook.',
    description: 'Why: seen only by you and admins, never by the other participants. Omitted, null or blank: no comment (a PUT replaces the whole rating)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(FEEDBACK_COMMENT_MAX)
  comment?: string | null;
}

/** Your rating of one reply. */
export class FeedbackDto {
  @ApiProperty({ format: 'uuid' })
  messageId!: string;

  @ApiProperty({ format: 'uuid' })
  conversationId!: string;

  @ApiProperty({ enum: FEEDBACK_RATINGS })
  rating!: FeedbackRating;

  @ApiProperty({ type: String, nullable: true, description: 'Seen only by you and admins' })
  comment!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', description: 'When the rating or comment last changed' })
  updatedAt!: string;
}

export class SetFeedbackResultDto {
  @ApiProperty({ type: FeedbackDto })
  feedback!: FeedbackDto;

  @ApiProperty({ type: MessageDto, description: 'The reply with its counts (and version) after the change' })
  message!: MessageDto;
}

export class MyFeedbackQuery {
  @SeqQuery('Only ratings of replies with a greater seq (page forwards)')
  afterSeq?: number;

  @PageLimit(100)
  limit?: number;
}

export class MyFeedbackItemDto extends FeedbackDto {
  @ApiProperty({ type: 'integer', description: "The reply's seq" })
  seq!: number;
}

export class MyFeedbackPageDto {
  @ApiProperty({ type: [MyFeedbackItemDto], description: 'Ascending by the seq of the reply' })
  items!: MyFeedbackItemDto[];

  @ApiProperty({ description: "More ratings follow: ask again with afterSeq = the last item's seq" })
  hasMore!: boolean;
}

export class ListFeedbackQuery {
  @PageLimit(50)
  limit?: number;

  @PageCursor()
  cursor?: string;

  @ApiPropertyOptional({ enum: FEEDBACK_RATINGS, description: 'Only ratings of this kind' })
  @IsOptional()
  @IsIn(FEEDBACK_RATINGS)
  rating?: FeedbackRating;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only ratings of replies in this conversation' })
  @IsOptional()
  @IsUUID()
  conversationId?: string;
}

/** A rating as admins see it: who gave it, and the comment. */
export class RatedReplyDto extends FeedbackDto {
  @ApiProperty({ format: 'uuid' })
  userId!: string;
}

export class FeedbackPageDto {
  @ApiProperty({ type: [RatedReplyDto], description: 'Most recently given or changed first' })
  items!: RatedReplyDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' })
  nextCursor!: string | null;
}
