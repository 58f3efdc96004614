import { Controller, Get, Param, Query, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { ExportQuery } from './dto/export.dto.js';
import { ExportService } from './export.service.js';

@ApiTags('export')
@Authenticated()
@Controller()
export class ExportController {
  constructor(private readonly exports: ExportService) {}

  @Get('conversations/:id/export')
  @ApiOperation({ summary: 'Download a conversation with all its messages (JSON or Markdown)' })
  @ApiProduces('application/json', 'text/markdown')
  @ApiOkResponse({ description: 'The export, as an attachment' })
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
  @ApiOperation({ summary: 'Download all your data: profile, conversations and the messages you wrote (JSON)' })
  @ApiProduces('application/json')
  @ApiOkResponse({ description: 'The export, as an attachment' })
  async account(@CurrentUser() user: AuthUser): Promise<StreamableFile> {
    return new StreamableFile(await this.exports.account(user), {
      type: 'application/json; charset=utf-8',
      disposition: `attachment; filename="account-${user.id}.json"`,
    });
  }
}
