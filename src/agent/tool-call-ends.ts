import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { ToolOrigin } from '../common/tools/external-tool.js';
import type { RunEntity } from './run.entity.js';
import { RunsRepository } from './runs.repository.js';

/** A tool call that ended, as recorded. */
export interface EndedCall {
  invocationId: string;
  toolCallId: string;
  toolName: string;
  origin?: ToolOrigin;
  outcome: { result?: unknown; error?: string };
}

/**
 * Records how tool calls end. A call of an MCP server or a workflow acted outside this service,
 * so it also goes into the audit trail, in the same transaction as its record: both or neither.
 */
@Injectable()
export class ToolCallEnds {
  constructor(
    private readonly runs: RunsRepository,
    private readonly audit: AuditService,
    private readonly dataSource: DataSource,
  ) {}

  /** False, and nothing written, once the run was erased (see RunsRepository.recordToolEnd). */
  async record(run: Pick<RunEntity, 'id' | 'conversationId' | 'requestedById'>, call: EndedCall): Promise<boolean> {
    const { origin } = call;
    if (!origin) return this.runs.recordToolEnd(call.invocationId, call.outcome);
    return this.dataSource.transaction(async (manager) => {
      if (!(await this.runs.recordToolEnd(call.invocationId, call.outcome, manager))) return false;
      await this.audit.record(
        {
          action: 'tool.executed',
          actorId: run.requestedById,
          target: { type: 'run', id: run.id },
          conversationId: run.conversationId,
          // Names only: arguments and results are the users' data, kept with the run.
          details: {
            toolName: call.toolName,
            toolCallId: call.toolCallId,
            origin: origin.kind,
            source: origin.name,
            status: call.outcome.error === undefined ? 'completed' : 'failed',
          },
        },
        manager,
      );
      return true;
    });
  }
}
