import { z } from 'zod';
import { APPROVAL_POLICIES } from '../common/tools/external-tool.js';
import { ConfigError, type Env, readInt, readString } from './env.js';
import { checkJson, httpUrl, readJsonFile } from './json-config.js';
import { WORKFLOW_TOOL_PREFIX } from './workflows.config.js';

/** A server name becomes the prefix of its tools' names (`<server>__<tool>`): kept short and plain. */
const SERVER_NAME = /^[A-Za-z0-9_-]{1,32}$/;
const MAX_SERVERS = 32;

/**
 * Whether calls wait for a person's approval: for the whole server, and per tool (by its name on
 * the server). Tools with side effects live behind MCP servers, so the default is "always".
 */
const approvalSettings = {
  approval: z.enum(APPROVAL_POLICIES).default('always'),
  tools: z
    .record(z.string().min(1).max(256), z.object({ approval: z.enum(APPROVAL_POLICIES) }).strict())
    .refine((tools) => Object.keys(tools).length <= 1024, 'at most 1024 tool settings')
    .default({}),
};

const stdioServer = z
  .object({
    ...approvalSettings,
    command: z.string().min(1).max(4096),
    args: z.array(z.string().max(32_768)).max(256).default([]),
    env: z.record(z.string().min(1).max(256), z.string().max(32_768)).default({}),
  })
  .strict();

const httpServer = z
  .object({
    ...approvalSettings,
    url: httpUrl,
    headers: z.record(z.string().min(1).max(256), z.string().max(32_768)).default({}),
  })
  .strict();

const configFile = z
  .object({
    servers: z
      .record(z.string(), z.record(z.string(), z.unknown()))
      .refine((servers) => Object.keys(servers).length <= MAX_SERVERS, `at most ${MAX_SERVERS} servers`),
  })
  .strict();

export type McpStdioServer = { name: string; transport: 'stdio' } & z.infer<typeof stdioServer>;
export type McpHttpServer = { name: string; transport: 'http' } & z.infer<typeof httpServer>;
export type McpServerSettings = McpStdioServer | McpHttpServer;

export interface McpSettings {
  servers: McpServerSettings[];
  /** Connecting and listing the tools of one server; past it the attempt counts as failed. */
  connectTimeoutMs: number;
  /** First wait before reconnecting a server that failed or exited; doubled on each failure in a row. */
  retryBaseMs: number;
  /** The longest wait between two reconnection attempts. */
  retryMaxMs: number;
  /** How often a connected server is pinged: a remote server going away closes no process. */
  pingIntervalMs: number;
}

/** The servers of the file MCP_CONFIG names. Values (environment, headers) may be secrets: errors name paths only. */
export function parseMcpServers(json: unknown, source: string): McpServerSettings[] {
  const file = check(configFile, json, source, []);
  return Object.entries(file.servers).map(([name, server]): McpServerSettings => {
    const path = ['servers', name];
    if (!SERVER_NAME.test(name)) {
      throw new ConfigError(`Invalid MCP_CONFIG: ${source} at servers: server names are 1 to 32 letters, digits, "_" or "-", got "${name.slice(0, 40)}"`);
    }
    if (name === WORKFLOW_TOOL_PREFIX) {
      throw new ConfigError(`Invalid MCP_CONFIG: ${source} at servers: the server name "${name}" is taken by the tools of WORKFLOWS_CONFIG`);
    }
    if ('command' in server) return { name, transport: 'stdio', ...check(stdioServer, server, source, path) };
    if ('url' in server) return { name, transport: 'http', ...check(httpServer, server, source, path) };
    throw new ConfigError(`Invalid MCP_CONFIG: ${source} at ${path.join('.')}: expected "command" (stdio) or "url" (Streamable HTTP)`);
  });
}

function check<T>(schema: z.ZodType<T>, value: unknown, source: string, at: string[]): T {
  return checkJson('MCP_CONFIG', schema, value, source, at);
}

export function parseMcpSettings(env: Env): McpSettings {
  const path = readString(env, 'MCP_CONFIG');
  const retryBaseMs = readInt(env, 'MCP_RETRY_BASE_MS', 1000, { min: 10, max: 600_000 });
  return {
    servers: path === undefined ? [] : parseMcpServers(readJsonFile('MCP_CONFIG', path), path),
    connectTimeoutMs: readInt(env, 'MCP_CONNECT_TIMEOUT_MS', 10_000, { min: 100, max: 300_000 }),
    retryBaseMs,
    retryMaxMs: readInt(env, 'MCP_RETRY_MAX_MS', Math.max(60_000, retryBaseMs), { min: retryBaseMs, max: 3_600_000 }),
    pingIntervalMs: readInt(env, 'MCP_PING_INTERVAL_MS', 30_000, { min: 100, max: 3_600_000 }),
  };
}
