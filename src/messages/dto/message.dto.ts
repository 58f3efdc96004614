import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayUnique, IsArray, IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';
import { PageLimit, SeqQuery, VersionQuery } from '../../common/pagination/query-params.js';
import { ConversationDto } from '../../conversations/dto/conversation.dto.js';
import { MAX_ATTACHMENTS } from '../../config/limits.config.js';
import { currentSources, MAX_SOURCES, SOURCE_TYPES, type SourceType } from '../message-source.js';
import { MESSAGE_ROLES, MESSAGE_STATUSES, type MessageAttachment, type MessageEntity, type MessageMetadata, type MessageRole, type MessageStatus } from '../message.entity.js';

// The configured MESSAGE_MAX_LENGTH (default 16000) is checked by the service; BODY_LIMIT bounds it first.
export class SendMessageDto {
  @ApiProperty({ minLength: 1, maxLength: 16000, example: 'What did we decide about the release date?' })
  @IsString()
  @Matches(/\S/, { message: 'content must not be blank' })
  content!: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 100,
    example: 'web-7f3a9c21',
    description: 'Idempotency key: sending again with the same key returns the stored message instead of a duplicate',
  })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  @Matches(/^[\x21-\x7e]+$/, { message: 'clientMessageId must be printable ASCII without spaces' })
  clientMessageId?: string;

  // The configured ATTACHMENTS_MAX (default 5) is checked by the service; MAX_ATTACHMENTS bounds it first.
  @ApiPropertyOptional({
    type: [String],
    format: 'uuid',
    maxItems: 5,
    uniqueItems: true,
    // Empty: a prefilled request must be accepted as is, and an example id names no document of yours.
    example: [],
    description:
      'Documents of this conversation to send with the message (upload them first with `POST /documents?conversationId=`), ' +
      'at most `ATTACHMENTS_MAX` (default 5), each once. Images go to vision-capable models as images; other documents as their ' +
      'text, within the context budget. An id that is not a document of this conversation, or a document that failed to process, is a 400. ' +
      'Attachments are part of the message: an edit does not change them.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_ATTACHMENTS)
  @ArrayUnique({ message: 'attachments must not name a document twice' })
  @IsUUID('all', { each: true, message: 'each of attachments must be a UUID' })
  attachments?: string[];
}

export class EditMessageDto {
  @ApiProperty({ minLength: 1, maxLength: 16000, example: 'What did we decide about the release date? (edited)' })
  @IsString()
  @Matches(/\S/, { message: 'content must not be blank' })
  content!: string;
}

export class HistoryQuery {
  @PageLimit(50)
  limit?: number;

  @SeqQuery('Only messages with a smaller seq (page backwards)')
  beforeSeq?: number;

  @SeqQuery('Only messages with a greater seq (page forwards, catch up)')
  afterSeq?: number;
}

/** The most a page of the changes feed holds (as a recovery page: RECOVERY_PAGE_MESSAGES at most). */
export const MAX_CHANGES_PAGE = 500;

export class ChangesQuery {
  @VersionQuery('The highest version you have applied: the changes after it come back (0: everything)')
  afterVersion?: number;

  @PageLimit(100, MAX_CHANGES_PAGE)
  limit?: number;
}

export class SearchQuery {
  @ApiProperty({ description: 'Web-search syntax: words, "exact phrases", -excluded, or', example: 'release -draft' })
  @IsString()
  @Length(1, 500)
  @Matches(/\S/, { message: 'q must not be blank' })
  q!: string;

  @PageLimit(20)
  limit?: number;
}

export class UsageDto {
  @ApiProperty({ type: 'integer', example: 120 })
  inputTokens!: number;

  @ApiProperty({ type: 'integer', example: 45 })
  outputTokens!: number;
}

/** Any JSON value: a tool's input and output are whatever that tool defines. */
const ANY_JSON: ApiPropertyOptions = {
  anyOf: [{ type: 'object' }, { type: 'array', items: {} }, { type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }],
};

export class ToolCallDto {
  @ApiProperty({ description: "The provider's id of the call" })
  callId!: string;

  @ApiProperty({ example: 'search_history' })
  name!: string;

  @ApiPropertyOptional({ ...ANY_JSON, description: 'The input, as the model sent it' })
  args?: unknown;

  @ApiPropertyOptional({ ...ANY_JSON, description: "The tool's output, when it succeeded" })
  result?: unknown;

  @ApiPropertyOptional({ description: 'Why it failed, when it did' })
  error?: string;
}

/** A passage of a document or a message the reply drew on (search_documents, search_history). */
export class MessageSourceDto {
  @ApiProperty({ enum: SOURCE_TYPES })
  type!: SourceType;

  @ApiProperty({ format: 'uuid', description: 'The document (GET /documents/{id}) or the message' })
  id!: string;

  @ApiProperty({ description: "The document's filename, or the title of the message's conversation", example: 'harbour.md' })
  title!: string;

  @ApiProperty({ description: 'The passage or message, matches in **bold**', example: 'The lock **gates** close two hours before high water.' })
  snippet!: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, description: "Documents: the passage's position in the document, from 0" })
  chunk?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'Documents: the page the passage starts on, when the format has pages' })
  page?: number;

  @ApiPropertyOptional({ description: 'Documents: the heading the passage sits under' })
  heading?: string;

  @ApiPropertyOptional({ description: "Documents: the document's media type", example: 'text/markdown' })
  mediaType?: string;

  @ApiPropertyOptional({ format: 'uuid', description: "Messages: the message's conversation" })
  conversationId?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: "Messages: the message's position in its conversation" })
  seq?: number;

  @ApiProperty({ description: 'Relevance within the search that found it; higher is better' })
  score!: number;
}

export class MessageErrorDto {
  @ApiProperty({ example: 'PROVIDER_UNAVAILABLE', description: 'Why the reply failed (a run error code)' })
  code!: string;

  @ApiProperty()
  message!: string;
}

/** Empty for people's messages and for deleted ones; a reply's model, usage, tool calls, sources or error. */
export class MessageMetadataDto {
  @ApiPropertyOptional({ example: 'gpt-4o-mini' })
  model?: string;

  @ApiPropertyOptional({ type: UsageDto })
  usage?: UsageDto;

  @ApiPropertyOptional({ type: [ToolCallDto] })
  toolCalls?: ToolCallDto[];

  @ApiPropertyOptional({ type: [MessageSourceDto], maxItems: MAX_SOURCES, description: 'What the reply cites, in order of first use, each once' })
  sources?: MessageSourceDto[];

  @ApiPropertyOptional({ type: MessageErrorDto })
  error?: MessageErrorDto;
}

function withCurrentSources(metadata: MessageMetadata): MessageMetadata {
  return metadata.sources ? { ...metadata, sources: currentSources(metadata.sources) } : metadata;
}

/** A document sent with a message, as it was then (the document may have been deleted since). */
export class MessageAttachmentDto {
  @ApiProperty({ format: 'uuid', description: 'The document (`GET /documents/:id`); a 404 once it has been deleted' })
  id!: string;

  @ApiProperty({ example: 'floor-plan.png' })
  filename!: string;

  @ApiProperty({ example: 'image/png' })
  mediaType!: string;

  @ApiProperty({ type: 'integer', example: 48213 })
  bytes!: number;
}

/** What participants see of the ratings of a reply: how many of each (never who, never the comments). */
export class FeedbackCountsDto {
  @ApiProperty({ type: 'integer', minimum: 0, example: 3 })
  up!: number;

  @ApiProperty({ type: 'integer', minimum: 0, example: 1 })
  down!: number;
}

export class MessageDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  conversationId!: string;

  @ApiProperty({ type: 'integer', description: 'Position in the conversation: 1, 2, 3 … gap-free' })
  seq!: number;

  @ApiProperty({ type: 'integer', description: "The conversation's version of this message's last change: creation, edit, deletion or a reply's final state" })
  version!: number;

  @ApiProperty({ enum: MESSAGE_ROLES })
  role!: MessageRole;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  authorId!: string | null;

  @ApiProperty({ description: 'Empty once the message is deleted' })
  content!: string;

  @ApiProperty({ enum: MESSAGE_STATUSES })
  status!: MessageStatus;

  @ApiProperty({ type: String, nullable: true })
  clientMessageId!: string | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  runId!: string | null;

  @ApiProperty({ type: MessageMetadataDto })
  metadata!: MessageMetadata;

  @ApiProperty({ type: [String], format: 'uuid', description: 'The documents sent with the message (`documentId[]`), in the order given; empty once the message is deleted' })
  attachments!: string[];

  @ApiProperty({
    type: [MessageAttachmentDto],
    description: 'The same documents with their names, as they were when the message was sent (a deleted document stays named here)',
  })
  attachmentDetails!: MessageAttachment[];

  @ApiPropertyOptional({
    type: FeedbackCountsDto,
    description: 'Assistant replies only: how many people rated it 👍 and 👎 (`PUT …/feedback`); a change comes as message:updated with a new version',
  })
  feedback?: FeedbackCountsDto;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  editedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Set when the message was deleted' })
  deletedAt!: string | null;

  static from(message: MessageEntity): MessageDto {
    const deleted = message.deletedAt !== null;
    return {
      id: message.id,
      conversationId: message.conversationId,
      seq: message.seq,
      version: message.version,
      role: message.role,
      authorId: message.authorId,
      content: deleted ? '' : message.content,
      status: message.status,
      clientMessageId: message.clientMessageId,
      runId: message.runId,
      metadata: deleted ? {} : withCurrentSources(message.metadata),
      attachments: deleted ? [] : message.attachments.map((attachment) => attachment.id),
      attachmentDetails: deleted ? [] : message.attachments,
      ...(message.role === 'assistant' && { feedback: { up: message.feedbackUp ?? 0, down: message.feedbackDown ?? 0 } }),
      createdAt: message.createdAt.toISOString(),
      editedAt: message.editedAt?.toISOString() ?? null,
      deletedAt: message.deletedAt?.toISOString() ?? null,
    };
  }
}

export class HistoryPageDto {
  @ApiProperty({ type: [MessageDto], description: 'Ascending by seq' })
  items!: MessageDto[];

  @ApiProperty({ description: 'More messages exist beyond this page in the direction paged' })
  hasMore!: boolean;
}

export class ChangesPageDto {
  @ApiProperty({
    type: [MessageDto],
    description: 'The current state of every message changed after afterVersion (tombstones included), ascending by version',
  })
  items!: MessageDto[];

  @ApiProperty({ description: "More changes are due: ask again with afterVersion = the last item's version" })
  hasMore!: boolean;

  @ApiProperty({ type: 'integer', description: "The conversation's version when read; with hasMore false, you are up to date with it" })
  version!: number;

  @ApiProperty({ type: ConversationDto, description: 'The conversation as of `version` (title, agent settings and participants change too)' })
  conversation!: ConversationDto;
}

export class SearchHitDto {
  @ApiProperty({ type: MessageDto })
  message!: MessageDto;

  @ApiProperty()
  conversationTitle!: string;

  @ApiProperty({ description: 'Relevance; higher is better' })
  rank!: number;

  @ApiProperty({ description: 'HTML-escaped excerpt with matches wrapped in <mark>…</mark>' })
  snippet!: string;
}

export class SearchResultDto {
  @ApiProperty({ type: [SearchHitDto] })
  items!: SearchHitDto[];
}
