import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Put, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { MyFeedbackPageDto, MyFeedbackQuery, SetFeedbackDto, SetFeedbackResultDto } from './dto/feedback.dto.js';
import { FeedbackService } from './feedback.service.js';

@ApiTags('messages')
@Authenticated()
@Controller('conversations/:id')
export class FeedbackController {
  constructor(private readonly feedback: FeedbackService) {}

  @Put('messages/:messageId/feedback')
  @ApiOperation({
    operationId: 'setMessageFeedback',
    summary: 'Rate an agent reply 👍 or 👎 (any participant, viewers included)',
    description:
      'One rating per person and reply: a PUT again replaces it (comment included). Only finished assistant replies: another message is a 400, ' +
      'a reply still being written a 409. Participants see the counts on the reply (`feedback`), which change with a new version ' +
      '(message:updated); the comment is seen only by you and admins. Counts against `FEEDBACK_RATE_LIMIT`.',
  })
  @ApiOkResponse({ type: SetFeedbackResultDto })
  @ApiErrors(400, 404, 409, 429)
  set(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('messageId', uuidParam('messageId')) messageId: string,
    @Body() body: SetFeedbackDto,
  ): Promise<SetFeedbackResultDto> {
    return this.feedback.set(user, id, messageId, body);
  }

  @Delete('messages/:messageId/feedback')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'deleteMessageFeedback',
    summary: 'Take back your rating of a reply',
    description: 'A 204 whether or not you had rated it; when you had, the counts drop with a new version (message:updated).',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 404, 429)
  remove(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Param('messageId', uuidParam('messageId')) messageId: string,
  ): Promise<void> {
    return this.feedback.remove(user, id, messageId);
  }

  @Get('feedback')
  @ApiOperation({
    operationId: 'listMyFeedback',
    summary: 'Your ratings in a conversation',
    description: "Which replies you rated and how (with your comments), ascending by the reply's seq; page with afterSeq.",
  })
  @ApiOkResponse({ type: MyFeedbackPageDto })
  @ApiErrors(400, 404)
  mine(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Query() query: MyFeedbackQuery): Promise<MyFeedbackPageDto> {
    return this.feedback.mine(user, id, query);
  }
}
