import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';
import { PageCursor, PageLimit } from '../../common/pagination/query-params.js';
import { DOCUMENT_STATUSES, type DocumentEntity, type DocumentStatus } from '../document.entity.js';

export class DocumentDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid', description: 'The uploader' })
  ownerId!: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: "null: the owner's private library" })
  conversationId!: string | null;

  @ApiProperty({ maxLength: 255 })
  filename!: string;

  @ApiProperty({ description: 'Detected from the content, not from the name or the declared type', example: 'application/pdf' })
  mediaType!: string;

  @ApiProperty({ type: 'integer', minimum: 0 })
  bytes!: number;

  @ApiProperty({ enum: DOCUMENT_STATUSES, description: 'processing until its text is extracted and indexed' })
  status!: DocumentStatus;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Indexed chunks' })
  chunks!: number;

  @ApiProperty({ type: String, nullable: true, description: 'Why processing failed; on a ready document, what was left out (a text longer than DOCUMENT_MAX_TEXT_CHARS characters or DOCUMENT_MAX_CHUNKS chunks is indexed from its beginning)' })
  error!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static from(entity: DocumentEntity): DocumentDto {
    return {
      id: entity.id,
      ownerId: entity.ownerId,
      conversationId: entity.conversationId,
      filename: entity.filename,
      mediaType: entity.mediaType,
      bytes: entity.bytes,
      status: entity.status,
      chunks: entity.chunks,
      error: entity.error,
      createdAt: entity.createdAt.toISOString(),
    };
  }
}

export class DocumentPageDto {
  @ApiProperty({ type: [DocumentDto] })
  items!: DocumentDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' })
  nextCursor!: string | null;
}

export class ListDocumentsQuery {
  @ApiPropertyOptional({ format: 'uuid', description: "A conversation's documents; without it, the caller's private library" })
  @IsOptional()
  @IsUUID()
  conversationId?: string;

  @PageLimit(50)
  limit?: number;

  @PageCursor()
  cursor?: string;
}

/** The multipart body of an upload, for the API document (the handler reads the parts itself). */
export class UploadDocumentDto {
  @ApiProperty({ type: 'string', format: 'binary', description: 'The file, after any `conversationId` field. Its type is detected from the content.' })
  file!: unknown;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'Add it to this conversation (members and owner); without it, to your private library. Must come before `file` (or be given as the query parameter instead): after it, the upload is a 400.',
  })
  conversationId?: string;
}

/** Where an upload goes, known before its body is read. */
export class UploadDocumentQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Add it to this conversation (members and owner); the same as the form field' })
  @IsOptional()
  @IsUUID()
  conversationId?: string;
}
