import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { CurrentRequest, type RequestMeta } from '../common/http/request-meta.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { ApprovalsService } from './approvals.service.js';
import { ApprovalDto, ApprovalPageDto, DecideApprovalDto, ListApprovalsQuery } from './dto/approval.dto.js';

const ApprovalId = () => ApiParam({ name: 'id', description: 'The approval' });

@ApiTags('approvals')
@Authenticated()
@Controller()
export class ApprovalsController {
  constructor(private readonly approvals: ApprovalsService) {}

  @Get('conversations/:id/approvals')
  @ApiParam({ name: 'id', description: 'The conversation' })
  @ApiOperation({
    operationId: 'listApprovals',
    summary: "A conversation's tool calls that wait for (or had) a decision, oldest first",
    description: 'Any participant may read them. `?status=pending` lists what waits for a decision. Page on with `cursor` = nextCursor.',
  })
  @ApiOkResponse({ type: ApprovalPageDto })
  @ApiErrors(400, 404)
  list(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string, @Query() query: ListApprovalsQuery): Promise<ApprovalPageDto> {
    return this.approvals.list(user, id, query);
  }

  @Get('approvals/:id')
  @ApprovalId()
  @ApiOperation({ operationId: 'getApproval', summary: 'An approval', description: 'One the caller cannot read (not a participant) is a 404.' })
  @ApiOkResponse({ type: ApprovalDto })
  @ApiErrors(400, 404)
  get(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<ApprovalDto> {
    return this.approvals.get(user, id);
  }

  @Post('approvals/:id')
  @HttpCode(HttpStatus.OK)
  @ApprovalId()
  @ApiOperation({
    operationId: 'decideApproval',
    summary: 'Approve or deny a tool call the agent waits on',
    description:
      'By the user who asked the agent or the conversation’s owner (others 403). The first decision wins, on any instance: a later one is a 409 ' +
      'APPROVAL_DECIDED whose details give the status and who decided. Once every waiting call of the run is decided the run resumes, ' +
      'on whichever instance is free: an approved call runs, a denied one is told to the model with the reason, and the reply goes on. ' +
      'Recorded in the audit trail.',
  })
  @ApiOkResponse({ type: ApprovalDto, description: 'The approval as decided' })
  @ApiErrors(400, 403, 404, 409)
  decide(
    @CurrentUser() user: AuthUser,
    @Param('id', uuidParam('id')) id: string,
    @Body() body: DecideApprovalDto,
    @CurrentRequest() request: RequestMeta,
  ): Promise<ApprovalDto> {
    return this.approvals.decide(user, id, body, request);
  }
}
