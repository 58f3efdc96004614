import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { everythingServerBin } from '../support/mcp.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

describe('MCP tool budget', () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let user: Registered;

  beforeAll(async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'agentchat-mcp-limits-')), 'mcp.json');
    const everything = { command: process.execPath, args: [everythingServerBin(), 'stdio'] };
    writeFileSync(config, JSON.stringify({ servers: { first: everything, second: everything } }));
    fake = await new FakeOpenAI().start();
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      MCP_CONFIG: config,
      MCP_MAX_TOOLS: '5',
    });
    user = await register(t, { displayName: 'Ada' });
    await waitUntil(
      async () => {
        const servers = (await t.http('/health/ready')).body.details?.mcp?.servers;
        return servers?.first?.state === 'ready' && servers?.second?.state === 'ready';
      },
      'both servers to be ready',
      20_000,
    );
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('offers the model no more MCP tools than MCP_MAX_TOOLS, the first configured server first', async () => {
    const servers = (await t.http('/health/ready')).body.details.mcp.servers;
    expect(servers.first.tools).toBeGreaterThan(5);
    fake.enqueue({ kind: 'text', chunks: ['Hi.'] });
    const conversation = await t.http(`${API}/conversations`, { method: 'POST', token: user.accessToken, json: { title: 'budget' } });
    await t.http(`${API}/conversations/${conversation.body.id}/messages?wait=true`, { method: 'POST', token: user.accessToken, json: { content: 'hello' } });
    const names = (fake.requests[0]!.body.tools as { function: { name: string } }[]).map((tool) => tool.function.name);
    const mcp = names.filter((name) => name.includes('__'));
    expect(mcp).toHaveLength(5);
    expect(mcp.every((name) => name.startsWith('first__'))).toBe(true);
    expect(names).toContain('calculator');
  });
});
