import type { Logger } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { McpServerSettings, McpSettings } from '../config/mcp.config.js';
import { compileRemoteInputSchema } from '../common/tools/json-schema.js';
import { type McpTool, type McpToolOutput, toolOutput } from './mcp-tool.js';

/** Tools taken from one server; a server offering more is cut here (they would all go to the model). */
export const MAX_TOOLS_PER_SERVER = 128;
const MAX_LIST_PAGES = 16;
const MAX_DESCRIPTION = 2048;
const MAX_ERROR_LENGTH = 300;
/** How long a killed server process is waited for. */
const EXIT_WAIT_MS = 5000;

export type McpServerState = 'connecting' | 'ready' | 'failed' | 'closed';

/** What readiness shows of a server: no error text, which may carry remote answers or local paths. */
export interface McpServerStatus {
  state: McpServerState;
  transport: 'stdio' | 'http';
  tools: number;
  /** Failed attempts in a row. */
  failures: number;
  nextAttemptAt?: string;
}

/** An error for the log: on one line, cut to MAX_ERROR_LENGTH. */
function message(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).replace(/\p{Cc}+/gu, ' ');
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

function createTransport(server: McpServerSettings): Transport {
  if (server.transport === 'stdio') {
    return new StdioClientTransport({ command: server.command, args: server.args, env: server.env, stderr: 'pipe' });
  }
  return new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One client and its transport, from the start of a connection attempt until stopped. */
class Session {
  readonly client = new Client({ name: 'agent-chat', version: '1.0.0' }, { capabilities: {} });
  /** Aborts the attempt's requests (connect, list) when the connection is closed meanwhile. */
  readonly controller = new AbortController();
  /** Settles once the transport closed: for stdio, once the process exited and was reaped. */
  private readonly closed: Promise<void>;
  private stopped: Promise<void> | undefined;
  /** The server process, noted once started: the transport forgets it as soon as it starts closing. */
  private pid: number | null = null;

  constructor(readonly transport: Transport) {
    // Transports are not EventTargets; Protocol.connect chains this handler, set before connecting.
    // oxlint-disable-next-line unicorn/prefer-add-event-listener
    this.closed = new Promise((resolve) => (transport.onclose = resolve));
  }

  /**
   * Closes the client (stdio: stdin closed, then SIGTERM, then SIGKILL, each after a wait) and
   * makes sure the process is gone: when the SDK is already closing the transport (a failed
   * initialisation closes it on its own), a second close returns at once, and a server that
   * ignores both stdin and SIGTERM would outlive it.
   */
  /** Connects; the process (stdio) is spawned synchronously by the transport's start(). */
  async connect(signal: AbortSignal, timeout: number): Promise<void> {
    const connecting = this.client.connect(this.transport, { signal, timeout });
    if (this.transport instanceof StdioClientTransport) this.pid = this.transport.pid;
    await connecting;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.controller.abort(new Error('the connection is closing'));
      const pid = this.pid ?? (this.transport instanceof StdioClientTransport ? this.transport.pid : null);
      await this.client.close().catch(() => undefined);
      if (pid === null || !isRunning(pid)) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.closed, new Promise((resolve) => (timer = setTimeout(resolve, EXIT_WAIT_MS)))]);
      clearTimeout(timer);
    })();
    return this.stopped;
  }
}

/**
 * One configured MCP server: connects, lists its tools, and when the connection fails or the
 * process exits, tries again after an exponentially growing wait (with jitter) until closed.
 * Every process it starts is stopped: after a failed attempt (before the retry), when the
 * connection is lost, and on close, also while an attempt is still under way.
 */
export class McpConnection {
  private session: Session | undefined;
  private pending: Session | undefined;
  private readonly stopping = new Set<Promise<void>>();
  private toolList: McpTool[] = [];
  private state: McpServerState = 'connecting';
  private failures = 0;
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
    this.toolList = [];
    for (const session of [this.pending, this.session]) if (session) this.stop(session);
    this.pending = undefined;
    this.session = undefined;
    await Promise.all(this.stopping);
  }

  async call(remoteName: string, input: unknown, signal: AbortSignal, timeoutMs: number): Promise<McpToolOutput> {
    const client = this.session?.client;
    if (!client || this.state !== 'ready') throw new Error(`The MCP server ${this.server.name} is not connected`);
    const result = await client.callTool({ name: remoteName, arguments: input as Record<string, unknown> }, undefined, { signal, timeout: timeoutMs });
    return toolOutput(result as Parameters<typeof toolOutput>[0]);
  }

  private async connect(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    this.nextAttemptAt = undefined;
    const session = new Session(createTransport(this.server));
    this.pending = session;
    try {
      this.drainStderr(session.transport);
      const signal = AbortSignal.any([session.controller.signal, AbortSignal.timeout(this.settings.connectTimeoutMs)]);
      await session.connect(signal, this.settings.connectTimeoutMs);
      const tools = await this.listTools(session.client, signal);
      if ((this.state as McpServerState) === 'closed') return;
      this.ready(session, tools);
    } catch (error) {
      // The process is stopped before a retry can start another one.
      await this.stop(session);
      this.fail(error);
    } finally {
      if (this.pending === session) this.pending = undefined;
    }
  }

  private ready(session: Session, tools: McpTool[]): void {
    // The SDK's Client is not an EventTarget: onclose is its only close hook.
    // oxlint-disable-next-line unicorn/prefer-add-event-listener
    session.client.onclose = () => this.lost(session, new Error('the connection closed'));
    this.session = session;
    this.toolList = tools;
    this.state = 'ready';
    this.failures = 0;
    this.pingTimer = setInterval(() => void this.ping(session), this.settings.pingIntervalMs);
    this.pingTimer.unref();
    this.logger.log(`MCP server ${this.server.name} connected with ${tools.length} tools`);
  }

  private stop(session: Session): Promise<void> {
    const stopped = session.stop();
    this.stopping.add(stopped);
    void stopped.finally(() => this.stopping.delete(stopped));
    return stopped;
  }

  /** The server's stderr is read (a full pipe would block it) and logged at debug level. */
  private drainStderr(transport: Transport): void {
    const stderr = transport instanceof StdioClientTransport ? transport.stderr : null;
    stderr?.on('data', (chunk: Buffer) => this.logger.debug(`${this.server.name}: ${message(chunk.toString('utf8').trimEnd())}`));
  }

  private async ping(session: Session): Promise<void> {
    try {
      await session.client.ping({ timeout: this.settings.connectTimeoutMs });
    } catch (error) {
      this.lost(session, error);
    }
  }

  private lost(session: Session, error: unknown): void {
    if (this.session !== session || this.state === 'closed') return;
    clearInterval(this.pingTimer);
    this.session = undefined;
    this.toolList = [];
    this.state = 'failed';
    void this.stop(session).then(() => this.fail(error));
  }

  /** Schedules the next attempt. The error is logged, never shown: it may quote the server's answer. */
  private fail(error: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'failed';
    this.failures += 1;
    const exponential = this.settings.retryBaseMs * 2 ** Math.min(this.failures - 1, 30);
    const delay = Math.min(this.settings.retryMaxMs, exponential) * (0.8 + Math.random() * 0.4);
    this.nextAttemptAt = Date.now() + delay;
    // Warned once when the server stops working; the attempts after it only at debug level.
    const log = `MCP server ${this.server.name} failed (${message(error)}); retrying in ${Math.round(delay)} ms`;
    if (this.failures === 1) this.logger.warn(log);
    else this.logger.debug(`${log} (${this.failures} failures in a row)`);
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
    const tools: McpTool[] = [];
    const seen = new Set<string>();
    for (const tool of listed) {
      // A name listed twice would call the same tool: the first listing is kept.
      if (seen.has(tool.name)) continue;
      seen.add(tool.name);
      try {
        const schema = await compileRemoteInputSchema(tool.inputSchema, signal);
        const description = (tool.description ?? tool.title ?? tool.name).slice(0, MAX_DESCRIPTION);
        const approval = Object.hasOwn(this.server.tools, tool.name) ? this.server.tools[tool.name]!.approval : this.server.approval;
        tools.push({ server: this.server.name, remoteName: tool.name, description, schema, approval });
      } catch (error) {
        signal.throwIfAborted();
        this.logger.warn(`MCP server ${this.server.name}: tool ${message(tool.name)} left out (${message(error)})`);
      }
    }
    return tools;
  }
}
