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
  UpdateDateColumn,
} from 'typeorm';
import { BIGINT_AS_NUMBER } from '../database/bigint-column.js';
import { UserEntity } from '../users/user.entity.js';

export const AGENT_MODES = ['auto', 'mention', 'off'] as const;
export type AgentMode = (typeof AGENT_MODES)[number];

@Entity('conversations')
@Index('conversations_owner_id_idx', ['ownerId'])
@Index('conversations_last_activity_idx', ['lastActivityAt', 'id'])
@Index('conversations_created_at_idx', ['createdAt'])
@Check('conversations_agent_mode_check', `"agent_mode" IN ('auto', 'mention', 'off')`)
@Check('conversations_agent_tools_check', `"agent_tools" IS NULL OR jsonb_typeof("agent_tools") = 'array'`)
export class ConversationEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'conversations_pkey' })
  id!: string;

  @Column({ name: 'owner_id', type: 'uuid' })
  ownerId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'conversations_owner_id_fkey' })
  owner?: Relation<UserEntity>;

  @Column({ type: 'varchar', length: 200, default: '' })
  title!: string;

  @Column({ name: 'agent_mode', type: 'varchar', length: 16, default: 'auto' })
  agentMode!: AgentMode;

  /** Null means the server-wide default (AGENT_PROVIDER / AGENT_MODEL). */
  @Column({ name: 'agent_provider', type: 'varchar', length: 32, nullable: true })
  agentProvider!: string | null;

  @Column({ name: 'agent_model', type: 'varchar', length: 200, nullable: true })
  agentModel!: string | null;

  @Column({ name: 'agent_system_prompt', type: 'text', nullable: true })
  agentSystemPrompt!: string | null;

  /** The tools the agent may use here (see ToolSelection); null means every tool the server offers. */
  @Column({ name: 'agent_tools', type: 'jsonb', nullable: true })
  agentTools!: string[] | null;

  /** Rolling summary of the turns up to and including summarySeq (the agent's long-term memory). */
  @Column({ type: 'text', nullable: true })
  summary!: string | null;

  @Column({ name: 'summary_seq', type: 'integer', default: 0 })
  summarySeq!: number;

  /** Highest message seq handed out; the next message takes lastSeq + 1 in the same transaction. */
  @Column({ name: 'last_seq', type: 'integer', default: 0 })
  lastSeq!: number;

  /**
   * Counts every change a participant can observe (messages created, edited, deleted, replies
   * finished; title, agent settings, participants): each takes version + 1 in its own transaction.
   */
  @Column({ type: 'bigint', default: 0, transformer: BIGINT_AS_NUMBER })
  version!: number;

  @Column({ name: 'last_message_at', type: 'timestamptz', nullable: true })
  lastMessageAt!: Date | null;

  /** Sort key of the conversation list: creation, then every message. */
  @Column({ name: 'last_activity_at', type: 'timestamptz', default: () => 'now()' })
  lastActivityAt!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}
