import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AgentStreamPart, type BoundTool, streamSteps } from './agent-steps.js';

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: undefined, reasoning: undefined },
});
const text = (...deltas: string[]): LanguageModelV3StreamPart[] => [
  { type: 'text-start', id: 't' },
  ...deltas.map((delta) => ({ type: 'text-delta' as const, id: 't', delta })),
  { type: 'text-end', id: 't' },
  { type: 'finish', usage: usage(10, deltas.length), finishReason: { unified: 'stop', raw: undefined } },
];
const call = (toolCallId: string, toolName: string, input: string): LanguageModelV3StreamPart[] => [
  { type: 'tool-call', toolCallId, toolName, input },
  { type: 'finish', usage: usage(5, 1), finishReason: { unified: 'tool-calls', raw: undefined } },
];

/** A model that answers each call with the next scripted stream and records the prompts it got. */
class ScriptedModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'scripted';
  readonly modelId = 'scripted';
  readonly supportedUrls = {};
  readonly calls: LanguageModelV3CallOptions[] = [];
  cancelled = 0;

  constructor(private readonly script: LanguageModelV3StreamPart[][], private readonly hang = false) {}

  async doGenerate(): Promise<never> {
    throw new Error('stream only');
  }

  async doStream(options: LanguageModelV3CallOptions) {
    this.calls.push(structuredClone({ ...options, abortSignal: undefined }));
    const parts = this.script[Math.min(this.calls.length - 1, this.script.length - 1)]!;
    const hang = this.hang;
    return {
      stream: new ReadableStream<LanguageModelV3StreamPart>({
        start: (controller) => {
          for (const part of parts) controller.enqueue(part);
          if (!hang) controller.close();
        },
        cancel: () => {
          this.cancelled++;
        },
      }),
    };
  }
}

const calculator: BoundTool = {
  name: 'calculator',
  description: 'adds',
  inputSchema: { type: 'object' },
  approval: 'never',
  parse: (input) => z.object({ a: z.number(), b: z.number() }).parse(input),
  execute: async (input) => {
    const { a, b } = input as { a: number; b: number };
    return { sum: a + b };
  },
};

async function collect(model: LanguageModelV3, maxSteps = 5, signal = new AbortController().signal): Promise<AgentStreamPart[]> {
  const parts: AgentStreamPart[] = [];
  for await (const part of streamSteps({ model, system: 'be brief', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [calculator], maxSteps, abortSignal: signal })) {
    parts.push(part);
  }
  return parts;
}

describe('streamSteps', () => {
  it('streams text and reports usage', async () => {
    const model = new ScriptedModel([text('Hel', 'lo')]);
    expect(await collect(model)).toEqual([
      { type: 'text-delta', text: 'Hel' },
      { type: 'text-delta', text: 'lo' },
      { type: 'finish', usage: { inputTokens: 10, outputTokens: 2 } },
    ]);
    expect(model.calls[0]!.prompt[0]).toEqual({ role: 'system', content: 'be brief' });
    expect(model.calls[0]!.tools?.map((tool) => tool.name)).toEqual(['calculator']);
  });

  it('runs a tool call, feeds the result back and sums usage over the steps', async () => {
    const model = new ScriptedModel([call('c1', 'calculator', '{"a":2,"b":3}'), text('It is 5.')]);
    const parts = await collect(model);
    expect(parts).toEqual([
      { type: 'tool-call', toolCallId: 'c1', toolName: 'calculator', input: { a: 2, b: 3 } },
      { type: 'tool-result', toolCallId: 'c1', toolName: 'calculator', input: { a: 2, b: 3 }, output: { sum: 5 } },
      { type: 'text-delta', text: 'It is 5.' },
      { type: 'finish', usage: { inputTokens: 15, outputTokens: 2 } },
    ]);
    expect(model.calls[1]!.prompt.slice(-2)).toEqual([
      { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'calculator', input: { a: 2, b: 3 } }] },
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'c1', toolName: 'calculator', output: { type: 'json', value: { sum: 5 } } }] },
    ]);
  });

  it('turns bad JSON, invalid arguments and unknown tools into tool errors the model sees', async () => {
    const model = new ScriptedModel([
      [...call('c1', 'calculator', '{not json').slice(0, 1), ...call('c2', 'calculator', '{"a":"1; DROP TABLE messages","b":2}').slice(0, 1), ...call('c3', 'rm_rf', '{}').slice(0, 1), ...call('c4', 'calculator', '[1,2]')],
      text('Sorry.'),
    ]);
    const parts = await collect(model);
    expect(parts.filter((part) => part.type === 'tool-error').map((part) => part.toolCallId)).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(parts.filter((part) => part.type === 'tool-call')).toHaveLength(4);
    expect(parts.find((part) => part.type === 'tool-call' && part.toolCallId === 'c1')).toMatchObject({ input: '{not json' });
    const results = model.calls[1]!.prompt.at(-1)!.content as { output: { type: string; value: string } }[];
    expect(results.map((result) => result.output.type)).toEqual(['error-text', 'error-text', 'error-text', 'error-text']);
    expect(results[0]!.output.value).toContain('not valid JSON');
    expect(results[2]!.output.value).toContain('no tool named rm_rf');
  });

  it('stops after the step limit even if the model keeps calling tools', async () => {
    const model = new ScriptedModel([call('c', 'calculator', '{"a":1,"b":1}')]);
    const parts = await collect(model, 3);
    expect(model.calls).toHaveLength(3);
    expect(parts.filter((part) => part.type === 'tool-result')).toHaveLength(3);
    expect(parts.at(-1)!.type).toBe('finish');
  });

  it('throws on abort and cancels the provider stream', async () => {
    const model = new ScriptedModel([[{ type: 'text-delta', id: 't', delta: 'partial' }]], true);
    const controller = new AbortController();
    const parts: AgentStreamPart[] = [];
    const run = (async () => {
      for await (const part of streamSteps({ model, system: '', messages: [], tools: [], maxSteps: 1, abortSignal: controller.signal })) {
        parts.push(part);
        controller.abort(new Error('cancelled'));
      }
    })();
    await expect(run).rejects.toThrow('cancelled');
    expect(parts).toEqual([{ type: 'text-delta', text: 'partial' }]);
    expect(model.cancelled).toBe(1);
  });

  it('surfaces an error part from the provider', async () => {
    const model = new ScriptedModel([[{ type: 'text-delta', id: 't', delta: 'a' }, { type: 'error', error: new Error('overloaded') }]]);
    await expect(collect(model)).rejects.toThrow('overloaded');
    expect(model.cancelled).toBe(0);
  });
});
