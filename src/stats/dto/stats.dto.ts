import { ApiProperty } from '@nestjs/swagger';
import { RUN_STATUSES, type RunStatus } from '../../agent/run.entity.js';

export class TokenCountsDto {
  @ApiProperty()
  input!: number;

  @ApiProperty()
  output!: number;
}

export class UserStatsDto {
  @ApiProperty()
  conversations!: number;

  @ApiProperty()
  messagesSent!: number;

  @ApiProperty({ description: 'Across all conversations, after your read markers' })
  unreadMessages!: number;

  @ApiProperty({ description: 'Agent runs your messages started' })
  agentRuns!: number;

  @ApiProperty({ type: TokenCountsDto })
  tokens!: TokenCountsDto;
}

export class AdminStatsDto {
  @ApiProperty()
  users!: number;

  @ApiProperty()
  conversations!: number;

  @ApiProperty()
  messages!: number;

  @ApiProperty({
    type: 'object',
    properties: Object.fromEntries(RUN_STATUSES.map((status) => [status, { type: 'integer' }])),
    example: { queued: 0, running: 1, completed: 10, failed: 0, cancelled: 0, interrupted: 0 },
  })
  runsByStatus!: Record<RunStatus, number>;

  @ApiProperty({ description: 'Socket.IO connections on this instance' })
  activeSockets!: number;
}
