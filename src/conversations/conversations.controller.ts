import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentRequest, type RequestMeta } from '../common/http/request-meta.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { ConversationsService } from './conversations.service.js';
import {
  AddParticipantDto,
  ConversationDto,
  ConversationPageDto,
  CreateConversationDto,
  ListConversationsQuery,
  MarkReadDto,
  UpdateConversationDto,
} from './dto/conversation.dto.js';

@ApiTags('conversations')
@Authenticated()
@Controller('conversations')
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  @Post()
  @ApiOperation({
    operationId: 'createConversation',
    summary: 'Start a conversation (the caller owns it)',
    description: 'participantIds join as members. Agent settings left out take their defaults: mode auto, the server provider and model.',
  })
  @ApiCreatedResponse({ type: ConversationDto })
  @ApiErrors(400)
  create(@CurrentUser() user: AuthUser, @Body() body: CreateConversationDto): Promise<ConversationDto> {
    return this.conversations.create(user, body);
  }

  @Get()
  @ApiOperation({
    operationId: 'listConversations',
    summary: "The caller's conversations, most recent activity first",
    description: 'Active ones by default (`archived=true`: archived ones); `q` filters by title. Page on with `cursor` = nextCursor.',
  })
  @ApiOkResponse({ type: ConversationPageDto })
  @ApiErrors(400)
  list(@CurrentUser() user: AuthUser, @Query() query: ListConversationsQuery): Promise<ConversationPageDto> {
    return this.conversations.list(user, query);
  }

  @Get(':id')
  @ApiOperation({
    operationId: 'getConversation',
    summary: 'A conversation, as the caller sees it',
    description: "Unread count, pin and archive are the caller's own. A conversation the caller cannot see is a 404.",
  })
  @ApiOkResponse({ type: ConversationDto })
  @ApiErrors(400, 404)
  get(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<ConversationDto> {
    return this.conversations.get(user, id);
  }

  @Patch(':id')
  @ApiOperation({
    operationId: 'updateConversation',
    summary: 'Change title or agent settings (owner), or pin / archive for yourself',
    description: 'Only the fields sent change. Title and agent settings are for the owner; pinned and archived are per participant.',
  })
  @ApiOkResponse({ type: ConversationDto })
  @ApiErrors(400, 403, 404)
  update(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: UpdateConversationDto,
  ): Promise<ConversationDto> {
    return this.conversations.update(user, id, body);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'deleteConversation',
    summary: 'Delete the conversation (owner only)',
    description: 'A soft delete: participants lose it at once, and its SSE streams end with conversation:closed. Its documents are deleted with it, bytes included.',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 403, 404)
  remove(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<void> {
    return this.conversations.remove(user, id);
  }

  @Post(':id/participants')
  @ApiOperation({
    operationId: 'addParticipant',
    summary: 'Add a participant, or change their role (owner only)',
    description: 'Members may write; viewers only read. The owner is a participant already (409).',
  })
  @ApiCreatedResponse({ type: ConversationDto, description: 'The conversation with its participants now' })
  @ApiErrors(400, 403, 404, 409)
  addParticipant(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: AddParticipantDto,
    @CurrentRequest() request: RequestMeta,
  ): Promise<ConversationDto> {
    return this.conversations.addParticipant(user, id, body, request);
  }

  @Delete(':id/participants/:userId')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'removeParticipant',
    summary: 'Remove a participant (owner), or leave (yourself)',
    description: 'The owner cannot leave (409): delete the conversation instead.',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 403, 404, 409)
  removeParticipant(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('userId', uuidParam('userId')) userId: string,
    @CurrentRequest() request: RequestMeta,
  ): Promise<void> {
    return this.conversations.removeParticipant(user, id, userId, request);
  }

  @Post(':id/read')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'markConversationRead',
    summary: 'Move your read marker forward',
    description: 'The marker never moves back: a seq at or below it changes nothing.',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  markRead(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Body() body: MarkReadDto): Promise<void> {
    return this.conversations.markRead(user, id, body.seq);
  }
}
