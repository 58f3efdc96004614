import { Module } from '@nestjs/common';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { UsersModule } from '../users/users.module.js';
import { DocumentChunksRepository } from './document-chunks.repository.js';
import { DocumentProcessor } from './document-processor.service.js';
import { DocumentSearchService } from './document-search.service.js';
import { DocumentStorage, PostgresDocumentStorage } from './document-storage.js';
import { DocumentsController } from './documents.controller.js';
import { DocumentsLifecycle } from './documents.lifecycle.js';
import { DocumentsRepository } from './documents.repository.js';
import { DocumentsService } from './documents.service.js';
import { EmbeddingClient } from './embeddings/embedding-client.js';
import { EmbeddingWorker } from './embeddings/embedding-worker.service.js';
import { EmbeddingsRepository } from './embeddings/embeddings.repository.js';

@Module({
  imports: [ConversationsModule, UsersModule],
  controllers: [DocumentsController],
  providers: [
    DocumentsRepository,
    DocumentChunksRepository,
    DocumentsService,
    DocumentProcessor,
    DocumentSearchService,
    DocumentsLifecycle,
    EmbeddingClient,
    EmbeddingsRepository,
    EmbeddingWorker,
    { provide: DocumentStorage, useClass: PostgresDocumentStorage },
  ],
  exports: [DocumentsService, DocumentSearchService],
})
export class DocumentsModule {}
