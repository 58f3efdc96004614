import { Injectable } from '@nestjs/common';
import { McpClients } from '../mcp/mcp-clients.service.js';
import type { AgentToolCatalogueDto, UnavailableToolSourceDto } from './dto/agent-tools.dto.js';
import { ToolRegistry } from './tools/tool-registry.js';

/** What a conversation's owner can choose from: the tools offered now, and the sources that are down. */
@Injectable()
export class AgentToolsService {
  constructor(
    private readonly tools: ToolRegistry,
    private readonly mcp: McpClients,
  ) {}

  async catalogue(): Promise<AgentToolCatalogueDto> {
    const unavailable = Object.entries(this.mcp.status()).flatMap(([server, { state }]): UnavailableToolSourceDto[] =>
      state === 'ready' ? [] : [{ source: 'mcp', server, state }],
    );
    return { tools: await this.tools.describe(), unavailable };
  }
}
