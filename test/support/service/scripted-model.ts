import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3StreamPart, LanguageModelV3StreamResult } from '@ai-sdk/provider';
import { APICallError } from '@ai-sdk/provider';

/** A promise the test settles when it wants the model to go on. */
export interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * One step of a scripted reply: a text delta, a tool call, a wait for a gate or for some
 * milliseconds, or a provider error in the middle of the stream.
 */
export type ScriptStep =
  | { text: string }
  | { toolCall: { name: string; input: unknown } }
  | { wait: Gate }
  | { pause: number }
  | { fail: unknown };

/**
 * One call to the provider: it either refuses at once (`reject`, as an HTTP error before any
 * byte would) or streams its steps and finishes.
 */
export type ScriptedCall = { reject: unknown } | { steps: ScriptStep[] };

/** The error a provider's HTTP client raises for a given status. */
export function httpError(statusCode: number, isRetryable = statusCode >= 500 || statusCode === 429): APICallError {
  return new APICallError({
    message: `HTTP ${statusCode}`,
    url: 'http://provider.test/v1/chat/completions',
    requestBodyValues: {},
    statusCode,
    isRetryable,
  });
}

const USAGE = {
  inputTokens: { total: 10, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: undefined, reasoning: undefined },
};

/**
 * A LanguageModelV3 that plays its calls in order (the last one again once they run out), with
 * timing the test controls. It notes what happened to each stream, so that tests can tell that
 * a cancelled run really stopped its provider request.
 */
export class ScriptedModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'scripted';
  readonly supportedUrls = {};
  /** Calls to doStream, in order. */
  readonly calls: LanguageModelV3CallOptions[] = [];
  /** How many streams the consumer stopped (cancelled, or aborted through the signal). */
  stopped = 0;

  constructor(
    private readonly script: ScriptedCall[],
    readonly modelId = 'scripted',
  ) {}

  async doGenerate(): Promise<never> {
    throw new Error('The scripted model only streams');
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    const call = this.script[Math.min(this.calls.length, this.script.length - 1)]!;
    this.calls.push(options);
    if ('reject' in call) throw call.reject;
    const signal = options.abortSignal;
    // Stopped: ended by the consumer before the script did.
    let stopped = false;
    let finished = false;
    const stop = () => {
      if (stopped || finished) return;
      stopped = true;
      this.stopped++;
    };
    signal?.addEventListener('abort', stop, { once: true });
    const steps = call.steps;
    return {
      stream: new ReadableStream<LanguageModelV3StreamPart>({
        async start(controller) {
          controller.enqueue({ type: 'stream-start', warnings: [] });
          controller.enqueue({ type: 'text-start', id: 't' });
        },
        async pull(controller) {
          const step = steps.shift();
          if (stopped) return;
          if (!step) {
            controller.enqueue({ type: 'text-end', id: 't' });
            controller.enqueue({ type: 'finish', usage: USAGE, finishReason: { unified: 'stop', raw: undefined } });
            finished = true;
            controller.close();
            return;
          }
          if ('text' in step) controller.enqueue({ type: 'text-delta', id: 't', delta: step.text });
          else if ('toolCall' in step) {
            controller.enqueue({ type: 'tool-call', toolCallId: `call-${steps.length}`, toolName: step.toolCall.name, input: JSON.stringify(step.toolCall.input) });
          } else if ('wait' in step) await untilAborted(signal, step.wait.opened);
          else if ('pause' in step) await untilAborted(signal, new Promise((resolve) => setTimeout(resolve, step.pause)));
          else {
            finished = true;
            controller.error(step.fail);
          }
        },
        cancel: stop,
      }),
    };
  }
}

/** Waits for `done` or for the signal to abort, whichever comes first; the abort listener goes with the wait. */
async function untilAborted(signal: AbortSignal | undefined, done: Promise<unknown>): Promise<void> {
  if (!signal) return void (await done);
  if (signal.aborted) return;
  let listener = () => undefined as void;
  const abort = new Promise<void>((resolve) => {
    listener = () => resolve();
    signal.addEventListener('abort', listener, { once: true });
  });
  try {
    await Promise.race([done, abort]);
  } finally {
    signal.removeEventListener('abort', listener);
  }
}

/** Text deltas, one step each. */
export function texts(...pieces: string[]): ScriptStep[] {
  return pieces.map((text) => ({ text }));
}
