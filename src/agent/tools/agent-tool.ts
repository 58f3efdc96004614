import type { z } from 'zod';

export interface ToolContext {
  conversationId: string;
  /** Who asked: whose library and conversations the search tools may look into when they are alone here. */
  userId: string;
}

export interface AgentTool<Input> {
  name: string;
  description: string;
  schema: z.ZodType<Input>;
  execute(input: Input, context: ToolContext, signal: AbortSignal): Promise<unknown>;
}

/** A tool typed by its own schema, listed among tools of any input (its schema checks the input first). */
export function defineTool<Input>(definition: AgentTool<Input>): AgentTool<never> {
  return definition as unknown as AgentTool<never>;
}
