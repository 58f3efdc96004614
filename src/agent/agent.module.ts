import { Module } from '@nestjs/common';
import { ApprovalsModule } from '../approvals/approvals.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { ConversationsModule } from '../conversations/conversations.module.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { EXTERNAL_TOOL_SOURCES, type ExternalToolSource } from '../common/tools/external-tool.js';
import { McpClients } from '../mcp/mcp-clients.service.js';
import { McpModule } from '../mcp/mcp.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { UsersModule } from '../users/users.module.js';
import { WorkflowTools } from '../workflows/workflow-tools.service.js';
import { WorkflowsModule } from '../workflows/workflows.module.js';
import { AgentCore } from './agent-core.service.js';
import { AgentToolsController } from './agent-tools.controller.js';
import { AgentToolsService } from './agent-tools.service.js';
import { AttachmentContext } from './attachment-context.js';
import { ContextService } from './context.service.js';
import { ModelFactory } from './providers/model.factory.js';
import { RunCancellations } from './run-cancellations.service.js';
import { RunMetrics } from './run-metrics.js';
import { RunPauses } from './run-pauses.service.js';
import { RunScheduler } from './run-scheduler.service.js';
import { RunSnapshots } from './run-snapshots.service.js';
import { RunsErasure } from './runs.erasure.js';
import { RunsRepository } from './runs.repository.js';
import { ToolCallEnds } from './tool-call-ends.js';
import { ToolRegistry } from './tools/tool-registry.js';

/** AgentCore and its parts: context, providers, tools, runs and their scheduling. */
@Module({
  imports: [ApprovalsModule, AuditModule, MessagesModule, ConversationsModule, DocumentsModule, UsersModule, McpModule, WorkflowsModule],
  controllers: [AgentToolsController],
  providers: [
    // Every source of external tools the agent may call, in the order their tools are listed.
    { provide: EXTERNAL_TOOL_SOURCES, useFactory: (...sources: ExternalToolSource[]) => sources, inject: [McpClients, WorkflowTools] },
    AgentCore,
    AgentToolsService,
    AttachmentContext,
    ContextService,
    ModelFactory,
    RunCancellations,
    RunMetrics,
    RunPauses,
    RunScheduler,
    RunSnapshots,
    RunsRepository,
    RunsErasure,
    ToolCallEnds,
    ToolRegistry,
  ],
  exports: [ModelFactory, RunPauses, RunScheduler, RunSnapshots, RunsRepository],
})
export class AgentModule {}
