import { IsInt, IsUUID, Max, Min } from 'class-validator';
import { Omittable } from '../../common/decorators/omittable.decorator.js';
import { MAX_SEQ } from '../../common/pagination/query-params.js';
import { SendMessageDto } from '../../messages/dto/message.dto.js';

export class ConversationRefDto {
  @IsUUID('all')
  conversationId!: string;
}

export class JoinDto extends ConversationRefDto {
  /** The highest version the client has applied without a gap: the changes after it come back. */
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  afterVersion?: number;

  /** Deprecated (one release): the messages created after this seq come back as `missed`; afterVersion wins. */
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(MAX_SEQ)
  afterSeq?: number;
}

export class WsSendDto extends SendMessageDto {
  @IsUUID('all')
  conversationId!: string;
}

export class ReadDto extends ConversationRefDto {
  @IsInt()
  @Min(0)
  @Max(MAX_SEQ)
  seq!: number;
}

export class CancelRunDto {
  @IsUUID('all')
  runId!: string;
}
