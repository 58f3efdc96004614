import type { JSONSchema7 } from '@ai-sdk/provider';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { APPROVAL_POLICIES, type ApprovalPolicy } from '../../common/tools/external-tool.js';
import type { McpServerState } from '../../mcp/mcp-connection.js';
import { TOOL_SOURCES, type ToolSource } from '../tools/tool-registry.js';

const UNAVAILABLE_STATES: Exclude<McpServerState, 'ready'>[] = ['connecting', 'failed', 'closed'];

export class AgentToolDto {
  @ApiProperty({ example: 'calculator', description: 'What the model calls it, and what `agent.tools` of a conversation names' })
  name!: string;

  @ApiProperty({ example: 'Evaluates an arithmetic expression.' })
  description!: string;

  @ApiProperty({ enum: TOOL_SOURCES, example: 'builtin', description: 'builtin: part of this server; mcp: served by an MCP server; workflow: a webhook' })
  source!: ToolSource;

  @ApiPropertyOptional({ example: 'github', description: 'For MCP tools: the server (its tools are all selected by `<server>__*`)' })
  server?: string;

  @ApiProperty({ enum: APPROVAL_POLICIES, example: 'never', description: 'always: a call waits for a person to approve it; never: it runs at once' })
  approval!: ApprovalPolicy;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { type: 'object', properties: { expression: { type: 'string' } }, required: ['expression'] },
    description: 'The JSON Schema of its input, as the model is given it',
  })
  inputSchema!: JSONSchema7;
}

export class UnavailableToolSourceDto {
  @ApiProperty({ enum: ['mcp'], example: 'mcp' })
  source!: 'mcp';

  @ApiProperty({ example: 'github', description: 'The configured server; its tools are `<server>__…` once it is connected' })
  server!: string;

  @ApiProperty({ enum: UNAVAILABLE_STATES, example: 'failed', description: 'connecting: first attempt or a retry under way; failed: waiting to retry; closed: shutting down' })
  state!: Exclude<McpServerState, 'ready'>;
}

export class AgentToolCatalogueDto {
  @ApiProperty({ type: [AgentToolDto], description: 'Every tool the server offers right now: built-in ones first, then those of connected MCP servers and workflows' })
  tools!: AgentToolDto[];

  @ApiProperty({ type: [UnavailableToolSourceDto], description: 'Configured sources that offer no tools right now; their tools come back when they reconnect' })
  unavailable!: UnavailableToolSourceDto[];
}
