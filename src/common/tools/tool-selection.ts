/**
 * Which tools a conversation's agent may use: `null` for every tool the server offers, or a list of
 * entries, each an exact tool name (`calculator`, `docs__search`) or a whole source as
 * `<prefix>__*` (`github__*`, `workflow__*`). Names nothing offers right now are kept: the server
 * that offers them may be offline for the moment.
 */
export type ToolSelection = readonly string[] | null;

export const MAX_TOOL_SELECTION_ENTRIES = 128;
export const MAX_TOOL_SELECTION_ENTRY_LENGTH = 64;
/** A provider-safe tool name, or such a prefix followed by `__*`. */
export const TOOL_SELECTION_ENTRY = /^[A-Za-z0-9_-]+(?:__\*)?$/;

const WHOLE_SOURCE = '*';

/** Whether the selection lets the agent use the tool of this name. */
export function isToolSelected(name: string, selection: ToolSelection): boolean {
  if (selection === null) return true;
  return selection.some((entry) => (entry.endsWith(WHOLE_SOURCE) ? name.startsWith(entry.slice(0, -WHOLE_SOURCE.length)) : name === entry));
}
