import { ApiProperty } from '@nestjs/swagger';
import { RUN_STATUSES, type RunStatus } from '../../agent/run.entity.js';

export class TokenCountsDto {
  @ApiProperty({ type: 'integer' })
  input!: number;

  @ApiProperty({ type: 'integer' })
  output!: number;
}

export class UserStatsDto {
  @ApiProperty({ type: 'integer' })
  conversations!: number;

  @ApiProperty({ type: 'integer' })
  messagesSent!: number;

  @ApiProperty({ type: 'integer', description: 'Across all conversations, after your read markers' })
  unreadMessages!: number;

  @ApiProperty({ type: 'integer', description: 'Agent runs your messages started' })
  agentRuns!: number;

  @ApiProperty({ type: TokenCountsDto })
  tokens!: TokenCountsDto;
}

export class AdminStatsDto {
  @ApiProperty({ type: 'integer' })
  users!: number;

  @ApiProperty({ type: 'integer' })
  conversations!: number;

  @ApiProperty({ type: 'integer' })
  messages!: number;

  @ApiProperty({
    type: 'object',
    properties: Object.fromEntries(RUN_STATUSES.map((status) => [status, { type: 'integer' }])),
    required: [...RUN_STATUSES],
    additionalProperties: false,
    selfRequired: true,
    example: { queued: 0, running: 1, awaiting_approval: 0, completed: 10, failed: 0, cancelled: 0, interrupted: 0 },
  })
  runsByStatus!: Record<RunStatus, number>;

  @ApiProperty({ type: 'integer', description: 'Socket.IO connections on this instance' })
  activeSockets!: number;
}
