import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { ANALYTICS_INTERVALS, type AnalyticsInterval } from '../analytics-range.js';

/** A date, or a date-time with its offset (a time without one would depend on the server's time zone). */
const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const INSTANT_MESSAGE = 'must be an ISO 8601 date (2025-03-01) or a date-time with an offset (2025-03-01T00:00:00Z)';

export class AnalyticsQuery {
  @ApiPropertyOptional({
    description: 'Start of the range (inclusive): an ISO 8601 date (UTC midnight) or date-time with an offset, on a bucket boundary in UTC. Default: one default span before `to` (30 days for day, 24 hours for hour)',
    example: '2025-03-01',
    maxLength: 40,
  })
  @IsOptional()
  @IsString()
  @Matches(INSTANT, { message: `from ${INSTANT_MESSAGE}` })
  from?: string;

  @ApiPropertyOptional({
    description: 'End of the range (exclusive), on a bucket boundary in UTC. Default: the end of the current bucket (the next UTC midnight for day)',
    example: '2025-03-31',
    maxLength: 40,
  })
  @IsOptional()
  @IsString()
  @Matches(INSTANT, { message: `to ${INSTANT_MESSAGE}` })
  to?: string;

  @ApiPropertyOptional({
    enum: ANALYTICS_INTERVALS,
    default: 'day',
    description: 'Bucket size: UTC days (ranges up to 366 days) or hours (ranges up to 7 days)',
  })
  @IsOptional()
  @IsIn(ANALYTICS_INTERVALS)
  interval?: AnalyticsInterval;
}

export class MessageCountsDto {
  @ApiProperty({ type: 'integer', example: 42 })
  total!: number;

  @ApiProperty({ type: 'integer', example: 20 })
  user!: number;

  @ApiProperty({ type: 'integer', example: 20 })
  assistant!: number;

  @ApiProperty({ type: 'integer', example: 1 })
  system!: number;

  @ApiProperty({ type: 'integer', example: 1 })
  tool!: number;
}

export class ConversationCountsDto {
  @ApiProperty({ type: 'integer', description: 'Conversations created', example: 3 })
  created!: number;

  @ApiProperty({ type: 'integer', description: 'Distinct conversations that received a message', example: 7 })
  active!: number;
}

export class RunCountsDto {
  @ApiProperty({ type: 'integer', example: 21 })
  total!: number;

  @ApiProperty({ type: 'integer', example: 19 })
  completed!: number;

  @ApiProperty({ type: 'integer', example: 1 })
  failed!: number;

  @ApiProperty({ type: 'integer', example: 1 })
  cancelled!: number;

  @ApiProperty({ type: 'integer', example: 0 })
  interrupted!: number;
}

export class LatencyDto {
  @ApiProperty({ type: 'integer', description: 'Runs measured', example: 20 })
  count!: number;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Median, in ms; null without runs', example: 850 })
  p50!: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: '95th percentile (nearest rank), in ms; null without runs', example: 2140 })
  p95!: number | null;
}

export class ModelTokensDto {
  @ApiProperty({ example: 'gpt-4o-mini' })
  model!: string;

  @ApiProperty({ type: 'integer', example: 21 })
  runs!: number;

  @ApiProperty({ type: 'integer', example: 15400 })
  inputTokens!: number;

  @ApiProperty({ type: 'integer', example: 3100 })
  outputTokens!: number;
}

export class FeedbackFiguresDto {
  @ApiProperty({ type: 'integer', example: 6 })
  up!: number;

  @ApiProperty({ type: 'integer', example: 2 })
  down!: number;

  @ApiProperty({ type: 'number', nullable: true, minimum: 0, maximum: 1, description: 'up / (up + down); null without ratings', example: 0.75 })
  ratio!: number | null;
}

export class AnalyticsFiguresDto {
  @ApiProperty({ type: MessageCountsDto, description: 'Messages created, by role (deleted ones included: they were sent)' })
  messages!: MessageCountsDto;

  @ApiProperty({ type: 'integer', description: 'Distinct people who sent a message', example: 5 })
  activeUsers!: number;

  @ApiProperty({ type: ConversationCountsDto })
  conversations!: ConversationCountsDto;

  @ApiProperty({ type: RunCountsDto, description: 'Agent runs that ended, by how they ended' })
  runs!: RunCountsDto;

  @ApiProperty({
    type: LatencyDto,
    description: 'Time to first token of the runs that ended: from the message that asked (the run being created) to its first text reaching clients, as agent_time_to_first_token_seconds measures it',
  })
  ttftMs!: LatencyDto;

  @ApiProperty({ type: LatencyDto, description: 'How long completed runs took, from starting to ending' })
  durationMs!: LatencyDto;

  @ApiProperty({ type: [ModelTokensDto], description: 'Tokens of the runs that ended, by model, most tokens first' })
  tokens!: ModelTokensDto[];

  @ApiProperty({ type: FeedbackFiguresDto, description: 'Ratings given or last changed, as they stand now' })
  feedback!: FeedbackFiguresDto;
}

export class AnalyticsBucketDto extends AnalyticsFiguresDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the bucket (inclusive), UTC' })
  start!: string;

  @ApiProperty({ format: 'date-time', description: 'End of the bucket (exclusive), UTC' })
  end!: string;
}

export class AnalyticsReportDto {
  @ApiProperty({ format: 'date-time' })
  from!: string;

  @ApiProperty({ format: 'date-time' })
  to!: string;

  @ApiProperty({ enum: ANALYTICS_INTERVALS })
  interval!: AnalyticsInterval;

  @ApiProperty({ type: [AnalyticsBucketDto], description: 'Every bucket of the range in order, empty ones included' })
  buckets!: AnalyticsBucketDto[];

  @ApiProperty({ type: AnalyticsFiguresDto, description: 'The whole range: distinct counts and percentiles are of the range, not sums of the buckets' })
  total!: AnalyticsFiguresDto;
}
