import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The reference MCP server's entry point in node_modules (`stdio` or `streamableHttp` as its argument). */
export function everythingServerBin(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('@modelcontextprotocol/server-everything/package.json');
  const { bin } = require(manifest) as { bin: Record<string, string> };
  return join(dirname(manifest), bin['mcp-server-everything']!);
}

/**
 * An MCP_CONFIG file with the reference server over stdio as `everything`, its tools under the
 * default policy (approval always) unless `server` says otherwise.
 */
export function everythingMcpConfig(server: Record<string, unknown> = {}): string {
  const file = join(mkdtempSync(join(tmpdir(), 'agentchat-mcp-')), 'mcp.json');
  writeFileSync(file, JSON.stringify({ servers: { everything: { command: process.execPath, args: [everythingServerBin(), 'stdio'], ...server } } }));
  return file;
}
