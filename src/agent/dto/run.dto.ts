import { ApiProperty } from '@nestjs/swagger';
import { MessageDto, UsageDto } from '../../messages/dto/message.dto.js';
import { RUN_STATUSES, type RunEntity, type RunError, type RunStatus, type RunUsage } from '../run.entity.js';

export class RunErrorDto {
  @ApiProperty({ example: 'PROVIDER_UNAVAILABLE' })
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

export class WaitResultDto extends SendResultDto {
  @ApiProperty({ type: MessageDto, nullable: true, description: "The agent's reply once the run has finished" })
  reply!: MessageDto | null;
}
