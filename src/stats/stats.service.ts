import { Injectable } from '@nestjs/common';
import { PresenceService } from '../realtime/presence.service.js';
import type { AdminStatsDto, UserStatsDto } from './dto/stats.dto.js';
import { StatsRepository } from './stats.repository.js';

@Injectable()
export class StatsService {
  constructor(
    private readonly stats: StatsRepository,
    private readonly presence: PresenceService,
  ) {}

  forUser(userId: string): Promise<UserStatsDto> {
    return this.stats.forUser(userId);
  }

  /** Totals from the database, and the sockets connected to this instance. */
  async totals(): Promise<AdminStatsDto> {
    return { ...(await this.stats.totals()), activeSockets: this.presence.connectedSockets };
  }
}
