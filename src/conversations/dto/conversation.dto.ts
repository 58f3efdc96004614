import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { Omittable } from '../../common/decorators/omittable.decorator.js';
import { trimmed } from '../../common/dto/transforms.js';
import { MAX_TOOL_SELECTION_ENTRIES, MAX_TOOL_SELECTION_ENTRY_LENGTH, TOOL_SELECTION_ENTRY } from '../../common/tools/tool-selection.js';
import { BooleanQuery, MAX_SEQ, PageCursor, PageLimit } from '../../common/pagination/query-params.js';
import { AGENT_PROVIDERS, type AgentProviderName } from '../../config/agent.config.js';
import { AGENT_MODES, type AgentMode } from '../conversation.entity.js';
import type { ConversationView } from '../conversation.view.js';
import { PARTICIPANT_ROLES, type ParticipantRole } from '../participant.entity.js';

const TITLE_MAX = 200;
const SYSTEM_PROMPT_MAX = 8000;
const MAX_INITIAL_PARTICIPANTS = 100;
const TOOLS_DESCRIPTION =
  'The tools the agent may use here: null for every tool the server offers (GET /api/v1/agent/tools lists them), ' +
  'or a list of exact tool names (`calculator`, `docs__search`) and whole sources as `<prefix>__*` (`github__*`, `workflow__*`); ' +
  '[] for none. Names the server does not offer right now are accepted (their server may be offline) and simply match nothing until it is back.';

// Examples are what Swagger UI prefills for "Try it out": each one must be accepted as is.
export class AgentSettingsDto {
  @ApiPropertyOptional({ enum: AGENT_MODES, example: 'auto', description: 'auto: reply to every message; mention: only to @agent; off: never' })
  @Omittable()
  @IsIn(AGENT_MODES)
  mode?: AgentMode;

  @ApiPropertyOptional({
    enum: AGENT_PROVIDERS,
    nullable: true,
    example: null,
    description: 'Provider for this conversation; null for the server default (AGENT_PROVIDER)',
  })
  @IsOptional()
  @IsIn(AGENT_PROVIDERS)
  provider?: AgentProviderName | null;

  @ApiPropertyOptional({ type: String, maxLength: 200, nullable: true, example: null, description: 'Model name, e.g. gpt-4o-mini; null for the server default (AGENT_MODEL)' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  model?: string | null;

  @ApiPropertyOptional({ type: String, maxLength: SYSTEM_PROMPT_MAX, nullable: true, example: 'You are a concise assistant for the release team.' })
  @IsOptional()
  @IsString()
  @MaxLength(SYSTEM_PROMPT_MAX)
  systemPrompt?: string | null;

  @ApiPropertyOptional({
    type: [String],
    nullable: true,
    maxItems: MAX_TOOL_SELECTION_ENTRIES,
    uniqueItems: true,
    example: null,
    description: TOOLS_DESCRIPTION,
    items: { type: 'string', minLength: 1, maxLength: MAX_TOOL_SELECTION_ENTRY_LENGTH, pattern: TOOL_SELECTION_ENTRY.source },
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_TOOL_SELECTION_ENTRIES)
  @ArrayUnique({ message: 'tools must not list a tool twice' })
  @IsString({ each: true })
  @Length(1, MAX_TOOL_SELECTION_ENTRY_LENGTH, { each: true })
  @Matches(TOOL_SELECTION_ENTRY, { each: true, message: 'each entry of tools must be a tool name (letters, digits, _ and -) or a source as <prefix>__*' })
  tools?: string[] | null;
}

export class CreateConversationDto {
  @ApiPropertyOptional({ maxLength: TITLE_MAX, example: 'Release planning' })
  @Omittable()
  @Transform(trimmed)
  @IsString()
  @MaxLength(TITLE_MAX)
  title?: string;

  @ApiPropertyOptional({ type: [String], format: 'uuid', example: [], description: 'Users to add as members' })
  @Omittable()
  @IsArray()
  @ArrayMaxSize(MAX_INITIAL_PARTICIPANTS)
  @IsUUID('all', { each: true })
  participantIds?: string[];

  @ApiPropertyOptional({ type: AgentSettingsDto, description: 'Omitted fields take their defaults: mode auto, the server provider and model' })
  @Omittable()
  @ValidateNested()
  @Type(() => AgentSettingsDto)
  agent?: AgentSettingsDto;
}

export class UpdateConversationDto {
  @ApiPropertyOptional({ maxLength: TITLE_MAX, example: 'Release planning (Q3)' })
  @Omittable()
  @Transform(trimmed)
  @IsString()
  @MaxLength(TITLE_MAX)
  title?: string;

  @ApiPropertyOptional({ example: false, description: 'Archive for yourself (each participant has their own)' })
  @Omittable()
  @IsBoolean()
  archived?: boolean;

  @ApiPropertyOptional({ example: false, description: 'Pin for yourself (each participant has their own)' })
  @Omittable()
  @IsBoolean()
  pinned?: boolean;

  @ApiPropertyOptional({ type: AgentSettingsDto, description: 'Only the fields sent change' })
  @Omittable()
  @ValidateNested()
  @Type(() => AgentSettingsDto)
  agent?: AgentSettingsDto;
}

const ASSIGNABLE_ROLES = PARTICIPANT_ROLES.filter((role) => role !== 'owner');

export class AddParticipantDto {
  @ApiProperty({ format: 'uuid', example: '3fa85f64-5717-4562-b3fc-2c963f66afa6', description: 'A registered user' })
  @IsUUID('all')
  userId!: string;

  @ApiProperty({ enum: ASSIGNABLE_ROLES, example: 'member', description: 'member: reads and writes; viewer: reads' })
  @IsIn(ASSIGNABLE_ROLES)
  role!: Exclude<ParticipantRole, 'owner'>;
}

export class MarkReadDto {
  @ApiProperty({ type: 'integer', minimum: 0, maximum: 2_147_483_647, example: 1, description: 'Highest seq the caller has read' })
  @IsInt()
  @Min(0)
  @Max(MAX_SEQ)
  seq!: number;
}

export class ListConversationsQuery {
  @PageLimit(50)
  limit?: number;

  @PageCursor()
  cursor?: string;

  @BooleanQuery('true: only archived; false (default): only active')
  archived?: boolean;

  @ApiPropertyOptional({ maxLength: 200, description: 'Filter by title (case-insensitive substring)' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;
}

export class ParticipantDto {
  @ApiProperty({ format: 'uuid' })
  userId!: string;

  @ApiProperty({ enum: PARTICIPANT_ROLES })
  role!: ParticipantRole;

  @ApiProperty({ type: 'integer', description: 'Highest seq this participant has read' })
  lastReadSeq!: number;
}

export class AgentSettingsViewDto {
  @ApiProperty({ enum: AGENT_MODES })
  mode!: AgentMode;

  @ApiProperty({ enum: AGENT_PROVIDERS, nullable: true, description: 'null: the server default (AGENT_PROVIDER)' })
  provider!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'null: the server default (AGENT_MODEL)' })
  model!: string | null;

  @ApiProperty({ type: String, nullable: true })
  systemPrompt!: string | null;

  @ApiProperty({ type: [String], nullable: true, description: 'null: every tool the server offers; otherwise only the tools these names and `<prefix>__*` entries match' })
  tools!: string[] | null;
}

export class ConversationDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  title!: string;

  @ApiProperty({ format: 'uuid' })
  ownerId!: string;

  @ApiProperty({ type: [ParticipantDto] })
  participants!: ParticipantDto[];

  @ApiProperty({ type: AgentSettingsViewDto })
  agent!: AgentSettingsViewDto;

  @ApiProperty({ type: 'integer', description: 'seq of the newest message (0: none yet)' })
  lastSeq!: number;

  @ApiProperty({
    type: 'integer',
    description: 'Newest version of the conversation: every change to it or its messages takes the next one (see GET …/changes)',
  })
  version!: number;

  @ApiProperty({ type: 'integer', description: "Messages after the caller's read marker" })
  unreadCount!: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastMessageAt!: string | null;

  @ApiProperty()
  archived!: boolean;

  @ApiProperty()
  pinned!: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;

  /** The conversation as `userId` sees it (their unread count, pin and archive). */
  static from(view: ConversationView, userId: string): ConversationDto {
    const own = view.participants.find((participant) => participant.userId === userId);
    return {
      id: view.id,
      title: view.title,
      ownerId: view.ownerId,
      participants: view.participants.map(({ userId: id, role, lastReadSeq }) => ({ userId: id, role, lastReadSeq })),
      agent: view.agent,
      lastSeq: view.lastSeq,
      version: view.version,
      unreadCount: Math.max(0, view.lastSeq - (own?.lastReadSeq ?? 0)),
      lastMessageAt: view.lastMessageAt,
      archived: own?.archived ?? false,
      pinned: own?.pinned ?? false,
      createdAt: view.createdAt,
      updatedAt: view.updatedAt,
    };
  }
}

export class ConversationPageDto {
  @ApiProperty({ type: [ConversationDto] })
  items!: ConversationDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' })
  nextCursor!: string | null;
}
