import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AgentModule } from './agent/agent.module.js';
import { AiSdkModule } from './ai-sdk/ai-sdk.module.js';
import { AnalyticsModule } from './analytics/analytics.module.js';
import { ApprovalsModule } from './approvals/approvals.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { ChatModule } from './chat/chat.module.js';
import { ConversationsModule } from './conversations/conversations.module.js';
import { MessagesModule } from './messages/messages.module.js';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter.js';
import { createValidationPipe } from './common/pipes/validation.pipe.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { DocumentsModule } from './documents/documents.module.js';
import { ExportModule } from './export/export.module.js';
import { FeedbackModule } from './feedback/feedback.module.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RealtimeModule } from './realtime/realtime.module.js';
import { StatsModule } from './stats/stats.module.js';

@Module({})
export class AppModule {
  /** The configuration is parsed before the module graph is built, so bad settings fail first. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule, MetricsModule, RealtimeModule, HealthModule, AuditModule, AuthModule, ConversationsModule, MessagesModule, AgentModule, ApprovalsModule, ChatModule, AiSdkModule, ExportModule, DocumentsModule, StatsModule, FeedbackModule, AnalyticsModule, GatewayModule],
      providers: [
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
