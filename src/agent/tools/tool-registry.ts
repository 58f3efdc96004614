import { Inject, Injectable } from '@nestjs/common';
import type { JSONSchema7 } from '@ai-sdk/provider';
import { asSchema } from 'ai';
import type { z } from 'zod';
import { ConversationsRepository } from '../../conversations/conversations.repository.js';
import { DocumentSearchService } from '../../documents/document-search.service.js';
import { EXTERNAL_TOOL_SOURCES, type ExternalTool, type ExternalToolSource } from '../../common/tools/external-tool.js';
import { MessagesRepository } from '../../messages/messages.repository.js';
import type { BoundTool } from '../agent-steps.js';
import { ContextService } from '../context.service.js';
import type { AgentTool, ToolContext } from './agent-tool.js';
import { builtinTools } from './builtin-tools.js';

class ToolTimeoutError extends Error {
  constructor(name: string, ms: number) {
    super(`Tool ${name} did not finish within ${ms} ms`);
  }
}

/** The input as the tool's schema reads it; throws a readable message for the model when it does not match. */
function parseInput(definition: AgentTool<never>, input: unknown): unknown {
  const parsed = (definition.schema as z.ZodType<unknown>).safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`).join('; ');
  throw new Error(`Invalid arguments for ${definition.name}: ${issues}`);
}

/** Runs a tool under a time limit; the tool's own signal aborts with the run or at the limit. */
async function executeWithin(name: string, run: (signal: AbortSignal) => Promise<unknown>, signal: AbortSignal, timeoutMs: number): Promise<unknown> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal.addEventListener('abort', onAbort);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run(controller.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new ToolTimeoutError(name, timeoutMs));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The tools every provider (the builtin agent included) may call: the built-in ones and those of
 * the connected MCP servers. Arguments are validated against each tool's schema before it runs;
 * each call is time-limited.
 */
@Injectable()
export class ToolRegistry {
  private readonly tools: AgentTool<never>[];
  /** Each tool's JSON Schema as the AI SDK derives it from zod, made once. */
  private schemas: Promise<JSONSchema7[]> | undefined;

  constructor(
    messages: MessagesRepository,
    conversations: ConversationsRepository,
    context: ContextService,
    documents: DocumentSearchService,
    @Inject(EXTERNAL_TOOL_SOURCES) private readonly sources: ExternalToolSource[],
  ) {
    this.tools = builtinTools({ messages, conversations, context, documents });
  }

  /** The tools bound to one run's context, each under a time limit. */
  async bind(context: ToolContext, timeoutMs: number): Promise<BoundTool[]> {
    this.schemas ??= Promise.all(this.tools.map((definition) => asSchema(definition.schema as z.ZodType<unknown>).jsonSchema));
    const schemas = await this.schemas;
    const builtins = this.tools.map((definition, index) => ({
      name: definition.name,
      description: definition.description,
      inputSchema: schemas[index]!,
      approval: 'never' as const,
      parse: (input: unknown) => parseInput(definition, input),
      execute: (input: unknown, signal: AbortSignal) =>
        executeWithin(definition.name, (own) => definition.execute(input as never, context, own), signal, timeoutMs),
    }));
    const external = this.sources.flatMap((source) => source.tools()).map((tool) => this.bindExternal(tool, context, timeoutMs));
    return [...builtins, ...external];
  }

  /** An MCP or workflow tool as the model sees it; the remote side is given the same time limit. */
  private bindExternal(tool: ExternalTool, context: ToolContext, timeoutMs: number): BoundTool {
    return {
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputSchema,
      approval: tool.approval,
      origin: tool.origin,
      parse: (input: unknown) => {
        tool.check(input);
        return input;
      },
      execute: (input: unknown, signal: AbortSignal) =>
        executeWithin(tool.name, (own) => tool.call(input, { signal: own, timeoutMs, ...context }), signal, timeoutMs),
    };
  }
}
