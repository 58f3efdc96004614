import { Module } from '@nestjs/common';
import { McpClients } from './mcp-clients.service.js';

/** Connections to the MCP servers of MCP_CONFIG, whose tools the agent may call. */
@Module({
  providers: [McpClients],
  exports: [McpClients],
})
export class McpModule {}
