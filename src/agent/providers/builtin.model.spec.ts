import type { LanguageModelV3FunctionTool, LanguageModelV3Prompt, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuiltinModel, HELP_TEXT, lastUserText, MAX_REQUEST_LENGTH, NO_LLM_TEXT, recognise, toolNotAllowedText } from './builtin.model.js';

// A fixed seed: the same cases on every run, so a failure in CI reproduces anywhere.
fc.configureGlobal({ seed: 20_261_201 });

/** Linear matching takes well under a millisecond here; backtracking took seconds for a few KB. */
const BUDGET_MS = 200;
const MESSAGE_MAX_LENGTH = 16_000;

function userTurn(text: string): LanguageModelV3Prompt {
  return [{ role: 'user', content: [{ type: 'text', text }] }];
}

/** How long the model takes to decide what a user turn asks for (the part a message controls). */
function decisionTime(text: string): number {
  const prompt = userTurn(text);
  const started = performance.now();
  recognise(lastUserText(prompt));
  return performance.now() - started;
}

/** The message that once held the event loop for 24 s at 4,000 spaces a side (cubic backtracking). */
function bait(spaces: number): string {
  return `calculate ${' '.repeat(spaces)}1${' '.repeat(spaces)}x`;
}

const TOOLS: LanguageModelV3FunctionTool[] = ['calculator', 'get_current_time', 'search_history', 'search_documents', 'conversation_stats', 'summarize_conversation'].map((name) => ({
  type: 'function',
  name,
  inputSchema: { type: 'object' },
}));

/** What the model streams back for one user turn. */
async function answer(text: string, tools: LanguageModelV3FunctionTool[] | null = TOOLS): Promise<{ toolCalls: { toolName: string; input: unknown }[]; text: string }> {
  const { stream } = await new BuiltinModel().doStream({ prompt: userTurn(text), ...(tools && { tools }) });
  const parts: LanguageModelV3StreamPart[] = [];
  for await (const part of stream) parts.push(part);
  return {
    toolCalls: parts.flatMap((part) => (part.type === 'tool-call' ? [{ toolName: part.toolName, input: JSON.parse(part.input) as unknown }] : [])),
    text: parts.map((part) => (part.type === 'text-delta' ? part.delta : '')).join(''),
  };
}

describe('recognise', () => {
  const calculator = (expression: string) => ({ tool: { name: 'calculator', input: { expression } } });
  const time = (timezone?: string) => ({ tool: { name: 'get_current_time', input: timezone ? { timezone } : {} } });
  const search = (query: string) => ({ tool: { name: 'search_history', input: { query } } });
  const docs = (query: string) => ({ tool: { name: 'search_documents', input: { query } } });

  it.each([
    ['calculate 12 * 7', calculator('12 * 7')],
    ['what is (2 + 3) * 4 ?', calculator('(2 + 3) * 4')],
    ["what's 1.5^2", calculator('1.5^2')],
    ['compute sqrt(16)?', calculator('sqrt(16)')],
    ['what time is it in Tokyo?', time('Asia/Tokyo')],
    ['time in new york', time('America/New_York')],
    ["what's the current time now?", time()],
    ['search for budget', search('budget')],
    ['look up messages about the launch plan?', search('the launch plan')],
    ['find   q3 numbers', search('q3 numbers')],
    ['summarize', { tool: { name: 'summarize_conversation', input: {} } }],
    ['statistics please', { tool: { name: 'conversation_stats', input: {} } }],
    ['what can you do?', { text: HELP_TEXT }],
    ['@agent /calc 2+2', calculator('2+2')],
    ['/time Europe/Paris', time('Europe/Paris')],
    ['/search', { text: 'Usage: `/search <words>`.' }],
    ['/docs notice period', docs('notice period')],
    ['/DOCS   "notice period" -draft', docs('"notice period" -draft')],
    ['/docs', { text: 'Usage: `/docs <words>`, e.g. `/docs notice period`.' }],
    ['search my documents for the lease terms', docs('the lease terms')],
    ['look through the docs for q3 numbers?', docs('q3 numbers')],
    ['what do the documents say about parking?', docs('parking')],
    ['what do my files say about the deposit', docs('the deposit')],
    ['search documents budget', docs('budget')],
    ['/tool everything__echo {"message": "hi"}', { tool: { name: 'everything__echo', input: { message: 'hi' } } }],
    ['/tool conversation_stats', { tool: { name: 'conversation_stats', input: {} } }],
    ['/tool calculator   {"expression":\n"1 + 1"}', calculator('1 + 1')],
    ['/tool calculator [1, 2]', { text: expect.stringMatching(/^The arguments must be one JSON object/) }],
    ['/tool calculator {not json', { text: expect.stringMatching(/^The arguments must be one JSON object/) }],
    ['/tool', { text: expect.stringMatching(/^Usage: `\/tool <name>/) }],
    ['/tools', { tools: true }],
    ['calculate the meaning of life', { text: NO_LLM_TEXT }],
    ['Write me a poem about the sea', { text: NO_LLM_TEXT }],
  ])('reads %j', (text, intent) => {
    expect(recognise(text)).toEqual(intent);
  });

  it(`reads no plain request longer than ${MAX_REQUEST_LENGTH} characters, but commands at any length`, () => {
    const words = 'budget '.repeat(MAX_REQUEST_LENGTH / 7).trim();
    expect(recognise(`search for ${words}`)).toEqual({ text: NO_LLM_TEXT });
    expect(recognise(`/search ${words}`)).toEqual(search(words));
  });

  it('reads requests prefixed with the speaker, as turns arrive in shared conversations', async () => {
    const reply = await answer('Grace: calculate 12 * 7');
    expect(reply.toolCalls).toEqual([{ toolName: 'calculator', input: { expression: '12 * 7' } }]);
  });
});

describe('recognise, on generated input', () => {
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: MESSAGE_MAX_LENGTH, size: 'max' }),
    fc.string({ unit: 'grapheme-ascii', maxLength: MESSAGE_MAX_LENGTH, size: 'max' }),
    fc.string({ unit: fc.constantFrom(' ', '1', '+', '(', ')', '?', ':', '\n', 'in ', 'calculate ', 'search ', 'time ', '@agent', '/'), maxLength: 2_000, size: 'max' }),
  );

  it(`returns an intent for any text up to ${MESSAGE_MAX_LENGTH} characters, promptly`, () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const intent = recognise(text);
        expect(intent.tool !== undefined || typeof intent.text === 'string').toBe(true);
        expect(decisionTime(text)).toBeLessThan(BUDGET_MS);
      }),
    );
  });

  // Backtracking needs a prefix that starts a match and a long run the pattern can split in many
  // ways, then a tail that makes the match fail: these build exactly that, short and long.
  const prefix = fc.constantFrom('', 'search my documents for ', 'what do the docs say about ', '/docs ', 'calculate ', 'compute ', "what's ", 'what is ', 'what time is it in ', 'time in ', "what's the current time now in ", 'search for ', 'find ', 'look up messages about ', '/calc ', '@agent ', 'Grace: ', 'sqrt(');
  const pump = fc.array(fc.constantFrom(' ', '\t', '1', '1 ', '+', ' +', '(', '(0', ' in', 'in ', 'a ', '?', ' ?', '\n', ':', '.'), { minLength: 1, maxLength: 3 }).map((units) => units.join(''));
  const suffix = fc.constantFrom('', 'x', '!', '\n', '?', '??', ')', ' h', ' -', 'LN()');
  const length = fc.oneof(fc.integer({ min: 1, max: MAX_REQUEST_LENGTH }), fc.integer({ min: MAX_REQUEST_LENGTH + 1, max: MESSAGE_MAX_LENGTH }));
  const adversarial = fc.tuple(prefix, pump, suffix, length).map(([start, repeated, end, size]) => start + repeated.repeat(Math.ceil(size / repeated.length)).slice(0, size) + end);

  it('reads text crafted to make a matcher backtrack within the same budget', () => {
    fc.assert(
      fc.property(adversarial, (text) => {
        expect(decisionTime(text)).toBeLessThan(BUDGET_MS);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps reading generated calculations and searches', () => {
    const arithmetic = fc
      .array(fc.constantFrom('1', '23', '.5', '+', '-', '*', '/', '%', '^', '(', ')', ' ', ','), { minLength: 1, maxLength: 40 })
      .map((tokens) => tokens.join('').trim())
      .filter((expression) => /\d/.test(expression));
    const words = fc.array(fc.constantFrom('budget', 'q3', 'launch', 'plan', 'in', 'time'), { minLength: 1, maxLength: 6 }).map((list) => list.join(' '));
    fc.assert(
      fc.property(fc.constantFrom('calculate', 'compute', 'what is'), arithmetic, fc.constantFrom('', '?', ' ?'), (verb, expression, end) => {
        expect(recognise(`${verb} ${expression}${end}`)).toEqual({ tool: { name: 'calculator', input: { expression } } });
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom('search for', 'find', 'look up history for'), words, fc.constantFrom('', '?', ' ?'), (verb, query, end) => {
        expect(recognise(`${verb} ${query}${end}`)).toEqual({ tool: { name: 'search_history', input: { query } } });
      }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('search my documents for', 'search the docs', 'look in our files for', 'find in the documents', 'what do the documents say about', 'what do docs say'),
        words,
        fc.constantFrom('', '?', ' ?'),
        (verb, query, end) => {
          expect(recognise(`${verb} ${query}${end}`)).toEqual({ tool: { name: 'search_documents', input: { query } } });
        },
      ),
    );
  });
});

describe('the crafted message that once blocked the event loop', () => {
  it.each([
    ['as first reported, 4,000 spaces a side', bait(4_000)],
    [`at the ${MESSAGE_MAX_LENGTH.toLocaleString('en')}-character message limit`, bait((MESSAGE_MAX_LENGTH - 12) / 2)],
    ['behind a speaker prefix', `Grace: ${bait((MESSAGE_MAX_LENGTH - 19) / 2)}`],
  ])(`is answered within ${BUDGET_MS} ms, ${'%s'}`, async (_, text) => {
    expect(text.length).toBeLessThanOrEqual(MESSAGE_MAX_LENGTH);
    expect(decisionTime(text)).toBeLessThan(BUDGET_MS);
    expect((await answer(text)).text).toBe(NO_LLM_TEXT);
  });
});

describe('in a conversation that limits its tools', () => {
  const only = (...names: string[]) => TOOLS.filter((tool) => names.includes(tool.name));

  it('calls a tool it is offered', async () => {
    expect(await answer('/calc 6 * 7', only('calculator'))).toEqual({ toolCalls: [{ toolName: 'calculator', input: { expression: '6 * 7' } }], text: '' });
  });

  it.each([
    ['/time Europe/Paris', 'get_current_time'],
    ['/search budget', 'search_history'],
    ['summarize', 'summarize_conversation'],
  ])('says so instead of calling a tool it was not offered: %s', async (command, tool) => {
    expect(await answer(command, only('calculator'))).toEqual({ toolCalls: [], text: toolNotAllowedText(tool) });
  });

  it('says so when it is offered no tools at all', async () => {
    expect(await answer('/calc 1 + 1', null)).toEqual({ toolCalls: [], text: toolNotAllowedText('calculator') });
    expect(toolNotAllowedText('calculator')).toMatch(/^The calculator tool is not enabled in this conversation/);
  });

  it('lists the tools it is offered, and calls any of them by name through /tool', async () => {
    const echo: LanguageModelV3FunctionTool = { type: 'function', name: 'everything__echo', description: 'Echoes back the input\nmore', inputSchema: { type: 'object' } };
    const listed = await answer('/tools', [...only('calculator'), echo]);
    expect(listed.text).toBe('I can call 2 tools here (`/tool <name> {json}`):\n- `calculator`\n- `everything__echo` — Echoes back the input');
    expect(await answer('/tools', [])).toEqual({ toolCalls: [], text: 'No tools are enabled in this conversation.' });
    expect(await answer('/tool everything__echo {"message": "hi"}', [echo])).toEqual({ toolCalls: [{ toolName: 'everything__echo', input: { message: 'hi' } }], text: '' });
    expect(await answer('/tool everything__echo {"message": "hi"}', only('calculator'))).toEqual({ toolCalls: [], text: toolNotAllowedText('everything__echo') });
  });

  it('still answers what needs no tool', async () => {
    expect(await answer('/help', [])).toEqual({ toolCalls: [], text: HELP_TEXT });
    expect(await answer('tell me a story', [])).toEqual({ toolCalls: [], text: NO_LLM_TEXT });
  });
});

describe('the answer to /docs', () => {
  /** What the builtin agent says once search_documents returned this for the query. */
  async function saysAbout(query: string, value: unknown): Promise<string> {
    const prompt: LanguageModelV3Prompt = [
      ...userTurn(`/docs ${query}`),
      { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'call_1', toolName: 'search_documents', input: { query } }] },
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'call_1', toolName: 'search_documents', output: { type: 'json', value: value as never } }] },
    ];
    const { stream } = await new BuiltinModel().doStream({ prompt, tools: TOOLS });
    let text = '';
    for await (const part of stream) if (part.type === 'text-delta') text += part.delta;
    return text;
  }

  it('quotes each passage with the document, page and heading it comes from', async () => {
    const results = [
      { documentId: 'd1', title: 'lease.pdf', mediaType: 'application/pdf', page: 3, heading: 'Notice', chunk: 4, excerpt: 'two months\n\n**notice**', score: 1, content: '' },
      { documentId: 'd2', title: 'faq.md', mediaType: 'text/markdown', page: null, heading: null, chunk: 0, excerpt: '**notice** by post', score: 0.5, content: '' },
    ];
    expect(await saysAbout('notice', { scope: 'conversation', results })).toBe(
      ['Found 2 passages matching "notice":', '1. "two months **notice**" — lease.pdf, p. 3, under "Notice"', '2. "**notice** by post" — faq.md'].join('\n'),
    );
  });

  it.each([
    ['conversation', { searchable: 2, processing: 0 }, 'No passage in the 2 documents of this conversation matches "zebra".'],
    ['user', { searchable: 1, processing: 2 }, 'No passage in your 1 document matches "zebra". 2 more are still being processed.'],
    ['conversation', { searchable: 0, processing: 1 }, 'There is nothing to search yet: 1 document is still being processed. Ask again in a moment.'],
    ['conversation', { searchable: 0, processing: 0 }, 'This conversation has no documents to search yet. Upload one to it first.'],
    ['user', { searchable: 0, processing: 0 }, 'You have no documents to search yet, neither in your library nor in your conversations. Upload one first.'],
  ])('says honestly why nothing was found (%s, %j)', async (scope, documents, expected) => {
    expect(await saysAbout('zebra', { scope, results: [], documents })).toBe(expected);
  });
});
