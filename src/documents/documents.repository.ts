import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { DocumentEntity } from './document.entity.js';

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
}
