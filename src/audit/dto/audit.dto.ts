import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { PageCursor, PageLimit } from '../../common/pagination/query-params.js';
import { AUDIT_ACTIONS, AUDIT_TARGET_TYPES, type AuditAction, type AuditTargetType } from '../audit-actions.js';
import type { AuditDetails, AuditEventEntity } from '../audit-event.entity.js';

export class ListAuditEventsQuery {
  @PageLimit(50)
  limit?: number;

  @PageCursor()
  cursor?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only events by this user' })
  @IsOptional()
  @IsUUID()
  actorId?: string;

  @ApiPropertyOptional({ enum: AUDIT_ACTIONS, description: 'Only events of this action' })
  @IsOptional()
  @IsIn(AUDIT_ACTIONS)
  action?: AuditAction;
}

export class AuditEventDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'Who did it; null for a failed sign-in' })
  actorId!: string | null;

  @ApiProperty({ enum: AUDIT_ACTIONS })
  action!: AuditAction;

  @ApiProperty({ enum: AUDIT_TARGET_TYPES, nullable: true })
  targetType!: AuditTargetType | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  targetId!: string | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  conversationId!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The client address; null once the account that acted is deleted' })
  ip!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The x-request-id of the request' })
  requestId!: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }], nullable: true },
    description: 'Ids, roles and reasons (never a password, token or key)',
  })
  details!: AuditDetails;

  static from(row: AuditEventEntity): AuditEventDto {
    return {
      id: row.id,
      at: row.at.toISOString(),
      actorId: row.actorId,
      action: row.action,
      targetType: row.targetType,
      targetId: row.targetId,
      conversationId: row.conversationId,
      ip: row.ip,
      requestId: row.requestId,
      details: row.details,
    };
  }
}

export class AuditEventPageDto {
  @ApiProperty({ type: [AuditEventDto] })
  items!: AuditEventDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' })
  nextCursor!: string | null;
}
