import { Module } from '@nestjs/common';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { UsersModule } from '../users/users.module.js';
import { ExportController } from './export.controller.js';
import { ExportService } from './export.service.js';

/** Data portability: a conversation, or everything a user owns, as a streamed download. */
@Module({
  imports: [ConversationsModule, DocumentsModule, MessagesModule, UsersModule],
  controllers: [ExportController],
  providers: [ExportService],
})
export class ExportModule {}
