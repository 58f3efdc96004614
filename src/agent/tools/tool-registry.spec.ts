import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ExternalTool, ExternalToolSource } from '../../common/tools/external-tool.js';
import type { ConversationsRepository } from '../../conversations/conversations.repository.js';
import type { MessagesRepository } from '../../messages/messages.repository.js';
import type { DocumentSearchService } from '../../documents/document-search.service.js';
import type { ContextService } from '../context.service.js';
import { ToolRegistry } from './tool-registry.js';

const CONTEXT = { conversationId: 'conversation-1', userId: 'user-1' };

function registry(summarize: ContextService['summarize'] = async () => ({ summary: '', messages: 0 }), sources: ExternalToolSource[] = []): ToolRegistry {
  return new ToolRegistry({} as MessagesRepository, {} as ConversationsRepository, { summarize } as ContextService, {} as DocumentSearchService, sources);
}

/** A source of external tools that answer with their own name and input. */
function source(kind: 'mcp' | 'workflow', server: string, names: string[]): ExternalToolSource {
  const tools = names.map(
    (name): ExternalTool => ({
      name,
      description: `${name} of ${server}`,
      inputSchema: { type: 'object', properties: { q: { type: 'string' } } },
      approval: 'always',
      origin: { kind, name: server },
      check: () => undefined,
      call: async (input) => ({ name, input }),
    }),
  );
  return { tools: () => tools };
}

const BUILTINS = ['search_history', 'search_documents', 'get_current_time', 'calculator', 'conversation_stats', 'summarize_conversation'];

async function bound(name: string, tools = registry(), timeoutMs = 1000) {
  const tool = (await tools.bind(CONTEXT, timeoutMs)).find((candidate) => candidate.name === name);
  return tool!;
}

describe('ToolRegistry', () => {
  afterEach(() => vi.useRealTimers());

  it('binds every builtin tool with the JSON Schema of its input', async () => {
    const tools = await registry().bind(CONTEXT, 1000);
    expect(tools.map((tool) => tool.name)).toEqual(BUILTINS);
    expect(tools[3]!.inputSchema).toMatchObject({ type: 'object', properties: { expression: { type: 'string' } }, required: ['expression'] });
  });

  it('checks arguments against the schema, saying what is wrong', async () => {
    const calculator = await bound('calculator');
    expect(calculator.parse({ expression: '1 + 1' })).toEqual({ expression: '1 + 1' });
    expect(() => calculator.parse({})).toThrow(/^Invalid arguments for calculator: expression: /);
    const time = await bound('get_current_time');
    expect(() => time.parse({ timezone: 'Mars/Olympus' })).toThrow('Invalid arguments for get_current_time: timezone: unknown time zone');
  });

  it('runs a tool with the context of the run', async () => {
    const calculator = await bound('calculator');
    expect(await calculator.execute({ expression: '0.1 + 0.2' }, new AbortController().signal)).toEqual({ expression: '0.1 + 0.2', result: '0.3' });
  });

  it('stops a tool at its time limit', async () => {
    vi.useFakeTimers();
    const summarize = await bound('summarize_conversation', registry(() => new Promise(() => undefined)), 500);
    const outcome = summarize.execute({}, new AbortController().signal).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(500);
    expect(await outcome).toMatchObject({ message: 'Tool summarize_conversation did not finish within 500 ms' });
  });

  describe('with a conversation that chooses its tools', () => {
    const sources = [source('mcp', 'github', ['github__issues', 'github__pulls']), source('mcp', 'docs', ['docs__search']), source('workflow', 'deploy', ['workflow__deploy'])];
    const names = async (selection: string[] | null) => (await registry(undefined, sources).bind(CONTEXT, 1000, selection)).map((tool) => tool.name);

    it('offers every tool, built-in and external, when it chose none (null)', async () => {
      expect(await names(null)).toEqual([...BUILTINS, 'github__issues', 'github__pulls', 'docs__search', 'workflow__deploy']);
    });

    it('offers only the tools it names, built-in ones included', async () => {
      expect(await names(['calculator', 'docs__search'])).toEqual(['calculator', 'docs__search']);
    });

    it('offers a whole source by its prefix', async () => {
      expect(await names(['github__*', 'workflow__*'])).toEqual(['github__issues', 'github__pulls', 'workflow__deploy']);
      expect(await names(['github__*'])).not.toContain('docs__search');
    });

    it('offers nothing for an empty list', async () => {
      expect(await names([])).toEqual([]);
    });

    it('ignores names nothing offers, and matches names exactly', async () => {
      expect(await names(['slack__post', 'slack__*', 'calc', 'github__issue', 'get_current_time'])).toEqual(['get_current_time']);
    });

    it('binds the chosen external tools to the run', async () => {
      const [deploy] = await registry(undefined, sources).bind(CONTEXT, 1000, ['workflow__deploy']);
      expect(deploy).toMatchObject({ name: 'workflow__deploy', approval: 'always', origin: { kind: 'workflow', name: 'deploy' } });
      expect(await deploy!.execute({ q: 'now' }, new AbortController().signal)).toEqual({ name: 'workflow__deploy', input: { q: 'now' } });
    });
  });

  it('describes every tool offered now with its source, server, approval policy and JSON Schema', async () => {
    const described = await registry(undefined, [source('mcp', 'github', ['github__issues']), source('workflow', 'deploy', ['workflow__deploy'])]).describe();
    expect(described.map(({ name, source: from, server, approval }) => ({ name, source: from, server, approval }))).toEqual([
      ...BUILTINS.map((name) => ({ name, source: 'builtin', server: undefined, approval: 'never' })),
      { name: 'github__issues', source: 'mcp', server: 'github', approval: 'always' },
      { name: 'workflow__deploy', source: 'workflow', server: undefined, approval: 'always' },
    ]);
    expect(described.find((tool) => tool.name === 'calculator')!.inputSchema).toMatchObject({ properties: { expression: { type: 'string' } } });
    expect(described.at(-1)!).not.toHaveProperty('server');
  });
});
