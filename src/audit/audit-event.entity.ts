import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { UserEntity } from '../users/user.entity.js';
import type { AuditAction, AuditTargetType } from './audit-actions.js';

/** JSON-safe details of an event: ids, roles, reasons. Never a password, token or key. */
export type AuditDetails = Record<string, string | number | boolean | null>;

/**
 * One thing someone did that an administrator may have to account for later. Rows are inserted,
 * never deleted: an account's erasure keeps its events (action, ids, roles, reasons, time and
 * request id; nothing the user wrote) under the account's id, which names no one once erased, and
 * blanks only their client address (`ip`).
 */
@Entity('audit_events')
// Read newest first, in pages: (at, id) is the keyset; B-tree indexes scan backwards as well.
@Index('audit_events_at_id_idx', ['at', 'id'])
@Index('audit_events_actor_id_at_id_idx', ['actorId', 'at', 'id'])
@Index('audit_events_action_at_id_idx', ['action', 'at', 'id'])
export class AuditEventEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'audit_events_pkey' })
  id!: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at!: Date;

  /** Who did it; null for an anonymous attempt (a failed sign-in) or once the account row is gone. */
  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'actor_id', foreignKeyConstraintName: 'audit_events_actor_id_fkey' })
  actor?: Relation<UserEntity>;

  @Column({ type: 'varchar', length: 64 })
  action!: AuditAction;

  @Column({ name: 'target_type', type: 'varchar', length: 32, nullable: true })
  targetType!: AuditTargetType | null;

  @Column({ name: 'target_id', type: 'uuid', nullable: true })
  targetId!: string | null;

  @Column({ name: 'conversation_id', type: 'uuid', nullable: true })
  conversationId!: string | null;

  /** The client address; blanked when the account that acted is erased. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  ip!: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: AuditDetails;
}
