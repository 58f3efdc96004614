import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { RunEntity } from '../agent/run.entity.js';
import { ConversationEntity } from '../conversations/conversation.entity.js';
import { UserEntity } from '../users/user.entity.js';

export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export const APPROVAL_DECISIONS = ['approve', 'deny'] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

/** A tool call waiting for (or given) a person's decision; its run waits until every one of its calls is decided. */
@Entity('approvals')
@Index('approvals_run_id_step_tool_call_id_key', ['runId', 'step', 'toolCallId'], { unique: true })
@Index('approvals_conversation_id_idx', ['conversationId', 'createdAt', 'id'])
@Index('approvals_expires_at_idx', ['expiresAt'], { where: `"status" = 'pending'` })
@Check('approvals_status_check', `"status" IN ('pending', 'approved', 'denied', 'expired')`)
export class ApprovalEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'approvals_pkey' })
  id!: string;

  @Column({ name: 'run_id', type: 'uuid' })
  runId!: string;

  @ManyToOne(() => RunEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'run_id', foreignKeyConstraintName: 'approvals_run_id_fkey' })
  run?: Relation<RunEntity>;

  @Column({ name: 'conversation_id', type: 'uuid' })
  conversationId!: string;

  @ManyToOne(() => ConversationEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'conversation_id', foreignKeyConstraintName: 'approvals_conversation_id_fkey' })
  conversation?: Relation<ConversationEntity>;

  /** The step of the run's loop that made the call: providers may reuse call ids from one step to the next. */
  @Column({ type: 'integer' })
  step!: number;

  /** The provider's id of the call, echoed back with its result. */
  @Column({ name: 'tool_call_id', type: 'varchar', length: 100 })
  toolCallId!: string;

  @Column({ name: 'tool_name', type: 'varchar', length: 64 })
  toolName!: string;

  @Column({ type: 'jsonb', default: {} })
  input!: unknown;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status!: ApprovalStatus;

  /** Who asked the agent (may decide, with the conversation's owner); null once that account is gone. */
  @Column({ name: 'requested_by_id', type: 'uuid', nullable: true })
  requestedById!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'requested_by_id', foreignKeyConstraintName: 'approvals_requested_by_id_fkey' })
  requestedBy?: Relation<UserEntity> | null;

  @Column({ name: 'decided_by_id', type: 'uuid', nullable: true })
  decidedById!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'decided_by_id', foreignKeyConstraintName: 'approvals_decided_by_id_fkey' })
  decidedBy?: Relation<UserEntity> | null;

  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true })
  decidedAt!: Date | null;

  @Column({ type: 'varchar', length: 500, nullable: true })
  reason!: string | null;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
