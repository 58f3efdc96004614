import { Module } from '@nestjs/common';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { UsersModule } from '../users/users.module.js';
import { HistoryPages } from './history-pages.js';
import { MessagesController } from './messages.controller.js';
import { MessagesErasure } from './messages.erasure.js';
import { MessagesRepository } from './messages.repository.js';
import { MessagesService } from './messages.service.js';

@Module({
  imports: [ConversationsModule, UsersModule],
  controllers: [MessagesController],
  providers: [MessagesRepository, MessagesService, MessagesErasure, HistoryPages],
  exports: [MessagesService, MessagesRepository],
})
export class MessagesModule {}
