import { Module } from '@nestjs/common';
import { AgentModule } from '../agent/agent.module.js';
import { ApprovalsModule } from '../approvals/approvals.module.js';
import { ChatModule } from '../chat/chat.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { AiSdkController } from './ai-sdk.controller.js';
import { AiSdkService } from './ai-sdk.service.js';
import { ApprovalAnswers } from './approval-answers.js';
import { PausedReplies } from './paused-replies.js';

/** The Vercel AI SDK's `useChat` endpoints (UI message stream protocol) over the chat service. */
@Module({
  imports: [AgentModule, ApprovalsModule, ChatModule, ConversationsModule, MessagesModule],
  controllers: [AiSdkController],
  providers: [AiSdkService, ApprovalAnswers, PausedReplies],
})
export class AiSdkModule {}
