import { Module } from '@nestjs/common';
import { AgentModule } from '../agent/agent.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { ChatController } from './chat.controller.js';
import { ChatService } from './chat.service.js';
import { EventStreams } from './event-streams.service.js';

/**
 * Talking in a conversation: a message is stored and, when the agent mode calls for it, a run is
 * queued; the conversation's events reach clients over SSE (here) and Socket.IO (the gateway).
 */
@Module({
  imports: [AgentModule, ConversationsModule, DocumentsModule, MessagesModule],
  controllers: [ChatController],
  providers: [ChatService, EventStreams],
  exports: [ChatService, EventStreams],
})
export class ChatModule {}
