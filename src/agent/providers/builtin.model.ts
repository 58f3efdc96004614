import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Prompt,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
} from '@ai-sdk/provider';
import { randomUUID } from 'node:crypto';
import { tokensOf } from '../../common/text/tokens.js';
import type { DocumentSearchOutput } from '../tools/search-documents.js';
import { attachmentMark } from '../attachment-parts.js';
import { describeAttachments } from './builtin-attachments.js';

export const HELP_TEXT = [
  "I'm the built-in assistant. No language model is configured, so I answer commands:",
  '- `/help` — this list',
  '- `/time [time zone]` — the current time, e.g. `/time Europe/Paris`',
  '- `/calc <expression>` — arithmetic, e.g. `/calc (2 + 3) * 4`',
  '- `/search <words>` — search this conversation (all of yours when you are alone in it)',
  "- `/docs <words>` — search this conversation's documents (also your library and all your conversations' when you are alone in it)",
  '- `/stats` — counts for this conversation',
  '- `/summary` — a summary of this conversation',
  '- `/tools` — the tools I can call here, those of MCP servers and workflows included',
  '- `/tool <name> {json}` — call one, e.g. `/tool everything__echo {"message": "hi"}` (one that asks for approval waits for yours)',
  'Plain requests work too: "what time is it in Tokyo?", "calculate 12 * 7", "search for budget", "search my documents for the lease", "summarize".',
].join('\n');

export const NO_LLM_TEXT =
  "I'm the built-in assistant and no language model is configured, so I can't hold a conversation — " +
  'only answer commands (try /help). To chat freely, set AGENT_PROVIDER=openai with OPENAI_API_KEY ' +
  '(and OPENAI_BASE_URL for Ollama, vLLM, llama.cpp or LM Studio), or AGENT_PROVIDER=anthropic with ANTHROPIC_API_KEY.';

interface Intent {
  tool?: { name: string; input: Record<string, unknown> };
  text?: string;
  /** List the tools offered here. */
  tools?: true;
}

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const TOOL_USAGE = 'Usage: `/tool <name> {json arguments}`, e.g. `/tool calculator {"expression": "2 + 2"}`. `/tools` lists the tools.';

/** `/tool <name> {json}`: a call of any tool offered here, with the arguments as written (checked by the tool's schema). */
function toolCommand(rest: string): Intent {
  const [name = ''] = rest.split(/\s/, 1);
  const json = rest.slice(name.length).trim();
  if (!TOOL_NAME.test(name)) return { text: TOOL_USAGE };
  if (!json) return { tool: { name, input: {} } };
  try {
    const input: unknown = JSON.parse(json);
    if (typeof input === 'object' && input !== null && !Array.isArray(input)) return { tool: { name, input: input as Record<string, unknown> } };
  } catch {
    // Not JSON: the usage below says what is.
  }
  return { text: `The arguments must be one JSON object. ${TOOL_USAGE}` };
}

/** Finds the IANA zone for "Tokyo", "new york" or "Europe/Paris". */
function resolveTimeZone(name: string): string | undefined {
  const wanted = name.trim().replace(/\s+/g, '_').toLowerCase();
  if (!wanted) return undefined;
  const zones = [...Intl.supportedValuesOf('timeZone'), 'UTC'];
  return zones.find((zone) => zone.toLowerCase() === wanted) ?? zones.find((zone) => zone.toLowerCase().endsWith(`/${wanted}`));
}

// These matchers run in time linear in their input: no two adjacent quantifiers can match the
// same character, so a failed match never retries other ways of splitting the text (the
// backtracking that let one message block the event loop for minutes). src/common/regex-safety.spec.ts
// checks every regular expression in src for this.
const COMMAND = /^\/(\w+)/;
const TIME_REQUEST = /^(?:(?:what(?:'s| is) the )?(?:current )?time(?: is it)?(?: now)?|what time is it)(?: in ([\p{L} _/-]+))?$/iu;
const CALCULATION_REQUEST = /^(?:calculate|compute|what(?:'s| is))\s+(\S[\s\S]*)$/i;
const ARITHMETIC = /^[\d\s+\-*/%^().,]+$/;
const FUNCTION_CALL = /^(?:sqrt|abs|round|floor|ceil|sin|cos|tan|ln|log|exp|min|max)\s*\(.*\)$/i;
const DOCUMENTS_REQUEST = /^(?:(?:search|look through|look in|find in) (?:(?:my|our|the) )?(?:documents|docs|files)(?: for)?|what do (?:my |our |the )?(?:documents|docs|files) say(?: about)?)\s+(\S.*)$/i;
const SEARCH_REQUEST = /^(?:search|find|look up)(?: (?:for|messages about|messages with|history for))?\s+(\S.*)$/i;
const SUMMARY_REQUEST = /^(?:please )?(?:summari[sz]e|summary|give me a summary)\b/i;
const STATS_REQUEST = /^(?:stats|statistics|how many messages)\b/i;
const HELP_REQUEST = /^(?:help|what can you do)\b/i;

/** Plain-language requests are short: longer text is never read as one, whatever it contains. */
export const MAX_REQUEST_LENGTH = 1_000;

/** "what time is it in Tokyo ?" → "what time is it in Tokyo": the request without its question mark. */
function withoutQuestionMark(text: string): string {
  return (text.endsWith('?') ? text.slice(0, -1) : text).trimEnd();
}

function isCalculation(expression: string): boolean {
  return (ARITHMETIC.test(expression) && /\d/.test(expression)) || FUNCTION_CALL.test(expression);
}

/** What the user asked for: a slash command or a recognisable plain-language request. */
export function recognise(raw: string): Intent {
  const text = raw.replace(/@agent\b/gi, '').trim();
  const command = COMMAND.exec(text);
  if (command) {
    const name = command[1]!;
    const rest = text.slice(command[0].length).trim();
    switch (name.toLowerCase()) {
      case 'help':
        return { text: HELP_TEXT };
      case 'time':
        return { tool: { name: 'get_current_time', input: rest ? { timezone: resolveTimeZone(rest) ?? rest } : {} } };
      case 'calc':
        return rest ? { tool: { name: 'calculator', input: { expression: rest } } } : { text: 'Usage: `/calc <expression>`, e.g. `/calc 2 + 2`.' };
      case 'search':
        return rest ? { tool: { name: 'search_history', input: { query: rest } } } : { text: 'Usage: `/search <words>`.' };
      case 'docs':
        return rest ? { tool: { name: 'search_documents', input: { query: rest } } } : { text: 'Usage: `/docs <words>`, e.g. `/docs notice period`.' };
      case 'stats':
        return { tool: { name: 'conversation_stats', input: {} } };
      case 'summary':
        return { tool: { name: 'summarize_conversation', input: {} } };
      case 'tool':
        return toolCommand(rest);
      case 'tools':
        return { tools: true };
      default:
        return { text: `Unknown command /${name}. ${HELP_TEXT}` };
    }
  }
  if (text.length > MAX_REQUEST_LENGTH) return { text: NO_LLM_TEXT };
  const request = withoutQuestionMark(text);
  const time = TIME_REQUEST.exec(request);
  if (time) return { tool: { name: 'get_current_time', input: time[1] ? { timezone: resolveTimeZone(time[1]) ?? time[1] } : {} } };
  const calculation = CALCULATION_REQUEST.exec(request);
  if (calculation && isCalculation(calculation[1]!)) return { tool: { name: 'calculator', input: { expression: calculation[1]! } } };
  const documents = DOCUMENTS_REQUEST.exec(request);
  if (documents) return { tool: { name: 'search_documents', input: { query: documents[1]! } } };
  const search = SEARCH_REQUEST.exec(request);
  if (search) return { tool: { name: 'search_history', input: { query: search[1]! } } };
  if (SUMMARY_REQUEST.test(text)) return { tool: { name: 'summarize_conversation', input: {} } };
  if (STATS_REQUEST.test(text)) return { tool: { name: 'conversation_stats', input: {} } };
  if (HELP_REQUEST.test(text)) return { text: HELP_TEXT };
  return { text: NO_LLM_TEXT };
}

/** Said instead of calling a tool the conversation does not let the agent use (the agent calls only what it is offered). */
export function toolNotAllowedText(name: string): string {
  return (
    `The ${name} tool is not enabled in this conversation, so I can't do that here. ` +
    "The conversation's owner can allow it in the agent settings (agent.tools)."
  );
}

type ToolOutput = { type: string; value?: unknown; reason?: string };

/** Words the builtin agent says about a tool's result. */
function describeResult(name: string, input: Record<string, unknown>, output: ToolOutput): string {
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
    case 'search_documents':
      return describePassages(String(input.query), value as unknown as DocumentSearchOutput);
    case 'conversation_stats': {
      const byRole = (value.byRole ?? {}) as Record<string, number>;
      return `This conversation has ${String(value.messages)} messages (${byRole.user ?? 0} from people, ${byRole.assistant ?? 0} from the agent) and ${String(value.participants)} participant${value.participants === 1 ? '' : 's'}.`;
    }
    case 'summarize_conversation':
      return value.messages ? `Summary of ${String(value.messages)} messages:\n${String(value.summary)}` : 'There is nothing to summarise yet.';
    default:
      // MCP results carry their text; anything else is shown as the JSON it is.
      return typeof value?.text === 'string' ? value.text : JSON.stringify(value);
  }
}

/** The tools offered in this conversation, by name. */
function listTools(offered: readonly { name: string; description?: string }[]): string {
  if (!offered.length) return 'No tools are enabled in this conversation.';
  const lines = offered.map((tool) => `- \`${tool.name}\`${tool.description ? ` — ${tool.description.split('\n', 1)[0]!.slice(0, 120)}` : ''}`);
  return [`I can call ${offered.length} tool${offered.length === 1 ? '' : 's'} here (\`/tool <name> {json}\`):`, ...lines].join('\n');
}

/** Where search_documents looked, in words. */
function searchedIn(scope: DocumentSearchOutput['scope'], count: number): string {
  const documents = `${count} document${count === 1 ? '' : 's'}`;
  return scope === 'user' ? `your ${documents}` : `the ${documents} of this conversation`;
}

/** The passages found, each with the document it comes from; or, honestly, why there are none. */
function describePassages(query: string, { scope, results, documents }: DocumentSearchOutput): string {
  if (results.length) {
    const lines = results.map((passage, i) => {
      const where = [passage.title, passage.page !== null && `p. ${passage.page}`, passage.heading && `under "${passage.heading}"`].filter(Boolean).join(', ');
      return `${i + 1}. "${passage.excerpt.replace(/\s+/g, ' ').trim()}" — ${where}`;
    });
    return [`Found ${results.length} passage${results.length === 1 ? '' : 's'} matching "${query}":`, ...lines].join('\n');
  }
  const { searchable = 0, processing = 0 } = documents ?? {};
  const pending = processing ? ` ${processing} more ${processing === 1 ? 'is' : 'are'} still being processed.` : '';
  if (searchable) return `No passage in ${searchedIn(scope, searchable)} matches "${query}".${pending}`;
  if (processing) return `There is nothing to search yet: ${processing} document${processing === 1 ? ' is' : 's are'} still being processed. Ask again in a moment.`;
  return scope === 'user'
    ? 'You have no documents to search yet, neither in your library nor in your conversations. Upload one first.'
    : 'This conversation has no documents to search yet. Upload one to it first.';
}

/** In shared conversations turns arrive as "Name: text", the name up to 80 characters on one line. */
function withoutSpeaker(text: string): string | undefined {
  const colon = text.indexOf(':');
  if (colon < 1 || colon > 80 || text[colon + 1] !== ' ' || text.lastIndexOf('\n', colon) >= 0) return undefined;
  return text.slice(colon + 2);
}

export function lastUserText(prompt: LanguageModelV3Prompt): string {
  for (const message of prompt.toReversed()) {
    if (message.role !== 'user') continue;
    const text = message.content.flatMap((part) => (part.type === 'text' && !attachmentMark(part) ? [part.text] : [])).join('\n');
    const spoken = withoutSpeaker(text);
    return spoken !== undefined && recognise(spoken).text !== NO_LLM_TEXT ? spoken : text;
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

/** Tool results put in words; otherwise the tool call the user asked for, if this conversation offers it, or what to say instead. */
function reply(prompt: LanguageModelV3Prompt, offered: NonNullable<LanguageModelV3CallOptions['tools']>): { text: string; parts: LanguageModelV3StreamPart[] } {
  const last = prompt.at(-1);
  if (last?.role === 'tool') {
    const calls = new Map<string, Record<string, unknown>>();
    for (const message of prompt) {
      if (message.role !== 'assistant') continue;
      for (const part of message.content) if (part.type === 'tool-call') calls.set(part.toolCallId, (part.input ?? {}) as Record<string, unknown>);
    }
    const text = last.content
      .flatMap((part) => (part.type === 'tool-result' ? [describeResult(part.toolName, calls.get(part.toolCallId) ?? {}, part.output as ToolOutput)] : []))
      .join('\n\n');
    return { text, parts: [] };
  }
  const intent = recognise(lastUserText(prompt));
  if (intent.tools) return { text: listTools(offered.flatMap((tool) => (tool.type === 'function' ? [tool] : []))), parts: [] };
  if (!intent.tool) return { text: (intent.text === NO_LLM_TEXT && describeAttachments(prompt)) || (intent.text ?? NO_LLM_TEXT), parts: [] };
  const { name, input } = intent.tool;
  if (!offered.some((candidate) => candidate.name === name)) return { text: toolNotAllowedText(name), parts: [] };
  return { text: '', parts: [{ type: 'tool-call', toolCallId: `call_${randomUUID()}`, toolName: name, input: JSON.stringify(input) }] };
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
    const { text, parts } = reply(prompt, options.tools ?? []);
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
