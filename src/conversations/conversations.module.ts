import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { UsersModule } from '../users/users.module.js';
import { ConversationCache } from './conversation-cache.js';
import { ConversationDeletion } from './conversation-deletion.js';
import { ConversationsErasure } from './conversations.erasure.js';
import { ConversationsController } from './conversations.controller.js';
import { ConversationsRepository } from './conversations.repository.js';
import { ConversationsService } from './conversations.service.js';

@Module({
  imports: [UsersModule, AuditModule],
  controllers: [ConversationsController],
  providers: [ConversationsRepository, ConversationsService, ConversationCache, ConversationsErasure, ConversationDeletion],
  exports: [ConversationsService, ConversationsRepository, ConversationDeletion],
})
export class ConversationsModule {}
