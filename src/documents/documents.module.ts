import { Module } from '@nestjs/common';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { DocumentStorage, PostgresDocumentStorage } from './document-storage.js';
import { DocumentsController } from './documents.controller.js';
import { DocumentsRepository } from './documents.repository.js';
import { DocumentsService } from './documents.service.js';

@Module({
  imports: [ConversationsModule],
  controllers: [DocumentsController],
  providers: [DocumentsRepository, DocumentsService, { provide: DocumentStorage, useClass: PostgresDocumentStorage }],
  exports: [DocumentsService],
})
export class DocumentsModule {}
