/** The JSON Schemas (with names and descriptions) of all MCP tools offered at once, in characters. */
export const MAX_TOOL_SCHEMA_CHARS = 256 * 1024;

export interface ToolBudget {
  maxTools: number;
  maxSchemaChars: number;
}

export interface BudgetedTool {
  server: string;
  /** What the tool adds to each request to the model. */
  size: number;
}

/**
 * The tools that fit the budget, in the order given (servers in configuration order, each one's
 * tools in its own order), and how many of each server's were left out. A tool too large for what
 * remains is skipped; smaller ones after it may still fit.
 */
export function withinBudget<T extends BudgetedTool>(tools: readonly T[], budget: ToolBudget): { offered: T[]; leftOut: Map<string, number> } {
  const offered: T[] = [];
  const leftOut = new Map<string, number>();
  let size = 0;
  for (const tool of tools) {
    if (offered.length < budget.maxTools && size + tool.size <= budget.maxSchemaChars) {
      offered.push(tool);
      size += tool.size;
    } else {
      leftOut.set(tool.server, (leftOut.get(tool.server) ?? 0) + 1);
    }
  }
  return { offered, leftOut };
}
