import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { ExternalTool, ExternalToolSource } from '../common/tools/external-tool.js';
import { AppConfig } from '../config/app-config.js';
import { McpConnection, type McpServerStatus } from './mcp-connection.js';
import type { McpTool, McpToolOutput } from './mcp-tool.js';
import { MAX_TOOL_SCHEMA_CHARS, type ToolBudget, withinBudget } from './tool-budget.js';
import { assignToolNames } from './tool-names.js';

interface NamedTool {
  name: string;
  server: string;
  size: number;
  tool: McpTool;
}

/**
 * The configured MCP servers. Each connects in the background once the application has started
 * (a slow or broken server never delays start-up) and is retried with backoff when it fails.
 */
@Injectable()
export class McpClients implements ExternalToolSource, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(McpClients.name);
  private readonly connections: Map<string, McpConnection>;
  private readonly budget: ToolBudget;
  /** The tools offered, worked out again only when a server's tool list changed. */
  private offer: { lists: ReadonlyArray<readonly McpTool[]>; tools: ExternalTool[] } | undefined;
  /** How many tools of each server the last warning said were left out. */
  private readonly warnedLeftOut = new Map<string, number>();

  constructor(config: AppConfig) {
    this.connections = new Map(config.mcp.servers.map((server) => [server.name, new McpConnection(server, config.mcp, this.logger)]));
    this.budget = { maxTools: config.limits.mcpMaxTools, maxSchemaChars: MAX_TOOL_SCHEMA_CHARS };
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

  /**
   * The tools of the servers connected right now, as the agent calls them: named uniquely across
   * servers, and no more than the budget (MCP_MAX_TOOLS, MAX_TOOL_SCHEMA_CHARS) allows.
   */
  tools(): ExternalTool[] {
    const lists = [...this.connections.values()].map((connection) => connection.tools);
    if (this.offer?.lists.length === lists.length && lists.every((list, i) => list === this.offer!.lists[i])) return this.offer.tools;
    const all = lists.flat();
    const names = assignToolNames(all);
    const named = all.map((tool, i): NamedTool => {
      const name = names[i]!;
      return { name, server: tool.server, tool, size: name.length + tool.description.length + JSON.stringify(tool.schema.jsonSchema).length };
    });
    const { offered, leftOut } = withinBudget(named, this.budget);
    this.warnLeftOut(leftOut, lists);
    this.offer = { lists, tools: offered.map(({ name, tool }) => this.external(name, tool)) };
    return this.offer.tools;
  }

  /** One warning per server each time the number of its tools left out changes. */
  private warnLeftOut(leftOut: ReadonlyMap<string, number>, lists: ReadonlyArray<readonly McpTool[]>): void {
    const [...servers] = this.connections.keys();
    servers.forEach((server, i) => {
      const count = leftOut.get(server) ?? 0;
      if (count === (this.warnedLeftOut.get(server) ?? 0)) return;
      this.warnedLeftOut.set(server, count);
      if (count === 0) return;
      this.logger.warn(
        `MCP server ${server}: ${count} of its ${lists[i]!.length} tools are not offered to the model ` +
          `(at most ${this.budget.maxTools} MCP tools, MCP_MAX_TOOLS, and ${this.budget.maxSchemaChars} characters of their schemas in all)`,
      );
    });
  }

  private external(name: string, tool: McpTool): ExternalTool {
    return {
      name,
      description: tool.description,
      inputSchema: tool.schema.jsonSchema,
      approval: tool.approval,
      origin: { kind: 'mcp', name: tool.server },
      check: (input) => tool.schema.check(name, input),
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
