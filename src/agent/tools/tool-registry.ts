import { Inject, Injectable } from '@nestjs/common';
import type { JSONSchema7 } from '@ai-sdk/provider';
import { asSchema } from 'ai';
import type { z } from 'zod';
import { ConversationsRepository } from '../../conversations/conversations.repository.js';
import { DocumentSearchService } from '../../documents/document-search.service.js';
import { type ApprovalPolicy, EXTERNAL_TOOL_SOURCES, type ExternalTool, type ExternalToolSource } from '../../common/tools/external-tool.js';
import { isToolSelected, type ToolSelection } from '../../common/tools/tool-selection.js';
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

export const TOOL_SOURCES = ['builtin', 'mcp', 'workflow'] as const;
export type ToolSource = (typeof TOOL_SOURCES)[number];

/** A tool as the server offers it right now, for people choosing which ones a conversation may use. */
export interface ToolDescription {
  name: string;
  description: string;
  source: ToolSource;
  /** The MCP server that serves it. */
  server?: string;
  approval: ApprovalPolicy;
  inputSchema: JSONSchema7;
}

/**
 * The tools every provider (the builtin agent included) may call: the built-in ones and those of
 * the connected MCP servers. Arguments are validated against each tool's schema before it runs;
 * each call is time-limited.
 */
@Injectable()
export class ToolRegistry {
  private readonly tools: AgentTool<never>[];
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

  /**
   * The tools bound to one run's context, each under a time limit: only those the conversation's
   * selection allows (built-in ones included), so the model is never offered another.
   */
  async bind(context: ToolContext, timeoutMs: number, selection: ToolSelection = null): Promise<BoundTool[]> {
    const schemas = await this.builtinSchemas();
    const builtins = this.tools.flatMap((definition, index): BoundTool[] => {
      if (!isToolSelected(definition.name, selection)) return [];
      return [
        {
          name: definition.name,
          description: definition.description,
          inputSchema: schemas[index]!,
          approval: 'never',
          parse: (input: unknown) => parseInput(definition, input),
          execute: (input: unknown, signal: AbortSignal) =>
            executeWithin(definition.name, (own) => definition.execute(input as never, context, own), signal, timeoutMs),
        },
      ];
    });
    const external = this.externalTools()
      .filter((tool) => isToolSelected(tool.name, selection))
      .map((tool) => this.bindExternal(tool, context, timeoutMs));
    return [...builtins, ...external];
  }

  /** Every tool offered right now, built-in ones first, in the order the model is offered them. */
  async describe(): Promise<ToolDescription[]> {
    const schemas = await this.builtinSchemas();
    const builtins = this.tools.map(
      (definition, index): ToolDescription => ({
        name: definition.name,
        description: definition.description,
        source: 'builtin',
        approval: 'never',
        inputSchema: schemas[index]!,
      }),
    );
    const external = this.externalTools().map(
      ({ name, description, origin, approval, inputSchema }): ToolDescription => ({
        name,
        description,
        source: origin.kind,
        ...(origin.kind === 'mcp' && { server: origin.name }),
        approval,
        inputSchema,
      }),
    );
    return [...builtins, ...external];
  }

  /** Each built-in tool's JSON Schema as the AI SDK derives it from zod, made once. */
  private builtinSchemas(): Promise<JSONSchema7[]> {
    this.schemas ??= Promise.all(this.tools.map((definition) => asSchema(definition.schema as z.ZodType<unknown>).jsonSchema));
    return this.schemas;
  }

  private externalTools(): ExternalTool[] {
    return this.sources.flatMap((source) => source.tools());
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
