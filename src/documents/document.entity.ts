import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn, type Relation, Unique } from 'typeorm';
import { ConversationEntity } from '../conversations/conversation.entity.js';
import { UserEntity } from '../users/user.entity.js';
import { SEARCH_CONFIG } from '../messages/message.entity.js';

export const DOCUMENT_STATUSES = ['processing', 'ready', 'failed'] as const;
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];

/** An uploaded file: the owner's private library (no conversation) or one conversation's. */
@Entity('documents')
@Index('documents_conversation_id_created_at_idx', ['conversationId', 'createdAt', 'id'])
@Index('documents_owner_id_created_at_idx', ['ownerId', 'createdAt', 'id'])
@Index('documents_processing_idx', ['createdAt'], { where: `"status" = 'processing'` })
@Check('documents_status_check', `"status" IN ('processing', 'ready', 'failed')`)
export class DocumentEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'documents_pkey' })
  id!: string;

  @Column({ name: 'owner_id', type: 'uuid' })
  ownerId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'owner_id', foreignKeyConstraintName: 'documents_owner_id_fkey' })
  owner?: Relation<UserEntity>;

  @Column({ name: 'conversation_id', type: 'uuid', nullable: true })
  conversationId!: string | null;

  @ManyToOne(() => ConversationEntity, { onDelete: 'CASCADE', nullable: true })
  @JoinColumn({ name: 'conversation_id', foreignKeyConstraintName: 'documents_conversation_id_fkey' })
  conversation?: Relation<ConversationEntity>;

  @Column({ type: 'varchar', length: 255 })
  filename!: string;

  /** Sniffed from the bytes, never taken from the client. */
  @Column({ name: 'media_type', type: 'varchar', length: 128 })
  mediaType!: string;

  @Column({ type: 'integer' })
  bytes!: number;

  @Column({ type: 'varchar', length: 16, default: 'processing' })
  status!: DocumentStatus;

  @Column({ type: 'integer', default: 0 })
  chunks!: number;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /** While processing: until when the instance that claimed it holds it (internal, never sent). */
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;

  /** Set by the application, to the millisecond: page cursors carry it as an ISO string. */
  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}

/** The original bytes of a document, in parts of at most DOCUMENT_PART_BYTES. */
@Entity('document_contents')
export class DocumentContentEntity {
  @PrimaryColumn({ name: 'document_id', type: 'uuid', primaryKeyConstraintName: 'document_contents_pkey' })
  documentId!: string;

  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'document_contents_pkey' })
  part!: number;

  @ManyToOne(() => DocumentEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'document_id', foreignKeyConstraintName: 'document_contents_document_id_fkey' })
  document?: Relation<DocumentEntity>;

  @Column({ type: 'bytea' })
  data!: Buffer;
}

/** A passage of a document's text, in order, with where it came from; what retrieval returns. */
@Entity('document_chunks')
@Unique('document_chunks_document_id_seq_key', ['documentId', 'seq'])
// A GIN index, which the decorator cannot express: created by the migration.
@Index('document_chunks_search_vector_idx', { synchronize: false })
export class DocumentChunkEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'document_chunks_pkey' })
  id!: string;

  @Column({ name: 'document_id', type: 'uuid' })
  documentId!: string;

  @ManyToOne(() => DocumentEntity, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'document_id', foreignKeyConstraintName: 'document_chunks_document_id_fkey' })
  document?: Relation<DocumentEntity>;

  /** 0-based position in the document. */
  @Column({ type: 'integer' })
  seq!: number;

  @Column({ type: 'text' })
  content!: string;

  /** 1-based page of the chunk's start, for formats that have pages (PDF). */
  @Column({ type: 'integer', nullable: true })
  page!: number | null;

  /** The nearest heading above the chunk's start. */
  @Column({ type: 'varchar', length: 500, nullable: true })
  heading!: string | null;

  @Column({ type: 'integer' })
  tokens!: number;

  @Column({
    name: 'search_vector',
    type: 'tsvector',
    nullable: true,
    select: false,
    insert: false,
    update: false,
    generatedType: 'STORED',
    asExpression: `to_tsvector('${SEARCH_CONFIG}', coalesce("heading", '') || ' ' || "content")`,
  })
  searchVector?: string;
}
