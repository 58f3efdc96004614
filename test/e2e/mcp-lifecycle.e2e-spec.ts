import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../support/conditions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * A stdio server that never answers: it records its pid, reads and ignores every request, and
 * outlives both the end of its stdin and SIGTERM. Only being killed stops it.
 */
const SILENT_SERVER = `
const { appendFileSync } = require('node:fs');
appendFileSync(process.argv[2], process.pid + '\\n');
process.on('SIGTERM', () => {});
process.stdin.on('data', () => {});
process.stdin.on('end', () => {});
setInterval(() => {}, 60_000);
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function setUp(): { config: string; pids: () => number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'agentchat-mcp-lifecycle-'));
  const script = join(dir, 'silent-server.cjs');
  const pidFile = join(dir, 'pids');
  writeFileSync(script, SILENT_SERVER);
  writeFileSync(pidFile, '');
  const config = join(dir, 'mcp.json');
  writeFileSync(config, JSON.stringify({ servers: { silent: { command: process.execPath, args: [script, pidFile] } } }));
  const pids = () => readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map(Number);
  return { config, pids };
}

describe('MCP server processes', () => {
  let t: TestApp | undefined;
  const started: number[] = [];
  afterEach(async () => {
    await t?.close();
    t = undefined;
    for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('a server still being connected is stopped with the application', async () => {
    const { config, pids } = setUp();
    t = await startTestApp({ MCP_CONFIG: config, MCP_CONNECT_TIMEOUT_MS: '60000' });
    const [pid] = await waitUntil(() => (pids().length > 0 ? pids() : undefined), 'the server to start');
    started.push(pid!);
    expect((await t.http('/health/ready')).body.details.mcp.servers.silent.state).toBe('connecting');

    await t.close();
    t = undefined;
    await waitUntil(() => !alive(pid!), `server process ${pid} to be gone after shutdown`, 2000);
  });

  it('the process of a failed attempt is gone before the next attempt starts, and the last one with the application', async () => {
    const { config, pids } = setUp();
    t = await startTestApp({ MCP_CONFIG: config, MCP_CONNECT_TIMEOUT_MS: '300', MCP_RETRY_BASE_MS: '20', MCP_RETRY_MAX_MS: '50' });
    const seen = await waitUntil(() => (pids().length >= 3 ? pids() : undefined), 'three connection attempts', 10_000);
    started.push(...seen);
    // Each attempt stops its process before the retry is scheduled.
    for (const pid of seen.slice(0, -1)) expect(alive(pid), `process ${pid} of a failed attempt`).toBe(false);

    await t.close();
    t = undefined;
    const all = pids();
    started.push(...all);
    await waitUntil(() => all.every((pid) => !alive(pid)), 'every server process to be gone after shutdown', 2000);
  });
});
