import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In } from 'typeorm';
import { rowsOf } from '../database/query-rows.js';
import type { ParticipantRole } from '../conversations/participant.entity.js';
import type { Chunk } from './chunker.js';
import { DocumentChunkEntity, DocumentEntity } from './document.entity.js';

/** Taken by every claim of a document to process, so that claims on all instances take turns. */
const CLAIM_LOCK_KEY = 727_003;
/** Chunks inserted per statement and transaction: a few hundred kilobytes of text each. */
const CHUNK_INSERT_BATCH = 200;

export interface DocumentScope {
  /** A conversation's documents, or (null) the owner's private library. */
  conversationId: string | null;
  ownerId: string;
}

/** The start of a document's text, for a reader with a token budget. */
export interface LeadingChunks {
  chunks: Pick<DocumentChunkEntity, 'seq' | 'content' | 'page' | 'heading' | 'tokens'>[];
  totalChunks: number;
  /** Every chunk's tokens, counted once per chunk (the overlap between chunks twice). */
  totalTokens: number;
}

export interface DocumentUsage {
  bytes: number;
  documents: number;
}

/** A document listed in its owner's export, with whether its owner can still read it. */
export interface OwnedDocument {
  document: DocumentEntity;
  readable: boolean;
}

/**
 * Documents of a user that are theirs to delete: private ones, and their uploads to live
 * conversations they still take part in (`$1`: the user).
 */
/**
 * What counts against a user's quota: everything they uploaded that still exists (`$1`: the user),
 * also in conversations they have left — else uploading and leaving would store without limit.
 */
const UPLOADED_BY = `d.owner_id = $1 AND (d.conversation_id IS NULL OR EXISTS (
  SELECT 1 FROM conversations c WHERE c.id = d.conversation_id AND c.deleted_at IS NULL))`;

const DELETABLE_BY_OWNER = `d.owner_id = $1 AND (d.conversation_id IS NULL OR EXISTS (
  SELECT 1 FROM conversation_participants p JOIN conversations c ON c.id = p.conversation_id AND c.deleted_at IS NULL
  WHERE p.conversation_id = d.conversation_id AND p.user_id = $1))`;

export interface DocumentPageOptions {
  limit: number;
  after?: { createdAt: string; id: string };
}

@Injectable()
export class DocumentsRepository {
  constructor(private readonly dataSource: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async insert(document: Pick<DocumentEntity, 'ownerId' | 'conversationId' | 'filename' | 'mediaType' | 'bytes'>, manager: EntityManager): Promise<DocumentEntity> {
    const repository = manager.getRepository(DocumentEntity);
    return repository.save(repository.create({ ...document, createdAt: new Date() }));
  }

  save(document: DocumentEntity, manager: EntityManager): Promise<DocumentEntity> {
    return manager.getRepository(DocumentEntity).save(document);
  }

  findById(id: string): Promise<DocumentEntity | null> {
    return this.dataSource.getRepository(DocumentEntity).findOneBy({ id });
  }

  /** Those of `ids` that are documents of the conversation (any order). */
  findInConversation(conversationId: string, ids: string[]): Promise<DocumentEntity[]> {
    if (!ids.length) return Promise.resolve([]);
    return this.dataSource.getRepository(DocumentEntity).findBy({ conversationId, id: In(ids) });
  }

  /**
   * A document's first chunks, in order, as long as the tokens before each are under `maxTokens`
   * (so the last one may pass it), with how many chunks and tokens the whole document has.
   */
  async leadingChunks(documentId: string, maxTokens: number): Promise<LeadingChunks> {
    const rows: (Pick<DocumentChunkEntity, 'seq' | 'content' | 'page' | 'heading' | 'tokens'> & { total_chunks: number; total_tokens: string })[] =
      await this.dataSource.query(
        `SELECT seq, content, page, heading, tokens, total_chunks, total_tokens FROM (
           SELECT seq, content, page, heading, tokens,
                  sum(tokens) OVER (ORDER BY seq) - tokens AS before,
                  count(*) OVER ()::int AS total_chunks, sum(tokens) OVER () AS total_tokens
           FROM document_chunks WHERE document_id = $1
         ) c WHERE before < $2 ORDER BY seq`,
        [documentId, maxTokens],
      );
    return {
      chunks: rows.map(({ seq, content, page, heading, tokens }) => ({ seq, content, page, heading, tokens })),
      totalChunks: rows[0]?.total_chunks ?? 0,
      totalTokens: Number(rows[0]?.total_tokens ?? 0),
    };
  }

  async delete(id: string, manager: EntityManager): Promise<void> {
    await manager.getRepository(DocumentEntity).delete({ id });
  }

  /** Newest first, by keyset (never OFFSET). */
  list(scope: DocumentScope, options: DocumentPageOptions): Promise<DocumentEntity[]> {
    const query = this.dataSource.getRepository(DocumentEntity).createQueryBuilder('d');
    if (scope.conversationId) query.where('d.conversation_id = :conversationId', { conversationId: scope.conversationId });
    else query.where('d.owner_id = :ownerId AND d.conversation_id IS NULL', { ownerId: scope.ownerId });
    if (options.after) {
      query.andWhere('(d.created_at, d.id) < (:createdAt, :id)', { createdAt: options.after.createdAt, id: options.after.id });
    }
    return query.orderBy('d.created_at', 'DESC').addOrderBy('d.id', 'DESC').limit(options.limit).getMany();
  }

  /**
   * Claims the oldest document waiting to be processed that no instance holds (never claimed, or
   * its lease ran out: its instance stopped), for `leaseMs`, among those of owners who have none
   * being processed: one user's documents take one slot at a time across instances, so a user who
   * uploads many does not hold up everyone else. Claims take turns (a transaction-scoped advisory
   * lock), so each sees the leases the others took; SKIP LOCKED passes over a document being deleted.
   */
  async claimNext(leaseMs: number): Promise<string | undefined> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [CLAIM_LOCK_KEY]);
      const rows = rowsOf<{ id: string }>(
        await manager.query(
          `WITH "claimed" AS (
             UPDATE "documents" SET "lease_expires_at" = now() + $1::integer * interval '1 millisecond'
             WHERE "id" = (
               SELECT d."id" FROM "documents" d
               WHERE d."status" = 'processing' AND (d."lease_expires_at" IS NULL OR d."lease_expires_at" < now())
                 AND NOT EXISTS (
                   SELECT 1 FROM "documents" busy
                   WHERE busy."owner_id" = d."owner_id" AND busy."status" = 'processing' AND busy."lease_expires_at" >= now())
               ORDER BY d."created_at", d."id" LIMIT 1
               FOR UPDATE SKIP LOCKED)
             RETURNING "id")
           SELECT "id" FROM "claimed"`,
          [leaseMs],
        ),
      );
      return rows[0]?.id;
    });
  }

  /** Extends the lease of a document this instance is still processing. */
  async renewLease(id: string, leaseMs: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE "documents" SET "lease_expires_at" = now() + $2::integer * interval '1 millisecond' WHERE "id" = $1 AND "status" = 'processing'`,
      [id, leaseMs],
    );
  }

  /** Gives a document back unprocessed (the instance is stopping): the next instance takes it at once. */
  async releaseLease(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE "documents" SET "lease_expires_at" = NULL WHERE "id" = $1 AND "status" = 'processing'`, [id]);
  }

  /**
   * Stores the chunks in short batches while the document is still `processing` (search reads only
   * ready documents), so that others' queries take turns with them, then makes it `ready` in one
   * short transaction that checks they are all there: a document is never ready with half its
   * chunks. Chunks left by an attempt that stopped halfway go first. A document deleted meanwhile
   * stays deleted (what was stored of it goes by cascade). `notice` is kept in `error` for a
   * document that is ready all the same (its text was cut). Returns whether it was made ready.
   */
  async completeProcessing(id: string, chunks: Chunk[], notice: string | null = null): Promise<boolean> {
    await this.dataSource.query(
      `DELETE FROM "document_chunks" c USING "documents" d WHERE c."document_id" = $1 AND d."id" = c."document_id" AND d."status" = 'processing'`,
      [id],
    );
    for (let start = 0; start < chunks.length; start += CHUNK_INSERT_BATCH) {
      if (!(await this.insertChunks(id, start, chunks.slice(start, start + CHUNK_INSERT_BATCH)))) return false;
    }
    return this.dataSource.transaction(async (manager) => {
      const result = await manager
        .getRepository(DocumentEntity)
        .update({ id, status: 'processing' }, { status: 'ready', chunks: chunks.length, error: notice, leaseExpiresAt: null });
      if (!result.affected) return false;
      const [stored] = rowsOf<{ count: number }>(await manager.query(`SELECT count(*)::int AS "count" FROM "document_chunks" WHERE "document_id" = $1`, [id]));
      // Only another attempt at the same document (one whose lease ran out) could have changed them.
      if (stored?.count !== chunks.length) throw new Error(`Document ${id} has ${stored?.count} chunks stored instead of ${chunks.length}`);
      return true;
    });
  }

  /** One batch, while the document is still being processed (its row locked against deletion meanwhile); false if it is not. */
  private insertChunks(id: string, first: number, chunks: Chunk[]): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const live = rowsOf<unknown>(await manager.query(`SELECT 1 FROM "documents" WHERE "id" = $1 AND "status" = 'processing' FOR KEY SHARE`, [id]));
      if (!live.length) return false;
      await manager.getRepository(DocumentChunkEntity).insert(chunks.map((chunk, offset) => ({ documentId: id, seq: first + offset, ...chunk })));
      return true;
    });
  }

  /** Failed, without whatever chunks an attempt stored before it failed. */
  async failProcessing(id: string, error: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const result = await manager
        .getRepository(DocumentEntity)
        .update({ id, status: 'processing' }, { status: 'failed', chunks: 0, error, leaseExpiresAt: null });
      if (result.affected) await manager.query(`DELETE FROM "document_chunks" WHERE "document_id" = $1`, [id]);
      return !!result.affected;
    });
  }

  /**
   * What counts against the quotas, without the document `except` (the upload being checked):
   * the user's (see UPLOADED_BY) and, with a conversation, everything it holds.
   */
  async usage(userId: string, conversationId: string | null, except: string | null, manager?: EntityManager): Promise<{ user: DocumentUsage; conversation: DocumentUsage }> {
    const total = `json_build_object('bytes', coalesce(sum(d.bytes), 0), 'documents', count(*))`;
    const [row] = rowsOf<{ user: DocumentUsage; conversation: DocumentUsage }>(
      await (manager ?? this.dataSource).query(
        `SELECT (SELECT ${total} FROM documents d WHERE ${UPLOADED_BY} AND d.id IS DISTINCT FROM $3::uuid) AS "user",
                (SELECT ${total} FROM documents d WHERE d.conversation_id = $2::uuid AND d.id IS DISTINCT FROM $3::uuid) AS "conversation"`,
        [userId, conversationId, except],
      ),
    );
    return { user: toUsage(row!.user), conversation: toUsage(row!.conversation) };
  }

  /**
   * Locks the conversation row until the transaction ends (uploads to it, its deletion and changes
   * of its participants then take turns), and reads the uploader's role after the lock, so a
   * change that committed while waiting is seen. Undefined if it is deleted or they left it.
   */
  async lockConversationForUpload(conversationId: string, userId: string, manager: EntityManager): Promise<ParticipantRole | undefined> {
    const live = rowsOf<unknown>(await manager.query(`SELECT 1 FROM conversations WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE`, [conversationId]));
    if (!live.length) return undefined;
    const [participant] = rowsOf<{ role: ParticipantRole }>(
      await manager.query(`SELECT role FROM conversation_participants WHERE conversation_id = $1 AND user_id = $2`, [conversationId, userId]),
    );
    return participant?.role;
  }

  /**
   * Locks the uploader's row until the transaction ends, so that their uploads check the quota one
   * at a time. NO KEY UPDATE: it does not wait for the key-share locks that inserting documents
   * takes on the row. False if the account has been deleted.
   */
  async lockUploader(userId: string, manager: EntityManager): Promise<boolean> {
    const rows = rowsOf<unknown>(await manager.query(`SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE`, [userId]));
    return rows.length > 0;
  }

  /** The bytes and the chunks (and whatever hangs on chunks) go by cascade. */
  async deleteOfConversation(conversationId: string, manager: EntityManager): Promise<void> {
    await manager.query(`DELETE FROM documents WHERE conversation_id = $1`, [conversationId]);
  }

  /** Every document the user uploaded, wherever it is; the bytes and chunks go by cascade. */
  async deleteOwnedBy(ownerId: string, manager: EntityManager): Promise<void> {
    await manager.query(`DELETE FROM documents WHERE owner_id = $1`, [ownerId]);
  }

  /** Documents left in deleted conversations or by erased accounts (by versions that kept them); how many went. */
  async deleteOrphaned(): Promise<number> {
    const rows = rowsOf<unknown>(
      await this.dataSource.query(
        `DELETE FROM documents d
         WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.id = d.conversation_id AND c.deleted_at IS NOT NULL)
            OR EXISTS (SELECT 1 FROM users u WHERE u.id = d.owner_id AND u.deleted_at IS NOT NULL)
         RETURNING 1`,
      ),
    );
    return rows.length;
  }

  /** Everything the user uploaded that still exists, oldest first, page by page (keyset). */
  async *streamOwnedBy(ownerId: string, pageSize = 500): AsyncGenerator<OwnedDocument[]> {
    let after: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const query = this.dataSource
        .getRepository(DocumentEntity)
        .createQueryBuilder('d')
        .addSelect(`(${DELETABLE_BY_OWNER.replaceAll('$1', ':ownerId')})`, 'readable')
        .where('d.owner_id = :ownerId', { ownerId })
        .orderBy('d.created_at', 'ASC')
        .addOrderBy('d.id', 'ASC')
        .limit(pageSize);
      if (after) query.andWhere('(d.created_at, d.id) > (:createdAt, :id)', after);
      const { entities, raw } = await query.getRawAndEntities<{ readable: boolean }>();
      if (entities.length) yield entities.map((document, index) => ({ document, readable: raw[index]!.readable }));
      if (entities.length < pageSize) return;
      const last = entities.at(-1)!;
      after = { createdAt: last.createdAt, id: last.id };
    }
  }
}

function toUsage(usage: DocumentUsage): DocumentUsage {
  return { bytes: Number(usage.bytes), documents: Number(usage.documents) };
}
