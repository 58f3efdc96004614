import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { ExternalTool, ExternalToolSource } from '../common/tools/external-tool.js';
import { AppConfig } from '../config/app-config.js';
import { McpConnection, type McpServerStatus } from './mcp-connection.js';
import type { McpTool, McpToolOutput } from './mcp-tool.js';

/**
 * The configured MCP servers. Each connects in the background once the application has started
 * (a slow or broken server never delays start-up) and is retried with backoff when it fails.
 */
@Injectable()
export class McpClients implements ExternalToolSource, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(McpClients.name);
  private readonly connections: Map<string, McpConnection>;

  constructor(config: AppConfig) {
    this.connections = new Map(config.mcp.servers.map((server) => [server.name, new McpConnection(server, config.mcp, this.logger)]));
  }

  get configured(): boolean {
    return this.connections.size > 0;
  }

  onApplicationBootstrap(): void {
    for (const connection of this.connections.values()) connection.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.connections.values()].map((connection) => connection.close()));
  }

  /** The tools of the servers connected right now, as the agent calls them. */
  tools(): ExternalTool[] {
    return [...this.connections.values()].flatMap((connection) => connection.tools.map((tool) => this.external(tool)));
  }

  private external(tool: McpTool): ExternalTool {
    return {
      name: tool.name,
      description: tool.description,
      inputSchema: tool.schema.jsonSchema,
      approval: tool.approval,
      origin: { kind: 'mcp', name: tool.server },
      check: (input) => tool.schema.check(tool.name, input),
      call: (input, { signal, timeoutMs }) => this.call(tool, input, signal, timeoutMs),
    };
  }

  /** Calls a tool on its server; the signal cancels the request on the server too. */
  private call(tool: McpTool, input: unknown, signal: AbortSignal, timeoutMs: number): Promise<McpToolOutput> {
    const connection = this.connections.get(tool.server);
    if (!connection) throw new Error(`The MCP server ${tool.server} is not configured`);
    return connection.call(tool.remoteName, input, signal, timeoutMs);
  }

  /** Each server's state, by name. */
  status(): Record<string, McpServerStatus> {
    return Object.fromEntries([...this.connections].map(([name, connection]) => [name, connection.status()]));
  }
}
