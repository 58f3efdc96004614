import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { AdminStatsDto, UserStatsDto } from './dto/stats.dto.js';
import { StatsService } from './stats.service.js';

@ApiTags('stats')
@Controller()
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get('stats')
  @Authenticated()
  @ApiOperation({ operationId: 'getMyStats', summary: 'Your own counts', description: 'Conversations, messages sent, unread messages, agent runs and tokens.' })
  @ApiOkResponse({ type: UserStatsDto })
  mine(@CurrentUser() user: AuthUser): Promise<UserStatsDto> {
    return this.stats.forUser(user.id);
  }

  @Get('admin/stats')
  @Authenticated({ roles: ['admin'] })
  @ApiOperation({
    operationId: 'getServiceStats',
    summary: 'Service-wide totals (admins only)',
    description: 'Users, conversations, messages, runs by status, and the Socket.IO connections of the instance that answers.',
  })
  @ApiOkResponse({ type: AdminStatsDto })
  totals(): Promise<AdminStatsDto> {
    return this.stats.totals();
  }
}
