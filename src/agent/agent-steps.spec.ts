import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AgentStreamPart, type BoundTool, type CallDecision, type PausedLoop, streamSteps, TOOL_ERROR_MAX_CHARS } from './agent-steps.js';

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

  describe('tools that need approval', () => {
    let executed: unknown[];
    const deploy: BoundTool = {
      name: 'deploy',
      description: 'deploys',
      inputSchema: { type: 'object' },
      approval: 'always',
      origin: { kind: 'mcp', name: 'ops' },
      parse: (input) => z.object({ version: z.string() }).parse(input),
      execute: async (input) => {
        executed.push(input);
        return { deployed: (input as { version: string }).version };
      },
    };
    const USER = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'ship it' }] }];
    const steps = async (model: LanguageModelV3, resume?: { paused: PausedLoop; decisions: Map<string, CallDecision> }, maxSteps = 5) => {
      const parts: AgentStreamPart[] = [];
      const options = { model, system: 'be brief', messages: USER, tools: [calculator, deploy], maxSteps, abortSignal: new AbortController().signal };
      for await (const part of streamSteps({ ...options, ...(resume && { resume }) })) parts.push(part);
      return parts;
    };
    const pausedOf = (parts: AgentStreamPart[]) => {
      const last = parts.at(-1)!;
      if (last.type !== 'approval-needed') throw new Error(`expected a pause, got ${last.type}`);
      return last;
    };
    const bothCalls = () => [...call('c1', 'calculator', '{"a":2,"b":3}').slice(0, 1), ...call('c2', 'deploy', '{"version":"2.0"}')];

    beforeEach(() => {
      executed = [];
    });

    it('runs the calls that need none, then pauses before the one that needs approval, with everything needed to go on', async () => {
      const model = new ScriptedModel([[{ type: 'text-delta', id: 't', delta: 'Shipping. ' }, ...bothCalls()]]);
      const parts = await steps(model);
      expect(parts.map((part) => part.type)).toEqual(['text-delta', 'tool-call', 'tool-result', 'approval-needed']);
      const { paused, calls } = pausedOf(parts);
      expect(calls).toEqual([{ toolCallId: 'c2', toolName: 'deploy', input: { version: '2.0' } }]);
      expect(paused).toMatchObject({ step: 0, history: [], text: 'Shipping. ', totals: { inputTokens: 5, outputTokens: 1 } });
      expect(paused.results).toEqual([{ type: 'tool-result', toolCallId: 'c1', toolName: 'calculator', output: { type: 'json', value: { sum: 5 } } }, null]);
      expect(executed).toEqual([]);
      // What is stored in the run's row must survive JSON.
      expect(JSON.parse(JSON.stringify(paused))).toEqual(paused);
    });

    it('resumed with an approval: runs the call, gives the model both results in the order it made the calls, and goes on', async () => {
      const first = pausedOf(await steps(new ScriptedModel([[{ type: 'text-delta', id: 't', delta: 'Shipping. ' }, ...bothCalls()]])));
      const model = new ScriptedModel([text('Deployed 2.0.')]);
      const parts = await steps(model, { paused: JSON.parse(JSON.stringify(first.paused)) as PausedLoop, decisions: new Map([['c2', { approved: true }]]) });
      expect(parts).toEqual([
        { type: 'tool-call', toolCallId: 'c2', toolName: 'deploy', input: { version: '2.0' } },
        { type: 'tool-result', toolCallId: 'c2', toolName: 'deploy', input: { version: '2.0' }, output: { deployed: '2.0' }, origin: { kind: 'mcp', name: 'ops' } },
        { type: 'text-delta', text: 'Deployed 2.0.' },
        { type: 'finish', usage: { inputTokens: 15, outputTokens: 2 } },
      ]);
      expect(executed).toEqual([{ version: '2.0' }]);
      expect(model.calls[0]!.prompt.slice(1)).toEqual([
        USER[0],
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Shipping. ' },
            { type: 'tool-call', toolCallId: 'c1', toolName: 'calculator', input: { a: 2, b: 3 } },
            { type: 'tool-call', toolCallId: 'c2', toolName: 'deploy', input: { version: '2.0' } },
          ],
        },
        {
          role: 'tool',
          content: [
            { type: 'tool-result', toolCallId: 'c1', toolName: 'calculator', output: { type: 'json', value: { sum: 5 } } },
            { type: 'tool-result', toolCallId: 'c2', toolName: 'deploy', output: { type: 'json', value: { deployed: '2.0' } } },
          ],
        },
      ]);
    });

    it('resumed with a denial: never runs the call and tells the model why; the step limit counts the steps before the pause', async () => {
      const first = pausedOf(await steps(new ScriptedModel([bothCalls()])));
      const model = new ScriptedModel([call('c3', 'calculator', '{"a":1,"b":1}')]);
      const parts = await steps(model, { paused: first.paused, decisions: new Map([['c2', { approved: false, reason: 'Denied: not on a Friday' }]]) }, 2);
      expect(executed).toEqual([]);
      expect(parts.find((part) => part.type === 'tool-error')).toMatchObject({ toolCallId: 'c2', error: 'Denied: not on a Friday' });
      expect(model.calls[0]!.prompt.at(-1)!.content).toContainEqual({ type: 'tool-result', toolCallId: 'c2', toolName: 'deploy', output: { type: 'error-text', value: 'Denied: not on a Friday' } });
      // Step 0 paused; step 1 is the only one left.
      expect(model.calls).toHaveLength(1);
      expect(parts.at(-1)!.type).toBe('finish');
    });

    it('does not ask anyone about a call whose arguments are invalid: the model is told at once', async () => {
      const model = new ScriptedModel([call('c1', 'deploy', '{"version": 2}'), text('Oops.')]);
      const parts = await steps(model);
      expect(parts.map((part) => part.type)).toEqual(['tool-call', 'tool-error', 'text-delta', 'finish']);
      expect(executed).toEqual([]);
    });

    it('cuts a long error message before the model, the record and the participants see it', async () => {
      const noisy: BoundTool = { ...calculator, name: 'noisy', execute: async () => Promise.reject(new Error('x'.repeat(2_000_000))) };
      const model = new ScriptedModel([call('c1', 'noisy', '{"a":1,"b":1}'), text('Hm.')]);
      const parts: AgentStreamPart[] = [];
      for await (const part of streamSteps({ model, system: '', messages: [], tools: [noisy], maxSteps: 3, abortSignal: new AbortController().signal })) parts.push(part);
      const failed = parts.find((part) => part.type === 'tool-error')!;
      expect((failed as { error: string }).error).toHaveLength(TOOL_ERROR_MAX_CHARS + 1);
    });
  });
});
