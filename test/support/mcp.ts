import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The reference MCP server's entry point in node_modules (`stdio` or `streamableHttp` as its argument). */
export function everythingServerBin(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('@modelcontextprotocol/server-everything/package.json');
  const { bin } = require(manifest) as { bin: Record<string, string> };
  return join(dirname(manifest), bin['mcp-server-everything']!);
}
