import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { ConversationDto } from '../../conversations/dto/conversation.dto.js';
import { DOCUMENT_STATUSES, type DocumentStatus } from '../../documents/document.entity.js';
import type { OwnedDocument } from '../../documents/documents.repository.js';
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

/** A document the user uploaded: what it is and where it is, not its bytes. */
export class ExportedDocumentDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'null: your private library' })
  conversationId!: string | null;

  @ApiProperty({ maxLength: 255 })
  filename!: string;

  @ApiProperty({ example: 'application/pdf' })
  mediaType!: string;

  @ApiProperty({ type: 'integer', minimum: 0 })
  bytes!: number;

  @ApiProperty({ enum: DOCUMENT_STATUSES })
  status!: DocumentStatus;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '/api/v1/documents/0b6f4c1e-3f4a-4c55-9a55-0f7d3c1e8a10/content',
    description: 'Where to download the original bytes; null for a document in a conversation you no longer take part in',
  })
  contentPath!: string | null;

  static from({ document, readable }: OwnedDocument): ExportedDocumentDto {
    return {
      id: document.id,
      conversationId: document.conversationId,
      filename: document.filename,
      mediaType: document.mediaType,
      bytes: document.bytes,
      status: document.status,
      createdAt: document.createdAt.toISOString(),
      contentPath: readable ? `/api/v1/documents/${document.id}/content` : null,
    };
  }
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

  @ApiProperty({ type: [ExportedDocumentDto], description: 'Every document you uploaded, to your library or to a conversation, oldest first' })
  documents!: ExportedDocumentDto[];
}
