import type { JSONSchema7 } from '@ai-sdk/provider';

/**
 * Whether a call of a tool waits for a person's approval: `always` pauses the run until the user
 * who asked (or the conversation's owner) decides; `never` runs it at once.
 */
export const APPROVAL_POLICIES = ['always', 'never'] as const;
export type ApprovalPolicy = (typeof APPROVAL_POLICIES)[number];

/**
 * The most of an external tool's result (text, or JSON serialised) that is recorded and given to
 * the model: the answer is stored with the reply and sent to every participant.
 */
export const MAX_RESULT_CHARS = 32_768;

/** Where a tool comes from besides the built-in ones; recorded with every call (audit trail). */
export interface ToolOrigin {
  kind: 'mcp' | 'workflow';
  /** The MCP server's or the workflow's name. */
  name: string;
}

/** What an external tool is told about the call it serves (a webhook forwards it; MCP ignores it). */
export interface ExternalCall {
  /** Aborts the call: the run ended, or the time limit passed. */
  signal: AbortSignal;
  timeoutMs: number;
  conversationId: string;
  /** Who asked the agent. */
  userId: string;
}

/** A tool served by something outside this process: an MCP server, a workflow webhook. */
export interface ExternalTool {
  /** The name the model sees, unique among all tools. */
  name: string;
  description: string;
  inputSchema: JSONSchema7;
  approval: ApprovalPolicy;
  origin: ToolOrigin;
  /** Throws a readable message for the model when the input does not match the schema. */
  check(input: unknown): void;
  call(input: unknown, call: ExternalCall): Promise<unknown>;
}

/** A provider of external tools: lists those usable right now (a disconnected server lists none). */
export interface ExternalToolSource {
  tools(): ExternalTool[];
}

/** The injection token of the list of every ExternalToolSource. */
export const EXTERNAL_TOOL_SOURCES = Symbol('EXTERNAL_TOOL_SOURCES');
