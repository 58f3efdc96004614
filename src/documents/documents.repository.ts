import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { Chunk } from './chunker.js';
import { DocumentChunkEntity, DocumentEntity } from './document.entity.js';

/** Chunks inserted per statement: a few hundred kilobytes of text each. */
const CHUNK_INSERT_BATCH = 200;

export interface DocumentScope {
  /** A conversation's documents, or (null) the owner's private library. */
  conversationId: string | null;
  ownerId: string;
}

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
   * its lease ran out: its instance stopped), for `leaseMs`. SKIP LOCKED lets instances claiming
   * at once take different documents; each is processed by one at a time.
   */
  async claimNext(leaseMs: number): Promise<string | undefined> {
    const rows: { id: string }[] = await this.dataSource.query(
      `WITH "claimed" AS (
         UPDATE "documents" SET "lease_expires_at" = now() + $1::integer * interval '1 millisecond'
         WHERE "id" = (
           SELECT "id" FROM "documents"
           WHERE "status" = 'processing' AND ("lease_expires_at" IS NULL OR "lease_expires_at" < now())
           ORDER BY "created_at", "id" LIMIT 1
           FOR UPDATE SKIP LOCKED)
         RETURNING "id")
       SELECT "id" FROM "claimed"`,
      [leaseMs],
    );
    return rows[0]?.id;
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
   * The chunks and the `ready` status in one transaction, only while the document is still being
   * processed (it may have been deleted meanwhile, and is then left deleted). `notice` is kept in
   * `error` for a document that is ready all the same (its text was cut). Returns whether it was.
   */
  async completeProcessing(id: string, chunks: Chunk[], notice: string | null = null): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const result = await manager
        .getRepository(DocumentEntity)
        .update({ id, status: 'processing' }, { status: 'ready', chunks: chunks.length, error: notice, leaseExpiresAt: null });
      if (!result.affected) return false;
      const rows = chunks.map((chunk, seq) => ({ documentId: id, seq, ...chunk }));
      for (let start = 0; start < rows.length; start += CHUNK_INSERT_BATCH) {
        await manager.getRepository(DocumentChunkEntity).insert(rows.slice(start, start + CHUNK_INSERT_BATCH));
      }
      return true;
    });
  }

  async failProcessing(id: string, error: string): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(DocumentEntity)
      .update({ id, status: 'processing' }, { status: 'failed', chunks: 0, error, leaseExpiresAt: null });
    return !!result.affected;
  }
}
