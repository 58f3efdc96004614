import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { ConversationEntity } from '../conversations/conversation.entity.js';
import { MessageEntity } from '../messages/message.entity.js';
import { UserEntity } from '../users/user.entity.js';
import type { MessageMetadata } from '../messages/message.entity.js';
import type { PausedLoop } from './agent-steps.js';

export const RUN_STATUSES = ['queued', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A run in one of these has ended: it never changes status again. */
const TERMINAL_RUN_STATUSES: ReadonlySet<string> = new Set<RunStatus>(['completed', 'failed', 'cancelled', 'interrupted']);

export function isTerminalRunStatus(status: string): boolean {
  return TERMINAL_RUN_STATUSES.has(status);
}

export interface RunUsage {
  inputTokens: number;
  outputTokens: number;
}

/** A run paused for approvals: its loop, its reply's text so far, and its tool calls and sources until then. */
export interface PausedRun {
  loop: PausedLoop;
  reply: { content: string; index: number };
  metadata: Pick<MessageMetadata, 'toolCalls' | 'sources'>;
}

export interface RunError {
  code: string;
  message: string;
}

/** One execution of the agent answering one user message. */
@Entity('agent_runs')
@Index('agent_runs_conversation_id_idx', ['conversationId', 'createdAt'])
@Index('agent_runs_requested_by_idx', ['requestedById', 'createdAt'])
@Index('agent_runs_active_idx', ['status', 'heartbeatAt'], { where: `"status" IN ('queued', 'running')` })
@Index('agent_runs_trigger_message_id_idx', ['triggerMessageId'])
@Index('agent_runs_finished_at_idx', ['finishedAt'])
@Check('agent_runs_status_check', `"status" IN ('queued', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled', 'interrupted')`)
export class RunEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'agent_runs_pkey' })
  id!: string;

  @Column({ name: 'conversation_id', type: 'uuid' })
  conversationId!: string;

  @ManyToOne(() => ConversationEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'conversation_id', foreignKeyConstraintName: 'agent_runs_conversation_id_fkey' })
  conversation?: Relation<ConversationEntity>;

  @Column({ name: 'trigger_message_id', type: 'uuid' })
  triggerMessageId!: string;

  @ManyToOne(() => MessageEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'trigger_message_id', foreignKeyConstraintName: 'agent_runs_trigger_message_id_fkey' })
  triggerMessage?: Relation<MessageEntity>;

  @Column({ name: 'response_message_id', type: 'uuid', nullable: true })
  responseMessageId!: string | null;

  @ManyToOne(() => MessageEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'response_message_id', foreignKeyConstraintName: 'agent_runs_response_message_id_fkey' })
  responseMessage?: Relation<MessageEntity> | null;

  /** Who the run is accounted to (quotas); null once that account is gone. */
  @Column({ name: 'requested_by_id', type: 'uuid', nullable: true })
  requestedById!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'requested_by_id', foreignKeyConstraintName: 'agent_runs_requested_by_id_fkey' })
  requestedBy?: Relation<UserEntity> | null;

  @Column({ type: 'varchar', length: 32, default: 'queued' })
  status!: RunStatus;

  @Column({ type: 'varchar', length: 32 })
  provider!: string;

  @Column({ type: 'varchar', length: 200 })
  model!: string;

  @Column({ type: 'jsonb', nullable: true })
  usage!: RunUsage | null;

  @Column({ type: 'jsonb', nullable: true })
  error!: RunError | null;

  /** While awaiting approval: where the agent loop stopped, so that any instance can resume it. */
  @Column({ name: 'loop_state', type: 'jsonb', nullable: true })
  loopState!: PausedRun | null;

  /** Which instance executes the run and when it last proved to be alive (crash recovery). */
  @Column({ name: 'instance_id', type: 'varchar', length: 64, nullable: true })
  instanceId!: string | null;

  @Column({ name: 'heartbeat_at', type: 'timestamptz', nullable: true })
  heartbeatAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  /** When the reply's first text reached clients (time to first token); null until then, set once. */
  @Column({ name: 'first_token_at', type: 'timestamptz', nullable: true, select: false })
  firstTokenAt?: Date | null;
}
