import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageCursor, PageLimit } from '../../common/pagination/query-params.js';
import { trimmed } from '../../common/dto/transforms.js';
import { APPROVAL_DECISIONS, APPROVAL_STATUSES, type ApprovalDecision, type ApprovalEntity, type ApprovalStatus } from '../approval.entity.js';

export const REASON_MAX = 500;

export class ApprovalDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid', description: 'The run that waits for this decision' })
  runId!: string;

  @ApiProperty({ format: 'uuid' })
  conversationId!: string;

  @ApiProperty({ example: 'call_1', description: "The provider's id of the tool call" })
  toolCallId!: string;

  @ApiProperty({ example: 'github__create_issue', description: 'The tool the agent wants to call' })
  toolName!: string;

  @ApiProperty({ description: 'The arguments the agent wants to call it with (checked against the tool’s schema)', example: { title: 'Flaky test' } })
  input!: unknown;

  @ApiProperty({ enum: APPROVAL_STATUSES })
  status!: ApprovalStatus;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'Who asked the agent: they may decide, as may the owner' })
  requestedBy!: string | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  decidedBy!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  decidedAt!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why it was denied (told to the model), or why it expired' })
  reason!: string | null;

  @ApiProperty({ format: 'date-time', description: 'Undecided by then, the call is denied as expired (APPROVAL_TTL_MS)' })
  expiresAt!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  static from(entity: ApprovalEntity): ApprovalDto {
    return {
      id: entity.id,
      runId: entity.runId,
      conversationId: entity.conversationId,
      toolCallId: entity.toolCallId,
      toolName: entity.toolName,
      input: entity.input,
      status: entity.status,
      requestedBy: entity.requestedById,
      decidedBy: entity.decidedById,
      decidedAt: entity.decidedAt?.toISOString() ?? null,
      reason: entity.reason,
      expiresAt: entity.expiresAt.toISOString(),
      createdAt: entity.createdAt.toISOString(),
    };
  }
}

export class ApprovalPageDto {
  @ApiProperty({ type: [ApprovalDto] })
  items!: ApprovalDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' })
  nextCursor!: string | null;
}

// Examples are what Swagger UI prefills for "Try it out": each one must be accepted as is.
export class DecideApprovalDto {
  @ApiProperty({ enum: APPROVAL_DECISIONS, example: 'approve' })
  @IsIn(APPROVAL_DECISIONS)
  decision!: ApprovalDecision;

  @ApiPropertyOptional({ maxLength: REASON_MAX, example: 'Not on a Friday', description: 'Told to the model with a denial' })
  @IsOptional()
  @Transform(trimmed)
  @IsString()
  @MaxLength(REASON_MAX)
  reason?: string;
}

/** Socket.IO `approval:decide`: the decision with the approval it is about. */
export class WsDecideApprovalDto extends DecideApprovalDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all')
  approvalId!: string;
}

export class ListApprovalsQuery {
  @ApiPropertyOptional({ enum: APPROVAL_STATUSES, description: 'Only approvals in this status (e.g. pending: what waits for a decision)' })
  @IsOptional()
  @IsIn(APPROVAL_STATUSES)
  status?: ApprovalStatus;

  @PageLimit(50)
  limit?: number;

  @PageCursor()
  cursor?: string;
}
