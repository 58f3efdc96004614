import { Body, Controller, Delete, Get, Headers, HttpCode, HttpStatus, Param, Patch, Query, Res } from '@nestjs/common';
import { RouteSchema } from '@nestjs/platform-fastify';
import { ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { HISTORY_PAGE_SERIALIZATION_SCHEMA } from './dto/history-page.schema.js';
import { ChangesPageDto, ChangesQuery, EditMessageDto, HistoryPageDto, HistoryQuery, MessageDto, SearchQuery, SearchResultDto } from './dto/message.dto.js';
import { MessagesService } from './messages.service.js';

const HISTORY_HEADERS = {
  ETag: { description: "Names this page as of the conversation's version; absent while the page holds a streaming reply", schema: { type: 'string' } },
  'Cache-Control': { description: '`private, no-cache`: keep it only for yourself, and revalidate it', schema: { type: 'string' } },
} as const;

@ApiTags('messages')
@Authenticated()
@Controller()
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Get('conversations/:id/messages')
  @ApiOperation({
    operationId: 'listMessages',
    summary: 'History, ascending by seq',
    description:
      'Without beforeSeq or afterSeq: the newest page. Page with beforeSeq (older) or afterSeq (newer); deleted messages come as tombstones. ' +
      "A page without a streaming reply has an ETag (it changes with the conversation's version): send it back as If-None-Match " +
      'and an unchanged page is a 304 without a body.',
  })
  @ApiHeader({ name: 'If-None-Match', required: false, description: 'The ETag of this page as you hold it' })
  @ApiOkResponse({ type: HistoryPageDto, headers: HISTORY_HEADERS })
  @ApiResponse({ status: HttpStatus.NOT_MODIFIED, description: 'The page is as the If-None-Match ETag names it', headers: HISTORY_HEADERS })
  @ApiErrors(400, 404)
  // Serialized from a compiled schema: the most requested page, and JSON.stringify's cost showed.
  @RouteSchema({ response: { 200: HISTORY_PAGE_SERIALIZATION_SCHEMA } })
  async history(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Query() query: HistoryQuery,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<HistoryPageDto | Response> {
    const read = await this.messages.history(user, id, query, ifNoneMatch);
    // Revalidated on every use; private: only the caller's own cache may keep it.
    const headers = { 'cache-control': 'private, no-cache', ...(read.etag && { etag: read.etag }) };
    if (read.notModified) return new Response(null, { status: HttpStatus.NOT_MODIFIED, headers });
    reply.headers(headers);
    return read.page;
  }

  @Get('conversations/:id/changes')
  @ApiOperation({
    operationId: 'listChanges',
    summary: 'What changed since a version: the current state of every message created, edited, deleted or finished after it',
    description:
      'Ascending by version, tombstones included, at most `limit` messages and 2 MB a page. While `hasMore`, ask again with ' +
      "`afterVersion` = the last item's version; then you hold the conversation's messages as of `version`. " +
      'An afterVersion the conversation has not reached is a 400.',
  })
  @ApiOkResponse({ type: ChangesPageDto })
  @ApiErrors(400, 404)
  listChanges(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Query() query: ChangesQuery): Promise<ChangesPageDto> {
    return this.messages.changesFeed(user, id, query);
  }

  @Patch('conversations/:id/messages/:messageId')
  @ApiOperation({
    operationId: 'editMessage',
    summary: 'Edit your own message',
    description: 'Only its author may; editedAt is set and every participant gets message:updated.',
  })
  @ApiOkResponse({ type: MessageDto })
  @ApiErrors(400, 403, 404)
  edit(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('messageId', uuidParam('messageId')) messageId: string,
    @Body() body: EditMessageDto,
  ): Promise<MessageDto> {
    return this.messages.edit(user, id, messageId, body.content);
  }

  @Delete('conversations/:id/messages/:messageId')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'deleteMessage',
    summary: 'Delete a message (its author, or the owner of the conversation)',
    description: 'A soft delete: the message stays as a tombstone (empty content and metadata, deletedAt set) so seq stays gap-free.',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 403, 404)
  remove(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('messageId', uuidParam('messageId')) messageId: string,
  ): Promise<void> {
    return this.messages.remove(user, id, messageId);
  }

  @Get('search/messages')
  @ApiOperation({
    operationId: 'searchMessages',
    summary: 'Full-text search over the conversations you take part in',
    description: 'Ranked best first, with an HTML-escaped excerpt that marks the matches.',
  })
  @ApiOkResponse({ type: SearchResultDto })
  @ApiErrors(400)
  search(@CurrentUser() user: AuthUser, @Query() query: SearchQuery): Promise<SearchResultDto> {
    return this.messages.search(user, query.q, query.limit);
  }
}
