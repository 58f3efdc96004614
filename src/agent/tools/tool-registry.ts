import { Injectable } from '@nestjs/common';
import type { JSONSchema7 } from '@ai-sdk/provider';
import { asSchema } from 'ai';
import { z } from 'zod';
import { ConversationsRepository } from '../../conversations/conversations.repository.js';
import { MessagesRepository } from '../../messages/messages.repository.js';
import type { BoundTool } from '../agent-steps.js';
import { ContextService } from '../context.service.js';
import { calculate, formatNumber } from './calculator.js';

export interface ToolContext {
  conversationId: string;
  /** Who asked: whose conversations search_history may look into when they are alone here. */
  userId: string;
}

export interface AgentTool<Input> {
  name: string;
  description: string;
  schema: z.ZodType<Input>;
  execute(input: Input, context: ToolContext, signal: AbortSignal): Promise<unknown>;
}

export class ToolTimeoutError extends Error {
  constructor(name: string, ms: number) {
    super(`Tool ${name} did not finish within ${ms} ms`);
  }
}

/** Valid IANA time zone names only (Intl throws a RangeError for the rest). */
function isTimeZone(value: string): boolean {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone.length > 0;
  } catch {
    return false;
  }
}

/**
 * The tools every provider (the builtin agent included) may call. Arguments are validated against
 * each tool's schema before it runs; each call is time-limited.
 */
@Injectable()
export class ToolRegistry {
  readonly tools: AgentTool<never>[];

  constructor(
    private readonly messages: MessagesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly context: ContextService,
  ) {
    this.tools = [
      this.define({
        name: 'search_history',
        description:
          "Full-text search over the messages of this conversation (of all the user's conversations when the user is alone in this one). " +
          'Returns matching excerpts, matches in **bold**, with where they were said.',
        schema: z.object({
          query: z.string().trim().min(1).max(200).describe('Words or phrases to look for (web-search syntax)'),
          limit: z.number().int().min(1).max(20).optional().describe('How many results (default 5)'),
        }),
        execute: async ({ query, limit }, { conversationId, userId }) => {
          // Everyone here reads the results: with other people present, only what they can all read.
          const view = await this.conversations.findView(conversationId);
          const alone = !!view && view.participants.every((participant) => participant.userId === userId);
          const hits = await this.messages.search(userId, query, limit ?? 5, { start: '**', stop: '**' }, alone ? undefined : conversationId);
          return hits.map((hit) => ({
            messageId: hit.message.id,
            conversationId: hit.message.conversationId,
            conversationTitle: hit.conversationTitle,
            seq: hit.message.seq,
            excerpt: hit.snippet,
            createdAt: hit.message.createdAt.toISOString(),
          }));
        },
      }),
      this.define({
        name: 'get_current_time',
        description: 'The current date and time, optionally in a given IANA time zone such as Europe/Paris.',
        schema: z.object({
          timezone: z.string().max(64).refine(isTimeZone, 'unknown time zone').optional().describe('IANA time zone; UTC when omitted'),
        }),
        execute: async ({ timezone }) => {
          const now = new Date();
          const timeZone = timezone ?? 'UTC';
          const local = new Intl.DateTimeFormat('en-GB', { timeZone, dateStyle: 'full', timeStyle: 'long' }).format(now);
          return { iso: now.toISOString(), timezone: timeZone, local };
        },
      }),
      this.define({
        name: 'calculator',
        description: 'Evaluates an arithmetic expression: + - * / % ^, parentheses, sqrt, abs, round, floor, ceil, sin, cos, tan, ln, log, exp, min, max, pi, e.',
        schema: z.object({ expression: z.string().min(1).max(500).describe('For example (2 + 3) * 4 ^ 2') }),
        execute: async ({ expression }) => ({ expression, result: formatNumber(calculate(expression)) }),
      }),
      this.define({
        name: 'conversation_stats',
        description: 'Counts for the current conversation: messages by role, participants, the latest sequence number.',
        schema: z.object({}),
        execute: async (_, { conversationId }) => {
          const view = await this.conversations.findView(conversationId);
          const byRole = await this.messages.countByRole(conversationId);
          return {
            title: view?.title ?? '',
            participants: view?.participants.length ?? 0,
            lastSeq: view?.lastSeq ?? 0,
            messages: Object.values(byRole).reduce((sum, count) => sum + count, 0),
            byRole,
          };
        },
      }),
      this.define({
        name: 'summarize_conversation',
        description: 'A summary of the current conversation so far, one line per turn, newest kept when long.',
        schema: z.object({ maxTokens: z.number().int().min(50).max(4000).optional() }),
        execute: async ({ maxTokens }, { conversationId }) => this.context.summarize(conversationId, maxTokens ?? 600),
      }),
    ];
  }

  private define<Input>(definition: AgentTool<Input>): AgentTool<never> {
    return definition as unknown as AgentTool<never>;
  }

  get names(): string[] {
    return this.tools.map((candidate) => candidate.name);
  }

  /** Each tool's JSON Schema as the AI SDK derives it from zod, made once. */
  private schemas: Promise<JSONSchema7[]> | undefined;

  /** The tools bound to one run's context, each under a time limit. */
  async bind(context: ToolContext, timeoutMs: number): Promise<BoundTool[]> {
    this.schemas ??= Promise.all(this.tools.map((definition) => asSchema(definition.schema as z.ZodType<unknown>).jsonSchema));
    const schemas = await this.schemas;
    return this.tools.map((definition, index) => ({
      name: definition.name,
      description: definition.description,
      inputSchema: schemas[index]!,
      parse: (input: unknown) => {
        const parsed = (definition.schema as z.ZodType<unknown>).safeParse(input);
        if (parsed.success) return parsed.data;
        const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`).join('; ');
        throw new Error(`Invalid arguments for ${definition.name}: ${issues}`);
      },
      execute: async (input: unknown, signal: AbortSignal) => {
        const controller = new AbortController();
        const onAbort = () => controller.abort();
        signal.addEventListener('abort', onAbort);
        let timer: NodeJS.Timeout | undefined;
        try {
          return await Promise.race([
            definition.execute(input as never, context, controller.signal),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => {
                controller.abort();
                reject(new ToolTimeoutError(definition.name, timeoutMs));
              }, timeoutMs);
            }),
          ]);
        } finally {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        }
      },
    }));
  }
}
