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
  Unique,
} from 'typeorm';
import { ConversationEntity } from '../conversations/conversation.entity.js';
import { BIGINT_AS_NUMBER } from '../database/bigint-column.js';
import { UserEntity } from '../users/user.entity.js';
import type { MessageSource } from './message-source.js';

export const MESSAGE_ROLES = ['user', 'assistant', 'system', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];
export const MESSAGE_STATUSES = ['complete', 'streaming', 'failed', 'cancelled', 'interrupted'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Text search configuration of the generated search vector (and of every search query). */
export const SEARCH_CONFIG = 'english';

export interface MessageMetadata {
  model?: string;
  usage?: { inputTokens: number; outputTokens: number };
  toolCalls?: unknown[];
  sources?: MessageSource[];
  error?: { code: string; message: string };
}

/**
 * A document a message carries, as it was when the message was sent. The document itself may be
 * deleted later: the entry stays, so the message (and the agent) can still say what it carried.
 */
export interface MessageAttachment {
  id: string;
  filename: string;
  mediaType: string;
  bytes: number;
}

@Entity('messages')
@Unique('messages_conversation_id_seq_key', ['conversationId', 'seq'])
@Index('messages_client_message_id_key', ['conversationId', 'authorId', 'clientMessageId'], {
  unique: true,
  where: '"client_message_id" IS NOT NULL',
})
@Index('messages_author_id_idx', ['authorId'])
@Index('messages_conversation_id_version_idx', ['conversationId', 'version'])
// Analytics read messages by time; the other columns they count make it an index-only scan.
@Index('messages_created_at_idx', ['createdAt', 'role', 'conversationId', 'authorId'])
// GIN index over the generated tsvector; TypeORM cannot express the access method, so it is left to the migration.
@Index('messages_search_vector_idx', { synchronize: false })
@Check('messages_role_check', `"role" IN ('user', 'assistant', 'system', 'tool')`)
@Check('messages_feedback_check', `"feedback_up" >= 0 AND "feedback_down" >= 0`)
@Check('messages_status_check', `"status" IN ('complete', 'streaming', 'failed', 'cancelled', 'interrupted')`)
export class MessageEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'messages_pkey' })
  id!: string;

  @Column({ name: 'conversation_id', type: 'uuid' })
  conversationId!: string;

  @ManyToOne(() => ConversationEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'conversation_id', foreignKeyConstraintName: 'messages_conversation_id_fkey' })
  conversation?: Relation<ConversationEntity>;

  /** Position in the conversation: 1, 2, 3 … unique and gap-free per conversation. */
  @Column({ type: 'integer' })
  seq!: number;

  /** The conversation's version of this message's last change (creation, edit, deletion, final reply). */
  @Column({ type: 'bigint', default: 0, transformer: BIGINT_AS_NUMBER })
  version!: number;

  @Column({ type: 'varchar', length: 16 })
  role!: MessageRole;

  @Column({ name: 'author_id', type: 'uuid', nullable: true })
  authorId!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'author_id', foreignKeyConstraintName: 'messages_author_id_fkey' })
  author?: Relation<UserEntity> | null;

  @Column({ type: 'text' })
  content!: string;

  @Column({ type: 'varchar', length: 16, default: 'complete' })
  status!: MessageStatus;

  /** Idempotency key chosen by the client; unique per conversation and author. */
  @Column({ name: 'client_message_id', type: 'varchar', length: 100, nullable: true })
  clientMessageId!: string | null;

  /** The agent run that produced this message (assistant replies). */
  @Column({ name: 'run_id', type: 'uuid', nullable: true })
  runId!: string | null;

  @Column({ type: 'jsonb', default: {} })
  metadata!: MessageMetadata;

  /** Documents of the conversation sent with the message (people's messages only). */
  @Column({ type: 'jsonb', default: [] })
  attachments!: MessageAttachment[];

  /**
   * A streaming reply's last checkpoint: the index of the last delta its stored content covers
   * (null before the first). Internal: clients get it as `activeRun.index`, never on a message.
   */
  @Column({ name: 'stream_index', type: 'integer', nullable: true, select: false })
  streamIndex?: number | null;

  @Column({
    name: 'search_vector',
    type: 'tsvector',
    nullable: true,
    select: false,
    insert: false,
    update: false,
    generatedType: 'STORED',
    asExpression: `to_tsvector('${SEARCH_CONFIG}', "content")`,
  })
  searchVector?: string;

  /** People's ratings of an assistant reply (message_feedback), counted here in the same transaction. */
  @Column({ name: 'feedback_up', type: 'integer', default: 0 })
  feedbackUp!: number;

  @Column({ name: 'feedback_down', type: 'integer', default: 0 })
  feedbackDown!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'edited_at', type: 'timestamptz', nullable: true })
  editedAt!: Date | null;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}
