import { Module } from '@nestjs/common';
import { ApprovalsModule } from '../approvals/approvals.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { ChatModule } from '../chat/chat.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { ChatGateway } from './chat.gateway.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { JoinRecovery } from './join-recovery.js';
import { WsMetricsInterceptor } from './ws-metrics.interceptor.js';

@Module({
  imports: [ApprovalsModule, AuthModule, MessagesModule, ConversationsModule, ChatModule],
  providers: [ChatGateway, GatewayMetrics, JoinRecovery, WsMetricsInterceptor],
})
export class GatewayModule {}
