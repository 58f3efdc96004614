import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { AnalyticsService } from './analytics.service.js';
import { AnalyticsQuery, AnalyticsReportDto } from './dto/analytics.dto.js';

@ApiTags('admin')
@Controller('admin/analytics')
export class AnalyticsController {
  constructor(private readonly analytics: AnalyticsService) {}

  @Get()
  @Authenticated({ roles: ['admin'] })
  @ApiOperation({
    operationId: 'getAnalytics',
    summary: 'Conversation analytics by UTC day or hour (admins only)',
    description:
      'Per bucket and for the whole range: messages by role, active people, conversations created and active, runs by how they ended, ' +
      'time to first token and run duration (p50/p95, exact below 1 s, rounded down to 3 significant digits above), tokens by model, ' +
      'and the ratio of 👍 among ratings. Messages and conversations count when created, runs when they end, ratings when last given. ' +
      'Closed days are computed once and kept: later deletions do not rewrite them.',
  })
  @ApiOkResponse({ type: AnalyticsReportDto })
  @ApiErrors(400)
  report(@Query() query: AnalyticsQuery): Promise<AnalyticsReportDto> {
    return this.analytics.report(query);
  }
}
