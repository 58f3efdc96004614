import { Controller, Get, Param, Query, StreamableFile } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { AccountExportDto, ConversationExportDto, ExportQuery } from './dto/export.dto.js';
import { ExportService } from './export.service.js';

const ATTACHMENT = {
  'Content-Disposition': { description: 'attachment; filename="…"', schema: { type: 'string' }, required: true },
} as const;

@ApiTags('export')
@Authenticated()
@Controller()
export class ExportController {
  constructor(private readonly exports: ExportService) {}

  @Get('conversations/:id/export')
  @ApiOperation({
    operationId: 'exportConversation',
    summary: 'Download a conversation with all its messages (JSON or Markdown)',
    description: 'Streamed page by page: a conversation of any length. `format=markdown` gives a readable transcript.',
  })
  @ApiExtraModels(ConversationExportDto)
  @ApiOkResponse({
    description: 'The export, as an attachment (conversation-<id>.json or .md)',
    headers: ATTACHMENT,
    content: {
      'application/json': { schema: { $ref: getSchemaPath(ConversationExportDto) } },
      'text/markdown': { schema: { type: 'string', description: 'The transcript: a title, then each message with its author and time' } },
    },
  })
  @ApiErrors(400, 404)
  async conversation(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Query() query: ExportQuery,
  ): Promise<StreamableFile> {
    const format = query.format ?? 'json';
    const stream = await this.exports.conversation(user, id, format);
    return new StreamableFile(stream, {
      type: format === 'json' ? 'application/json; charset=utf-8' : 'text/markdown; charset=utf-8',
      disposition: `attachment; filename="conversation-${id}.${format === 'json' ? 'json' : 'md'}"`,
    });
  }

  @Get('auth/me/export')
  @ApiOperation({
    operationId: 'exportAccount',
    summary: 'Download all your data: profile, conversations and the messages you wrote (JSON)',
    description: 'Streamed, so it works for any amount of data.',
  })
  @ApiOkResponse({ type: AccountExportDto, description: 'The export, as an attachment (account-<id>.json)', headers: ATTACHMENT })
  async account(@CurrentUser() user: AuthUser): Promise<StreamableFile> {
    return new StreamableFile(await this.exports.account(user), {
      type: 'application/json; charset=utf-8',
      disposition: `attachment; filename="account-${user.id}.json"`,
    });
  }
}
