import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, In } from 'typeorm';
import type { Chunk } from './chunker.js';
import { DocumentChunkEntity, DocumentEntity } from './document.entity.js';

/** Chunks inserted per statement: a few hundred kilobytes of text each. */
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
   * The chunks and the `ready` status in one transaction, only while the document is still being
   * processed (it may have been deleted meanwhile). Returns whether it was.
   */
  async completeProcessing(id: string, chunks: Chunk[]): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const result = await manager.getRepository(DocumentEntity).update({ id, status: 'processing' }, { status: 'ready', chunks: chunks.length, error: null });
      if (!result.affected) return false;
      const rows = chunks.map((chunk, seq) => ({ documentId: id, seq, ...chunk }));
      for (let start = 0; start < rows.length; start += CHUNK_INSERT_BATCH) {
        await manager.getRepository(DocumentChunkEntity).insert(rows.slice(start, start + CHUNK_INSERT_BATCH));
      }
      return true;
    });
  }

  async failProcessing(id: string, error: string): Promise<boolean> {
    const result = await this.dataSource.getRepository(DocumentEntity).update({ id, status: 'processing' }, { status: 'failed', chunks: 0, error });
    return !!result.affected;
  }
}
