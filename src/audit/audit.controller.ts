import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { AuditService } from './audit.service.js';
import { AuditEventPageDto, ListAuditEventsQuery } from './dto/audit.dto.js';

@ApiTags('admin')
@Controller('admin/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Authenticated({ roles: ['admin'] })
  @ApiOperation({
    operationId: 'listAuditEvents',
    summary: 'The audit trail, newest first (admins only)',
    description:
      'Sign-ins (failed ones too), sign-outs, password changes, account deletions, role and participant changes. ' +
      'Filter by `actorId` and `action`; page on with `cursor` = nextCursor.',
  })
  @ApiOkResponse({ type: AuditEventPageDto, description: 'A page of events, newest first' })
  @ApiErrors(400)
  list(@Query() query: ListAuditEventsQuery): Promise<AuditEventPageDto> {
    return this.audit.list(query);
  }
}
