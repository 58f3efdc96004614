import type { Logger } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { McpServerSettings, McpSettings } from '../config/mcp.config.js';
import { compileInputSchema } from '../common/tools/json-schema.js';
import { type McpTool, type McpToolOutput, toolOutput } from './mcp-tool.js';
import { mcpToolName } from './tool-names.js';

/** Tools taken from one server; a server offering more is cut here (they would all go to the model). */
export const MAX_TOOLS_PER_SERVER = 128;
const MAX_LIST_PAGES = 16;
const MAX_DESCRIPTION = 2048;
const MAX_ERROR_LENGTH = 300;

export type McpServerState = 'connecting' | 'ready' | 'failed' | 'closed';

export interface McpServerStatus {
  state: McpServerState;
  transport: 'stdio' | 'http';
  tools: number;
  /** Failed attempts in a row. */
  failures: number;
  lastError?: string;
  nextAttemptAt?: string;
}

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

function createTransport(server: McpServerSettings): Transport {
  if (server.transport === 'stdio') {
    return new StdioClientTransport({ command: server.command, args: server.args, env: server.env, stderr: 'pipe' });
  }
  return new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } });
}

/**
 * One configured MCP server: connects, lists its tools, and when the connection fails or the
 * process exits, tries again after an exponentially growing wait (with jitter) until closed.
 */
export class McpConnection {
  private client: Client | undefined;
  private toolList: McpTool[] = [];
  private state: McpServerState = 'connecting';
  private failures = 0;
  private lastError: string | undefined;
  private nextAttemptAt: number | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly server: McpServerSettings,
    private readonly settings: McpSettings,
    private readonly logger: Logger,
  ) {}

  get tools(): readonly McpTool[] {
    return this.toolList;
  }

  status(): McpServerStatus {
    return {
      state: this.state,
      transport: this.server.transport,
      tools: this.toolList.length,
      failures: this.failures,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      ...(this.nextAttemptAt === undefined ? {} : { nextAttemptAt: new Date(this.nextAttemptAt).toISOString() }),
    };
  }

  /** Starts connecting in the background; failures are retried, never thrown. */
  start(): void {
    void this.connect();
  }

  async close(): Promise<void> {
    this.state = 'closed';
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const client = this.client;
    this.client = undefined;
    this.toolList = [];
    await client?.close().catch(() => undefined);
  }

  async call(remoteName: string, input: unknown, signal: AbortSignal, timeoutMs: number): Promise<McpToolOutput> {
    const client = this.client;
    if (!client || this.state !== 'ready') throw new Error(`The MCP server ${this.server.name} is not connected`);
    const result = await client.callTool({ name: remoteName, arguments: input as Record<string, unknown> }, undefined, { signal, timeout: timeoutMs });
    return toolOutput(result as Parameters<typeof toolOutput>[0]);
  }

  private async connect(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    this.nextAttemptAt = undefined;
    const client = new Client({ name: 'agent-chat', version: '1.0.0' }, { capabilities: {} });
    const transport = createTransport(this.server);
    try {
      this.drainStderr(transport);
      const timeout = AbortSignal.timeout(this.settings.connectTimeoutMs);
      await client.connect(transport, { signal: timeout, timeout: this.settings.connectTimeoutMs });
      const tools = await this.listTools(client, timeout);
      if ((this.state as McpServerState) === 'closed') return void (await client.close());
      // The SDK's Client is not an EventTarget: onclose is its only close hook.
      // oxlint-disable-next-line unicorn/prefer-add-event-listener
      client.onclose = () => this.lost(client, new Error('the connection closed'));
      this.client = client;
      this.toolList = tools;
      this.state = 'ready';
      this.failures = 0;
      this.lastError = undefined;
      this.pingTimer = setInterval(() => void this.ping(client), this.settings.pingIntervalMs);
      this.pingTimer.unref();
      this.logger.log(`MCP server ${this.server.name} connected with ${tools.length} tools`);
    } catch (error) {
      await client.close().catch(() => undefined);
      this.fail(error);
    }
  }

  /** The server's stderr is read (a full pipe would block it) and logged at debug level. */
  private drainStderr(transport: Transport): void {
    const stderr = transport instanceof StdioClientTransport ? transport.stderr : null;
    stderr?.on('data', (chunk: Buffer) => this.logger.debug(`${this.server.name}: ${message(chunk.toString('utf8').trimEnd())}`));
  }

  private async ping(client: Client): Promise<void> {
    try {
      await client.ping({ timeout: this.settings.connectTimeoutMs });
    } catch (error) {
      this.lost(client, error instanceof Error ? error : new Error(String(error)));
      await client.close().catch(() => undefined);
    }
  }

  private lost(client: Client, error: Error): void {
    if (this.client !== client || this.state === 'closed') return;
    clearInterval(this.pingTimer);
    this.client = undefined;
    this.toolList = [];
    this.fail(error);
  }

  private fail(error: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'failed';
    this.failures += 1;
    this.lastError = message(error);
    const exponential = this.settings.retryBaseMs * 2 ** Math.min(this.failures - 1, 30);
    const delay = Math.min(this.settings.retryMaxMs, exponential) * (0.8 + Math.random() * 0.4);
    this.nextAttemptAt = Date.now() + delay;
    this.logger.warn(`MCP server ${this.server.name} failed (${this.lastError}); retrying in ${Math.round(delay)} ms`);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }

  private async listTools(client: Client, signal: AbortSignal): Promise<McpTool[]> {
    const listed: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES && listed.length < MAX_TOOLS_PER_SERVER; page += 1) {
      const result = await client.listTools(cursor === undefined ? {} : { cursor }, { signal, timeout: this.settings.connectTimeoutMs });
      listed.push(...result.tools);
      cursor = result.nextCursor;
      if (!cursor) break;
    }
    return this.describeTools(listed.slice(0, MAX_TOOLS_PER_SERVER), signal);
  }

  /** The tools the model may call; a tool whose schema cannot be used is left out, with a warning. */
  private async describeTools(listed: Tool[], signal: AbortSignal): Promise<McpTool[]> {
    const taken = new Set<string>();
    const tools: McpTool[] = [];
    for (const tool of listed) {
      try {
        const schema = await compileInputSchema(tool.inputSchema, signal);
        const name = mcpToolName(this.server.name, tool.name, taken);
        taken.add(name);
        const description = (tool.description ?? tool.title ?? tool.name).slice(0, MAX_DESCRIPTION);
        const approval = Object.hasOwn(this.server.tools, tool.name) ? this.server.tools[tool.name]!.approval : this.server.approval;
        tools.push({ name, server: this.server.name, remoteName: tool.name, description, schema, approval });
      } catch (error) {
        this.logger.warn(`MCP server ${this.server.name}: tool ${message(tool.name)} left out (${message(error)})`);
      }
    }
    return tools;
  }
}
