import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './env.js';
import { parseMcpServers, parseMcpSettings } from './mcp.config.js';

function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'agentchat-mcp-config-')), 'mcp.json');
  writeFileSync(path, content);
  return path;
}

function outcome(run: () => unknown): 'accepted' | 'ConfigError' | 'other error' {
  try {
    run();
    return 'accepted';
  } catch (error) {
    return error instanceof ConfigError ? 'ConfigError' : 'other error';
  }
}

describe('MCP_CONFIG', () => {
  it('reads stdio and Streamable HTTP servers with their defaults', () => {
    const path = file(JSON.stringify({ servers: { local: { command: 'node', args: ['server.js'] }, remote: { url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer x' } } } }));
    expect(parseMcpSettings({ MCP_CONFIG: path })).toEqual({
      servers: [
        { name: 'local', transport: 'stdio', command: 'node', args: ['server.js'], env: {}, approval: 'always', tools: {} },
        { name: 'remote', transport: 'http', url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer x' }, approval: 'always', tools: {} },
      ],
      connectTimeoutMs: 10_000,
      retryBaseMs: 1000,
      retryMaxMs: 60_000,
      pingIntervalMs: 30_000,
    });
    expect(parseMcpSettings({}).servers).toEqual([]);
  });

  it('reads the approval policy of a server and of its tools', () => {
    const path = file(JSON.stringify({ servers: { docs: { url: 'https://mcp.example.com/mcp', approval: 'never', tools: { delete_page: { approval: 'always' } } } } }));
    expect(parseMcpSettings({ MCP_CONFIG: path }).servers[0]).toMatchObject({ approval: 'never', tools: { delete_page: { approval: 'always' } } });
  });

  it.each([
    ['an unknown approval policy', '{"servers": {"s": {"command": "x", "approval": "sometimes"}}}', /at servers\.s\.approval/],
    ['a tool setting without a policy', '{"servers": {"s": {"command": "x", "tools": {"t": {}}}}}', /at servers\.s\.tools\.t\.approval/],
    ['a missing file', undefined, /mcp\.json \(ENOENT\)$/],
    ['invalid JSON', '{"servers": ', /is not valid JSON/],
    ['no servers key', '{}', /at servers: /],
    ['an unknown key', '{"servers": {}, "extra": 1}', /\(root\)/],
    ['a bad server name', '{"servers": {"has space": {"command": "x"}}}', /server names are/],
    ['neither command nor url', '{"servers": {"s": {"args": []}}}', /at servers\.s: expected "command"/],
    ['a URL that is not http', '{"servers": {"s": {"url": "file:///etc/passwd"}}}', /at servers\.s\.url: expected an http or https URL/],
    ['a non-string env value', '{"servers": {"s": {"command": "x", "env": {"TOKEN": 1}}}}', /at servers\.s\.env\.TOKEN/],
    ['both command and url', '{"servers": {"s": {"command": "x", "url": "https://a.example"}}}', /at servers\.s/],
  ])('refuses %s with a clear error', (_, content, expected) => {
    const path = content === undefined ? join(tmpdir(), 'no-such-dir-agentchat', 'mcp.json') : file(content);
    expect(() => parseMcpSettings({ MCP_CONFIG: path })).toThrow(ConfigError);
    expect(() => parseMcpSettings({ MCP_CONFIG: path })).toThrow(expected);
  });

  it('never echoes header or environment values, which may be secrets', () => {
    const path = file(JSON.stringify({ servers: { s: { url: 'https://a.example', headers: { authorization: 12345678 } } } }));
    expect(() => parseMcpSettings({ MCP_CONFIG: path })).toThrow(/at servers\.s\.headers\.authorization/);
    expect(() => parseMcpSettings({ MCP_CONFIG: path })).not.toThrow(/12345678/);
  });

  it('never quotes the file in a JSON syntax error: it may hold secrets', () => {
    const path = file('{"servers": {"s": {"url": "https://a.example", "headers": {"authorization": hunter2-token}}}}');
    expect(() => parseMcpSettings({ MCP_CONFIG: path })).toThrow(/is not valid JSON/);
    expect(() => parseMcpSettings({ MCP_CONFIG: path })).not.toThrow(/hunter2/);
  });

  it('either accepts a document or refuses it with a ConfigError, never anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        expect(outcome(() => parseMcpServers(json, 'mcp.json'))).not.toBe('other error');
        expect(outcome(() => parseMcpServers({ servers: { s: json } }, 'mcp.json'))).not.toBe('other error');
      }),
    );
  });
});
