import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation, UpdateDateColumn } from 'typeorm';
import { ConversationEntity } from '../conversations/conversation.entity.js';
import { MessageEntity } from '../messages/message.entity.js';
import { UserEntity } from '../users/user.entity.js';

export const FEEDBACK_RATINGS = ['up', 'down'] as const;
export type FeedbackRating = (typeof FEEDBACK_RATINGS)[number];

/**
 * One person's rating of one agent reply. Participants see only the reply's counts
 * (messages.feedback_up/down); the comment is for its author and admins.
 */
@Entity('message_feedback')
@Index('message_feedback_user_id_idx', ['userId', 'conversationId'])
// Analytics and the admin listing read feedback by time; the rating makes that an index-only scan.
@Index('message_feedback_updated_at_idx', ['updatedAt', 'rating'])
@Check('message_feedback_rating_check', `"rating" IN ('up', 'down')`)
export class MessageFeedbackEntity {
  @PrimaryColumn({ name: 'message_id', type: 'uuid', primaryKeyConstraintName: 'message_feedback_pkey' })
  messageId!: string;

  @ManyToOne(() => MessageEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'message_id', foreignKeyConstraintName: 'message_feedback_message_id_fkey' })
  message?: Relation<MessageEntity>;

  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'message_feedback_pkey' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'message_feedback_user_id_fkey' })
  user?: Relation<UserEntity>;

  @Column({ name: 'conversation_id', type: 'uuid' })
  conversationId!: string;

  @ManyToOne(() => ConversationEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'conversation_id', foreignKeyConstraintName: 'message_feedback_conversation_id_fkey' })
  conversation?: Relation<ConversationEntity>;

  @Column({ type: 'varchar', length: 8 })
  rating!: FeedbackRating;

  @Column({ type: 'text', nullable: true })
  comment!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** When the rating or comment last changed. */
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
