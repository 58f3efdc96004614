import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConversationsRepository } from '../../conversations/conversations.repository.js';
import type { MessagesRepository } from '../../messages/messages.repository.js';
import type { DocumentSearchService } from '../../documents/document-search.service.js';
import type { ContextService } from '../context.service.js';
import { ToolRegistry } from './tool-registry.js';

const CONTEXT = { conversationId: 'conversation-1', userId: 'user-1' };

function registry(summarize: ContextService['summarize'] = async () => ({ summary: '', messages: 0 })): ToolRegistry {
  return new ToolRegistry({} as MessagesRepository, {} as ConversationsRepository, { summarize } as ContextService, {} as DocumentSearchService, []);
}

async function bound(name: string, tools = registry(), timeoutMs = 1000) {
  const tool = (await tools.bind(CONTEXT, timeoutMs)).find((candidate) => candidate.name === name);
  return tool!;
}

describe('ToolRegistry', () => {
  afterEach(() => vi.useRealTimers());

  it('binds every builtin tool with the JSON Schema of its input', async () => {
    const tools = await registry().bind(CONTEXT, 1000);
    expect(tools.map((tool) => tool.name)).toEqual(['search_history', 'search_documents', 'get_current_time', 'calculator', 'conversation_stats', 'summarize_conversation']);
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
});
