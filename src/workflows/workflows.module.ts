import { Module } from '@nestjs/common';
import { WorkflowTools } from './workflow-tools.service.js';

/** The webhooks of WORKFLOWS_CONFIG, which the agent may call as tools. */
@Module({
  providers: [WorkflowTools],
  exports: [WorkflowTools],
})
export class WorkflowsModule {}
