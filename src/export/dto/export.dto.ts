import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { ConversationDto } from '../../conversations/dto/conversation.dto.js';
import { MessageDto } from '../../messages/dto/message.dto.js';
import { UserDto } from '../../users/dto/user.dto.js';

export class ExportQuery {
  @ApiPropertyOptional({ enum: ['json', 'markdown'], default: 'json', description: 'json: the conversation and its messages as data; markdown: a readable transcript' })
  @IsOptional()
  @IsIn(['json', 'markdown'])
  format?: 'json' | 'markdown';
}

export class ConversationExportDto {
  @ApiProperty({ format: 'date-time' })
  exportedAt!: string;

  @ApiProperty({ type: ConversationDto })
  conversation!: ConversationDto;

  @ApiProperty({ type: [MessageDto], description: 'Every message, ascending by seq (deleted ones as tombstones)' })
  messages!: MessageDto[];
}

export class AccountExportDto {
  @ApiProperty({ format: 'date-time' })
  exportedAt!: string;

  @ApiProperty({ type: UserDto })
  user!: UserDto;

  @ApiProperty({ type: [ConversationDto], description: 'Every conversation you take part in, archived ones included' })
  conversations!: ConversationDto[];

  @ApiProperty({ type: [MessageDto], description: 'Every message you wrote' })
  messages!: MessageDto[];
}
