import { createHash } from 'node:crypto';

/** What every provider accepts as a function name (OpenAI's rule, the strictest). */
export const PROVIDER_TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_LENGTH = 64;
const SEPARATOR = '__';

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}

/**
 * `<server>__<tool>` in the provider-safe charset and length. A tool name that had to be changed
 * (characters replaced, cut short) or that would clash with a name already given gets a hash of its
 * original name, so two tools never share a name and a given tool keeps its name across restarts.
 */
export function mcpToolName(server: string, tool: string, taken: ReadonlySet<string>): string {
  const prefix = `${server}${SEPARATOR}`;
  const cleaned = tool.replace(/[^A-Za-z0-9_-]/g, '_');
  const plain = `${prefix}${cleaned}`;
  if (cleaned === tool && tool.length > 0 && plain.length <= MAX_LENGTH && !taken.has(plain)) return plain;
  const suffix = `_${shortHash(tool)}`;
  let name = `${prefix}${cleaned.slice(0, MAX_LENGTH - prefix.length - suffix.length)}${suffix}`;
  for (let n = 2; taken.has(name); n += 1) {
    const numbered = `_${shortHash(`${tool}\u0000${n}`)}`;
    name = `${prefix}${cleaned.slice(0, MAX_LENGTH - prefix.length - numbered.length)}${numbered}`;
  }
  return name;
}

/** A tool to be named: its server and its name there. */
export interface ServerTool {
  server: string;
  remoteName: string;
}

function byServerThenName(a: ServerTool, b: ServerTool): number {
  if (a.server !== b.server) return a.server < b.server ? -1 : 1;
  if (a.remoteName !== b.remoteName) return a.remoteName < b.remoteName ? -1 : 1;
  return 0;
}

/**
 * The names of tools from all servers at once, in the order given: unique across servers too
 * (server `gh_` with tool `delete_repo` and server `gh` with tool `_delete_repo` would both be
 * `gh___delete_repo`). Clashes are resolved in (server, tool) order, so the same tools get the same
 * names whatever order their servers connected or listed them in.
 */
export function assignToolNames(tools: readonly ServerTool[]): string[] {
  const taken = new Set<string>();
  const names = new Map<ServerTool, string>();
  for (const tool of [...tools].sort(byServerThenName)) {
    const name = mcpToolName(tool.server, tool.remoteName, taken);
    taken.add(name);
    names.set(tool, name);
  }
  return tools.map((tool) => names.get(tool)!);
}
