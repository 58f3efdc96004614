import { Module } from '@nestjs/common';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { UsersModule } from '../users/users.module.js';
import { AdminFeedbackController } from './admin-feedback.controller.js';
import { FeedbackController } from './feedback.controller.js';
import { FeedbackErasure } from './feedback.erasure.js';
import { FeedbackRepository } from './feedback.repository.js';
import { FeedbackService } from './feedback.service.js';

/** 👍/👎 on agent replies: participants rate, admins read the comments. */
@Module({
  imports: [ConversationsModule, MessagesModule, UsersModule],
  controllers: [FeedbackController, AdminFeedbackController],
  providers: [FeedbackRepository, FeedbackService, FeedbackErasure],
})
export class FeedbackModule {}
