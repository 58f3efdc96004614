import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  @ApiOperation({ summary: 'Start a conversation (the caller owns it)' })
  @ApiCreatedResponse({ type: ConversationDto })
  @ApiErrors(400)
  create(@CurrentUser() user: AuthUser, @Body() body: CreateConversationDto): Promise<ConversationDto> {
    return this.conversations.create(user, body);
  }

  @Get()
  @ApiOperation({ summary: "The caller's conversations, most recent activity first" })
  @ApiOkResponse({ type: ConversationPageDto })
  @ApiErrors(400)
  list(@CurrentUser() user: AuthUser, @Query() query: ListConversationsQuery): Promise<ConversationPageDto> {
    return this.conversations.list(user, query);
  }

  @Get(':id')
  @ApiOkResponse({ type: ConversationDto })
  @ApiErrors(400, 404)
  get(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<ConversationDto> {
    return this.conversations.get(user, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change title or agent settings (owner), or pin / archive for yourself' })
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
  @ApiOperation({ summary: 'Delete the conversation (owner only)' })
  @ApiNoContentResponse()
  @ApiErrors(400, 403, 404)
  remove(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<void> {
    return this.conversations.remove(user, id);
  }

  @Post(':id/participants')
  @ApiOperation({ summary: 'Add a participant, or change their role (owner only)' })
  @ApiCreatedResponse({ type: ConversationDto })
  @ApiErrors(400, 403, 404, 409)
  addParticipant(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: AddParticipantDto,
  ): Promise<ConversationDto> {
    return this.conversations.addParticipant(user, id, body);
  }

  @Delete(':id/participants/:userId')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Remove a participant (owner), or leave (yourself)' })
  @ApiNoContentResponse()
  @ApiErrors(400, 403, 404, 409)
  removeParticipant(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('userId', uuidParam('userId')) userId: string,
  ): Promise<void> {
    return this.conversations.removeParticipant(user, id, userId);
  }

  @Post(':id/read')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Move your read marker forward' })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  markRead(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Body() body: MarkReadDto): Promise<void> {
    return this.conversations.markRead(user, id, body.seq);
  }
}
