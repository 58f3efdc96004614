import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { UserEntity } from '../users/user.entity.js';
import { ConversationEntity } from './conversation.entity.js';

export const PARTICIPANT_ROLES = ['owner', 'member', 'viewer'] as const;
export type ParticipantRole = (typeof PARTICIPANT_ROLES)[number];

/** Membership of a user in a conversation, with that user's own view of it (read marker, pin, archive). */
@Entity('conversation_participants')
@Index('conversation_participants_user_id_idx', ['userId'])
@Check('conversation_participants_role_check', `"role" IN ('owner', 'member', 'viewer')`)
export class ParticipantEntity {
  @PrimaryColumn({ name: 'conversation_id', type: 'uuid', primaryKeyConstraintName: 'conversation_participants_pkey' })
  conversationId!: string;

  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'conversation_participants_pkey' })
  userId!: string;

  @ManyToOne(() => ConversationEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'conversation_id', foreignKeyConstraintName: 'conversation_participants_conversation_id_fkey' })
  conversation?: Relation<ConversationEntity>;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'conversation_participants_user_id_fkey' })
  user?: Relation<UserEntity>;

  @Column({ type: 'varchar', length: 16 })
  role!: ParticipantRole;

  @Column({ name: 'last_read_seq', type: 'integer', default: 0 })
  lastReadSeq!: number;

  @Column({ type: 'boolean', default: false })
  pinned!: boolean;

  @Column({ type: 'boolean', default: false })
  archived!: boolean;

  @CreateDateColumn({ name: 'joined_at', type: 'timestamptz' })
  joinedAt!: Date;
}
