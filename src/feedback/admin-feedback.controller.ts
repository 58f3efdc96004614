import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { FeedbackPageDto, ListFeedbackQuery } from './dto/feedback.dto.js';
import { FeedbackService } from './feedback.service.js';

@ApiTags('admin')
@Controller('admin/feedback')
export class AdminFeedbackController {
  constructor(private readonly feedback: FeedbackService) {}

  @Get()
  @Authenticated({ roles: ['admin'] })
  @ApiOperation({
    operationId: 'listFeedback',
    summary: 'Ratings of agent replies with their comments, most recent first (admins only)',
    description: 'Filter by `rating` and `conversationId`; page on with `cursor` = nextCursor.',
  })
  @ApiOkResponse({ type: FeedbackPageDto })
  @ApiErrors(400)
  list(@Query() query: ListFeedbackQuery): Promise<FeedbackPageDto> {
    return this.feedback.list(query);
  }
}
