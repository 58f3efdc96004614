import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/auth.decorators.js';
import { AgentToolsService } from './agent-tools.service.js';
import { AgentToolCatalogueDto } from './dto/agent-tools.dto.js';

@ApiTags('agent')
@Controller('agent/tools')
export class AgentToolsController {
  constructor(private readonly tools: AgentToolsService) {}

  @Get()
  @Authenticated()
  @ApiOperation({
    operationId: 'listAgentTools',
    summary: 'The tools the agent can use on this server right now',
    description:
      'Built-in tools, the tools of connected MCP servers and workflows, and the configured MCP servers that are not connected at the moment. ' +
      "A conversation's owner limits its agent to some of them with `agent.tools` (exact names, or `<prefix>__*` for a whole source).",
  })
  @ApiOkResponse({ type: AgentToolCatalogueDto, description: 'The tools offered now, and the configured sources that offer none at the moment' })
  list(): Promise<AgentToolCatalogueDto> {
    return this.tools.catalogue();
  }
}
