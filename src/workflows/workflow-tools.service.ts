import { Injectable, Logger } from '@nestjs/common';
import type { ExternalCall, ExternalTool, ExternalToolSource } from '../common/tools/external-tool.js';
import { AppConfig } from '../config/app-config.js';
import { type WorkflowSettings, workflowToolName } from '../config/workflows.config.js';
import { deliver, type RetrySettings } from './workflow-delivery.js';
import type { WorkflowOutput } from './workflow-response.js';

/** The workflows of WORKFLOWS_CONFIG as tools `workflow__<name>`: each call is a signed webhook delivery. */
@Injectable()
export class WorkflowTools implements ExternalToolSource {
  private readonly logger = new Logger(WorkflowTools.name);
  private readonly list: readonly ExternalTool[];

  constructor(config: AppConfig) {
    const { workflows, maxRetries, retryBaseMs } = config.workflows;
    this.list = workflows.map((workflow) => this.external(workflow, { maxRetries, retryBaseMs }));
  }

  /** Always every configured workflow: a receiver that is down fails its calls, not the listing. */
  tools(): ExternalTool[] {
    return [...this.list];
  }

  private external(workflow: WorkflowSettings, retries: RetrySettings): ExternalTool {
    const name = workflowToolName(workflow.name);
    return {
      name,
      description: workflow.description,
      inputSchema: workflow.inputSchema.jsonSchema,
      approval: workflow.approval,
      origin: { kind: 'workflow', name: workflow.name },
      check: (input) => workflow.inputSchema.check(name, input),
      call: (input, call) => this.call(workflow, input, call, retries),
    };
  }

  private async call(workflow: WorkflowSettings, input: unknown, call: ExternalCall, retries: RetrySettings): Promise<WorkflowOutput> {
    try {
      return await deliver(workflow, { input, ...call }, retries);
    } catch (error) {
      this.logger.warn(`Workflow ${workflow.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
  }
}
