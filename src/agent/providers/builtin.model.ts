import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Prompt,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
} from '@ai-sdk/provider';
import { randomUUID } from 'node:crypto';
import { tokensOf } from '../context.service.js';

export const HELP_TEXT = [
  "I'm the built-in assistant. No language model is configured, so I answer commands:",
  '- `/help` — this list',
  '- `/time [time zone]` — the current time, e.g. `/time Europe/Paris`',
  '- `/calc <expression>` — arithmetic, e.g. `/calc (2 + 3) * 4`',
  '- `/search <words>` — search this conversation (all of yours when you are alone in it)',
  '- `/stats` — counts for this conversation',
  '- `/summary` — a summary of this conversation',
  'Plain requests work too: "what time is it in Tokyo?", "calculate 12 * 7", "search for budget", "summarize".',
].join('\n');

export const NO_LLM_TEXT =
  "I'm the built-in assistant and no language model is configured, so I can't hold a conversation — " +
  'only answer commands (try /help). To chat freely, set AGENT_PROVIDER=openai with OPENAI_API_KEY ' +
  '(and OPENAI_BASE_URL for Ollama, vLLM, llama.cpp or LM Studio), or AGENT_PROVIDER=anthropic with ANTHROPIC_API_KEY.';

interface Intent {
  tool?: { name: string; input: Record<string, unknown> };
  text?: string;
}

/** Finds the IANA zone for "Tokyo", "new york" or "Europe/Paris". */
function resolveTimeZone(name: string): string | undefined {
  const wanted = name.trim().replace(/\s+/g, '_').toLowerCase();
  if (!wanted) return undefined;
  const zones = [...Intl.supportedValuesOf('timeZone'), 'UTC'];
  return zones.find((zone) => zone.toLowerCase() === wanted) ?? zones.find((zone) => zone.toLowerCase().endsWith(`/${wanted}`));
}

/** What the user asked for: a slash command or a recognisable plain-language request. */
export function recognise(raw: string): Intent {
  const text = raw.replace(/@agent\b/gi, '').trim();
  const command = text.match(/^\/(\w+)\s*([\s\S]*)$/);
  if (command) {
    const [, name, argument = ''] = command;
    const rest = argument.trim();
    switch (name!.toLowerCase()) {
      case 'help':
        return { text: HELP_TEXT };
      case 'time':
        return { tool: { name: 'get_current_time', input: rest ? { timezone: resolveTimeZone(rest) ?? rest } : {} } };
      case 'calc':
        return rest ? { tool: { name: 'calculator', input: { expression: rest } } } : { text: 'Usage: `/calc <expression>`, e.g. `/calc 2 + 2`.' };
      case 'search':
        return rest ? { tool: { name: 'search_history', input: { query: rest } } } : { text: 'Usage: `/search <words>`.' };
      case 'stats':
        return { tool: { name: 'conversation_stats', input: {} } };
      case 'summary':
        return { tool: { name: 'summarize_conversation', input: {} } };
      default:
        return { text: `Unknown command /${name}. ${HELP_TEXT}` };
    }
  }
  const time = text.match(/^(?:what(?:'s| is) the )?(?:current )?time(?: is it)?(?: now)?(?: in ([\p{L} _/-]+?))?\s*\??$/iu) ??
    text.match(/^what time is it(?: in ([\p{L} _/-]+?))?\s*\??$/iu);
  if (time) return { tool: { name: 'get_current_time', input: time[1] ? { timezone: resolveTimeZone(time[1]) ?? time[1] } : {} } };
  const calc = text.match(/^(?:calculate|compute|what(?:'s| is))\s+([\d\s+\-*/%^().,]*\d[\d\s+\-*/%^().,]*|(?:sqrt|abs|round|floor|ceil|sin|cos|tan|ln|log|exp|min|max)\s*\(.*\))\s*\??$/i);
  if (calc) return { tool: { name: 'calculator', input: { expression: calc[1]!.trim() } } };
  const search = text.match(/^(?:search|find|look up)(?: (?:for|messages about|messages with|history for))?\s+(.+?)\??$/i);
  if (search) return { tool: { name: 'search_history', input: { query: search[1]!.trim() } } };
  if (/^(?:please )?(?:summari[sz]e|summary|give me a summary)\b/i.test(text)) return { tool: { name: 'summarize_conversation', input: {} } };
  if (/^(?:stats|statistics|how many messages)\b/i.test(text)) return { tool: { name: 'conversation_stats', input: {} } };
  if (/^(?:help|what can you do)\b/i.test(text)) return { text: HELP_TEXT };
  return { text: NO_LLM_TEXT };
}

type ToolOutput = { type: string; value?: unknown; reason?: string };

/** Words the builtin agent says about a tool's result. */
export function describeResult(name: string, input: Record<string, unknown>, output: ToolOutput): string {
  if (output.type === 'error-text' || output.type === 'error-json' || output.type === 'execution-denied') {
    const reason = typeof output.value === 'string' ? output.value : JSON.stringify(output.value ?? output.reason ?? 'unknown error');
    return `The ${name} tool failed: ${reason}`;
  }
  const value = output.value as Record<string, unknown> & unknown[];
  switch (name) {
    case 'calculator':
      return `${String(value.expression)} = ${String(value.result)}`;
    case 'get_current_time':
      return `It is ${String(value.local)} (${String(value.timezone)}).`;
    case 'search_history': {
      const hits = value as unknown as { excerpt: string; conversationTitle: string; seq: number }[];
      if (!hits.length) return `No messages match "${String(input.query)}".`;
      const lines = hits.map((hit, i) => `${i + 1}. "${hit.excerpt}" — in ${hit.conversationTitle ? `"${hit.conversationTitle}"` : 'an untitled conversation'} (#${hit.seq})`);
      return [`Found ${hits.length} message${hits.length === 1 ? '' : 's'} matching "${String(input.query)}":`, ...lines].join('\n');
    }
    case 'conversation_stats': {
      const byRole = (value.byRole ?? {}) as Record<string, number>;
      return `This conversation has ${String(value.messages)} messages (${byRole.user ?? 0} from people, ${byRole.assistant ?? 0} from the agent) and ${String(value.participants)} participant${value.participants === 1 ? '' : 's'}.`;
    }
    case 'summarize_conversation':
      return value.messages ? `Summary of ${String(value.messages)} messages:\n${String(value.summary)}` : 'There is nothing to summarise yet.';
    default:
      return JSON.stringify(value);
  }
}

function lastUserText(prompt: LanguageModelV3Prompt): string {
  for (const message of prompt.toReversed()) {
    if (message.role !== 'user') continue;
    const text = message.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n');
    // In shared conversations turns arrive as "Name: text".
    const speaker = text.match(/^[^:\n]{1,80}: ([\s\S]*)$/);
    return speaker && recognise(speaker[1]!).text !== NO_LLM_TEXT ? speaker[1]! : text;
  }
  return '';
}

function promptTokens(prompt: LanguageModelV3Prompt): number {
  return prompt.reduce(
    (sum, message) =>
      sum +
      (typeof message.content === 'string'
        ? tokensOf(message.content)
        : message.content.reduce((inner, part) => inner + ('text' in part && typeof part.text === 'string' ? tokensOf(part.text) : 0), 0)),
    0,
  );
}

/**
 * The offline agent, as a language model: it never pretends to understand free text. It maps
 * commands and recognisable requests to tool calls, and tool results to plain answers, so its
 * replies travel the same streaming and tool pipeline as a real model's.
 */
export class BuiltinModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'builtin';
  readonly supportedUrls = {};

  constructor(readonly modelId = 'builtin') {}

  async doGenerate(): Promise<never> {
    throw new Error('The builtin agent only streams');
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    const { prompt } = options;
    const last = prompt.at(-1);
    const parts: LanguageModelV3StreamPart[] = [];
    let text = '';
    if (last?.role === 'tool') {
      const calls = new Map<string, Record<string, unknown>>();
      for (const message of prompt) {
        if (message.role !== 'assistant') continue;
        for (const part of message.content) if (part.type === 'tool-call') calls.set(part.toolCallId, (part.input ?? {}) as Record<string, unknown>);
      }
      text = last.content
        .flatMap((part) => (part.type === 'tool-result' ? [describeResult(part.toolName, calls.get(part.toolCallId) ?? {}, part.output as ToolOutput)] : []))
        .join('\n\n');
    } else {
      const intent = recognise(lastUserText(prompt));
      if (intent.tool && options.tools?.some((candidate) => candidate.name === intent.tool!.name)) {
        parts.push({ type: 'tool-call', toolCallId: `call_${randomUUID()}`, toolName: intent.tool.name, input: JSON.stringify(intent.tool.input) });
      } else {
        text = intent.text ?? NO_LLM_TEXT;
      }
    }
    const usage = {
      inputTokens: { total: promptTokens(prompt), noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: tokensOf(text || (parts.length ? JSON.stringify(parts) : '')), text: undefined, reasoning: undefined },
    };
    const textId = randomUUID();
    const stream = new ReadableStream<LanguageModelV3StreamPart>({
      async start(controller) {
        controller.enqueue({ type: 'stream-start', warnings: [] });
        if (text) {
          controller.enqueue({ type: 'text-start', id: textId });
          // Word by word, like a model would, so clients exercise the same streaming path.
          for (const piece of text.match(/\S+\s*|\s+/g) ?? []) {
            if (options.abortSignal?.aborted) break;
            controller.enqueue({ type: 'text-delta', id: textId, delta: piece });
            await new Promise((resolve) => setImmediate(resolve));
          }
          controller.enqueue({ type: 'text-end', id: textId });
        }
        for (const part of parts) controller.enqueue(part);
        controller.enqueue({
          type: 'finish',
          usage,
          finishReason: { unified: parts.length ? 'tool-calls' : 'stop', raw: undefined },
        });
        controller.close();
      },
    });
    return { stream };
  }
}
