import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MessageDto, UsageDto } from '../../messages/dto/message.dto.js';
import { RUN_STATUSES, type RunEntity, type RunError, type RunStatus, type RunUsage } from '../run.entity.js';

export class RunErrorDto {
  @ApiProperty({
    example: 'PROVIDER_UNAVAILABLE',
    description:
      'PROVIDER_UNAVAILABLE, PROVIDER_ERROR, PROVIDER_AUTH, PROVIDER_RATE_LIMITED, MODEL_NOT_FOUND, PROVIDER_NOT_CONFIGURED, ' +
      'MODEL_NOT_ALLOWED, STREAM_INTERRUPTED, RUN_TIMEOUT, IDLE_TIMEOUT, SHUTDOWN, TRIGGER_GONE, STATE_TOO_LARGE or INTERNAL',
  })
  code!: string;

  @ApiProperty()
  message!: string;
}

export class RunDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  conversationId!: string;

  @ApiProperty({ format: 'uuid', description: 'The user message this run answers' })
  triggerMessageId!: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'The assistant message it writes' })
  responseMessageId!: string | null;

  @ApiProperty({ enum: RUN_STATUSES })
  status!: RunStatus;

  @ApiProperty({ example: 'openai' })
  provider!: string;

  @ApiProperty({ example: 'gpt-4o-mini' })
  model!: string;

  @ApiProperty({ type: UsageDto, nullable: true })
  usage!: RunUsage | null;

  @ApiProperty({ type: RunErrorDto, nullable: true })
  error!: RunError | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  startedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  finishedAt!: string | null;

  static from(run: RunEntity): RunDto {
    return {
      id: run.id,
      conversationId: run.conversationId,
      triggerMessageId: run.triggerMessageId,
      responseMessageId: run.responseMessageId,
      status: run.status,
      provider: run.provider,
      model: run.model,
      usage: run.usage,
      error: run.error,
      createdAt: run.createdAt.toISOString(),
      startedAt: run.startedAt?.toISOString() ?? null,
      finishedAt: run.finishedAt?.toISOString() ?? null,
    };
  }
}

export class SendResultDto {
  @ApiProperty({ type: MessageDto })
  message!: MessageDto;

  @ApiProperty({ type: RunDto, nullable: true, description: 'The agent run answering this message, if the agent mode calls for one' })
  run!: RunDto | null;
}

/** POST …/messages: the message and its run; with `?wait=true`, the run once finished and its reply too. */
export class SendMessageResultDto extends SendResultDto {
  @ApiPropertyOptional({
    type: MessageDto,
    nullable: true,
    description: "Only with `?wait=true`: the agent's reply once the run has finished (null when no run answers the message)",
  })
  reply?: MessageDto | null;
}
