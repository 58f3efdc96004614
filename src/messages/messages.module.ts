import { Module } from '@nestjs/common';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { UsersModule } from '../users/users.module.js';
import { ExportController } from './export.controller.js';
import { ExportService } from './export.service.js';
import { MessagesController } from './messages.controller.js';
import { MessagesErasure } from './messages.erasure.js';
import { MessagesRepository } from './messages.repository.js';
import { MessagesService } from './messages.service.js';
import { StatsController } from './stats.controller.js';
import { StatsRepository } from './stats.repository.js';

@Module({
  imports: [ConversationsModule, UsersModule],
  controllers: [MessagesController, StatsController, ExportController],
  providers: [MessagesRepository, MessagesService, StatsRepository, ExportService, MessagesErasure],
  exports: [MessagesService, MessagesRepository],
})
export class MessagesModule {}
