import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toolNotAllowedText } from '../../src/agent/providers/builtin.model.js';
import { FakeOpenAI } from '../fixtures/fake-openai.js';
import { type Registered, register } from '../support/auth.js';
import { waitUntil } from '../support/conditions.js';
import { everythingServerBin } from '../support/mcp.js';
import { connectClient, type RecordingClient } from '../support/socket-client.js';
import { startTestApp, type TestApp, type TestResponse } from '../support/test-app.js';

const API = '/api/v1';
const BUILTINS = ['search_history', 'search_documents', 'get_current_time', 'calculator', 'conversation_stats', 'summarize_conversation'];

describe("a conversation's choice of agent tools", () => {
  let fake: FakeOpenAI;
  let t: TestApp;
  let owner: Registered;
  let member: Registered;
  const sockets: RecordingClient[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentchat-tool-choice-'));
    const config = join(dir, 'mcp.json');
    writeFileSync(
      config,
      JSON.stringify({
        servers: {
          everything: { command: process.execPath, args: [everythingServerBin(), 'stdio'] },
          broken: { command: process.execPath, args: ['-e', 'process.exit(3)'] },
        },
      }),
    );
    fake = await new FakeOpenAI().start();
    t = await startTestApp({
      AGENT_PROVIDER: 'openai',
      AGENT_MODEL: 'fake-model',
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      MCP_CONFIG: config,
      MCP_CONNECT_TIMEOUT_MS: '10000',
      MCP_RETRY_BASE_MS: '20',
      MCP_RETRY_MAX_MS: '200',
      MESSAGE_RATE_LIMIT: '100000',
    });
    [owner, member] = await Promise.all([register(t, { displayName: 'Owner' }), register(t, { displayName: 'Member' })]);
    await waitUntil(async () => (await catalogue()).body.tools.some((tool: { name: string }) => tool.name === 'everything__echo'), 'the everything server to be connected', 20_000);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  beforeEach(() => fake.reset());
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.socket.close();
  });

  /** The tool catalogue as the given user sees it; null: without a token. */
  const catalogue = (token: string | null = owner.accessToken) => t.http(`${API}/agent/tools`, token === null ? {} : { token });
  const create = async (agent: Record<string, unknown> = {}): Promise<string> => {
    const created = await t.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { title: 'tools', participantIds: [member.id], agent } });
    expect(created.status, created.text).toBe(201);
    return created.body.id;
  };
  const patch = (id: string, tools: unknown, token = owner.accessToken) =>
    t.http(`${API}/conversations/${id}`, { method: 'PATCH', token, json: { agent: { tools } } });
  const send = async (id: string, content: string) => {
    const response = await t.http(`${API}/conversations/${id}/messages?wait=true`, { method: 'POST', token: owner.accessToken, json: { content } });
    expect(response.status, response.text).toBe(201);
    return response.body;
  };
  const offered = (request = 0) => (fake.requests[request]!.body.tools ?? []).map((tool) => tool.function.name);

  describe('setting it', () => {
    it('is every tool (null) unless chosen, and the owner chooses it: in the reply, in GET, and in conversation:updated at the next version', async () => {
      const id = await create();
      const before = await t.http(`${API}/conversations/${id}`, { token: member.accessToken });
      expect(before.body.agent.tools).toBeNull();
      const watcher = await connectClient(t.baseUrl, member.accessToken);
      sockets.push(watcher);
      expect((await watcher.emit('conversation:join', { conversationId: id })).ok).toBe(true);

      const patched = await patch(id, ['calculator', 'everything__*', 'slack__post']);
      expect(patched.status, patched.text).toBe(200);
      expect(patched.body.agent).toMatchObject({ mode: 'auto', tools: ['calculator', 'everything__*', 'slack__post'] });
      expect(patched.body.version).toBe(before.body.version + 1);
      const event = await watcher.waitFor('conversation:updated', (payload) => payload.conversation.agent.tools !== null);
      expect(event).toMatchObject({ version: before.body.version + 1, conversation: { agent: { tools: ['calculator', 'everything__*', 'slack__post'] } } });
      expect((await t.http(`${API}/conversations/${id}`, { token: member.accessToken })).body.agent.tools).toEqual(['calculator', 'everything__*', 'slack__post']);

      const cleared = await patch(id, null);
      expect(cleared.body.agent.tools).toBeNull();
      expect(cleared.body.version).toBe(before.body.version + 2);
      await watcher.waitFor('conversation:updated', (payload) => payload.version === before.body.version + 2 && payload.conversation.agent.tools === null);
    });

    it('keeps the choice when other agent settings change, and takes one at creation', async () => {
      const id = await create({ tools: [] });
      const changed = await t.http(`${API}/conversations/${id}`, { method: 'PATCH', token: owner.accessToken, json: { agent: { mode: 'mention' } } });
      expect(changed.body.agent).toMatchObject({ mode: 'mention', tools: [] });
      const listed = await t.http(`${API}/conversations?limit=100`, { token: owner.accessToken });
      expect(listed.body.items.find((item: { id: string }) => item.id === id).agent.tools).toEqual([]);
    });

    it('is the owner’s: a member gets 403 and nothing changes', async () => {
      const id = await create({ tools: ['calculator'] });
      const refused = await patch(id, null, member.accessToken);
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('FORBIDDEN');
      expect((await t.http(`${API}/conversations/${id}`, { token: owner.accessToken })).body.agent.tools).toEqual(['calculator']);
    });

    function expectInvalidTools(response: TestResponse): void {
      expect(response.status, response.text).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, code: 'VALIDATION' });
      expect(Object.keys(response.body.details)).toEqual(['agent.tools']);
      expect(response.body.details['agent.tools'].length).toBeGreaterThan(0);
    }

    it.each([
      ['a string instead of a list', 'calculator'],
      ['a list of numbers', [1, 2]],
      ['an object in the list', [{ name: 'calculator' }]],
      ['an empty name', ['']],
      ['a name over 64 characters', ['a'.repeat(65)]],
      ['a space in a name', ['get time']],
      ['a wildcard alone', ['*']],
      ['a wildcard without the separator', ['github*']],
      ['a wildcard inside a name', ['git*__hub']],
      ['a duplicate', ['calculator', 'calculator']],
      ['more than 128 entries', Array.from({ length: 129 }, (_, i) => `tool_${i}`)],
    ])('refuses %s with 400 VALIDATION naming agent.tools, at creation and in a change', async (_, tools) => {
      const id = await create({ tools: ['calculator'] });
      expectInvalidTools(await patch(id, tools));
      expectInvalidTools(await t.http(`${API}/conversations`, { method: 'POST', token: owner.accessToken, json: { agent: { tools } } }));
      expect((await t.http(`${API}/conversations/${id}`, { token: owner.accessToken })).body.agent.tools).toEqual(['calculator']);
    });

    it('accepts 128 entries of 64 characters, and names the server does not offer (yet)', async () => {
      const id = await create();
      const most = Array.from({ length: 128 }, (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(61)}`);
      expect((await patch(id, most)).body.agent.tools).toEqual(most);
      expect((await patch(id, ['offline_server__*', 'offline_server__tool'])).status).toBe(200);
    });
  });

  describe('a run', () => {
    it('offers the model only the chosen tools', async () => {
      const id = await create({ tools: ['calculator'] });
      await send(id, 'what is 6 * 7?');
      expect(offered()).toEqual(['calculator']);
    });

    it('offers a whole MCP server by its prefix, and nothing for an empty list', async () => {
      const id = await create({ tools: ['everything__*'] });
      await send(id, 'echo');
      expect(offered().length).toBeGreaterThan(1);
      expect(offered().every((name) => name.startsWith('everything__'))).toBe(true);
      await patch(id, []);
      await send(id, 'anything?');
      expect(fake.requests[1]!.body.tools).toBeUndefined();
    });

    it('offers every tool again once the choice is cleared', async () => {
      const id = await create({ tools: ['calculator'] });
      await patch(id, null);
      await send(id, 'hello');
      expect(offered()).toEqual(expect.arrayContaining([...BUILTINS, 'everything__echo']));
    });

    it('never runs a tool the conversation does not allow, even when the model asks for it', async () => {
      const id = await create({ tools: ['calculator'] });
      fake.enqueue({ kind: 'tool', calls: [{ id: 'call_echo', name: 'everything__echo', argumentChunks: ['{"message": "sneaky"}'] }] }, { kind: 'text', chunks: ['Not allowed.'] });
      const body = await send(id, 'echo sneaky');
      expect(body.reply.metadata.toolCalls).toEqual([expect.objectContaining({ name: 'everything__echo', error: 'There is no tool named everything__echo' })]);
      const rows = await t.app.get(DataSource).query(`SELECT status FROM tool_invocations WHERE run_id = $1`, [body.run.id]);
      expect(rows.every((row: { status: string }) => row.status !== 'completed')).toBe(true);
    });

    it('with the builtin agent: a command whose tool is allowed runs, the others are honestly declined', async () => {
      const id = await create({ provider: 'builtin', tools: ['calculator'] });
      expect((await send(id, '/calc 6 * 7')).reply.content).toBe('6 * 7 = 42');
      const declined = await send(id, '/time Europe/Paris');
      expect(declined.reply.content).toBe(toolNotAllowedText('get_current_time'));
      expect(declined.reply.metadata.toolCalls ?? []).toEqual([]);
    });
  });

  describe('GET /agent/tools', () => {
    it('lists the built-in tools and those of connected MCP servers, with their source, approval policy and JSON Schema', async () => {
      const response = await catalogue(member.accessToken);
      expect(response.status).toBe(200);
      const tools: { name: string; source: string; server?: string; approval: string; inputSchema: Record<string, unknown> }[] = response.body.tools;
      expect(tools.slice(0, BUILTINS.length).map((tool) => tool.name)).toEqual(BUILTINS);
      expect(tools.find((tool) => tool.name === 'calculator')).toEqual({
        name: 'calculator',
        description: expect.stringContaining('arithmetic'),
        source: 'builtin',
        approval: 'never',
        inputSchema: expect.objectContaining({ type: 'object', required: ['expression'] }),
      });
      expect(tools.find((tool) => tool.name === 'everything__echo')).toMatchObject({
        source: 'mcp',
        server: 'everything',
        approval: 'always',
        inputSchema: { type: 'object', properties: { message: { type: 'string' } } },
      });
      expect(tools.filter((tool) => tool.source === 'mcp').every((tool) => tool.server === 'everything' && tool.approval === 'always')).toBe(true);
      expect(new Set(tools.map((tool) => tool.name)).size).toBe(tools.length);
    });

    it('names the configured MCP servers that are not connected', async () => {
      const { body } = await catalogue();
      expect(body.unavailable).toEqual([{ source: 'mcp', server: 'broken', state: expect.stringMatching(/^(connecting|failed)$/) }]);
      expect(body.tools.some((tool: { name: string }) => tool.name.startsWith('broken__'))).toBe(false);
    });

    it('is for signed-in users only', async () => {
      const response = await catalogue(null);
      expect(response.status).toBe(401);
      expect(response.body.statusCode).toBe(401);
    });
  });
});
