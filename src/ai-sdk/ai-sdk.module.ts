import { Module } from '@nestjs/common';
import { ChatModule } from '../chat/chat.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { AiSdkController } from './ai-sdk.controller.js';
import { AiSdkService } from './ai-sdk.service.js';

/** The Vercel AI SDK's `useChat` endpoints (UI message stream protocol) over the chat service. */
@Module({
  imports: [ChatModule, ConversationsModule, MessagesModule],
  controllers: [AiSdkController],
  providers: [AiSdkService],
})
export class AiSdkModule {}
