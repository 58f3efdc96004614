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
  @ApiOperation({ summary: 'Your own counts' })
  @ApiOkResponse({ type: UserStatsDto })
  mine(@CurrentUser() user: AuthUser): Promise<UserStatsDto> {
    return this.stats.forUser(user.id);
  }

  @Get('admin/stats')
  @Authenticated({ roles: ['admin'] })
  @ApiOperation({ summary: 'Service-wide totals (admins only)' })
  @ApiOkResponse({ type: AdminStatsDto })
  totals(): Promise<AdminStatsDto> {
    return this.stats.totals();
  }
}
