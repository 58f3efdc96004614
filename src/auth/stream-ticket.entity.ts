import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { SessionEntity } from './session.entity.js';

/**
 * A one-time credential for an EventSource, which cannot send an Authorization header. Only the
 * SHA-256 of the value is stored; using it deletes the row, and it is bound to the session (and
 * the access-token lifetime) of the request that asked for it.
 */
@Entity('stream_tickets')
@Index('stream_tickets_expires_at_idx', ['expiresAt'])
export class StreamTicketEntity {
  @PrimaryColumn({ name: 'token_hash', type: 'varchar', length: 64, primaryKeyConstraintName: 'stream_tickets_pkey' })
  tokenHash!: string;

  @Column({ name: 'session_id', type: 'uuid' })
  sessionId!: string;

  @ManyToOne(() => SessionEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'session_id', foreignKeyConstraintName: 'stream_tickets_session_id_fkey' })
  session?: Relation<SessionEntity>;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  /** The end of the ticket's one chance to be used. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  /** When the access token that asked for it expires: the stream it opens ends then. */
  @Column({ name: 'access_expires_at', type: 'timestamptz' })
  accessExpiresAt!: Date;
}
