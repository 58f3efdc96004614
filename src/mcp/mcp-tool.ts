import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { type ApprovalPolicy, MAX_RESULT_CHARS } from '../common/tools/external-tool.js';
import type { CompiledSchema } from '../common/tools/json-schema.js';

/** One tool of a connected MCP server; the name the model sees is given over all servers (tool-names.ts). */
export interface McpTool {
  server: string;
  /** The tool's name on its server. */
  remoteName: string;
  description: string;
  schema: CompiledSchema;
  approval: ApprovalPolicy;
}

/** What a tool call records and feeds back to the model. */
export interface McpToolOutput {
  text: string;
  /** Set when the text or the structured content was cut to MAX_RESULT_CHARS. */
  truncated?: true;
  structuredContent?: Record<string, unknown>;
  /** Content other than text (images, audio, resources), described without its data. */
  content?: Array<{ type: string; mimeType?: string; uri?: string; name?: string }>;
}

/** A call the server answered with isError: recorded as a failed call, its text told to the model. */
export class McpToolError extends Error {
  override readonly name = 'McpToolError';
}

type ContentPart = CallToolResult['content'][number];

function describe(part: ContentPart): { type: string; mimeType?: string; uri?: string; name?: string } {
  switch (part.type) {
    case 'image':
    case 'audio':
      return { type: part.type, mimeType: part.mimeType };
    case 'resource':
      return { type: part.type, uri: part.resource.uri, ...(part.resource.mimeType ? { mimeType: part.resource.mimeType } : {}) };
    case 'resource_link':
      return { type: part.type, uri: part.uri, name: part.name, ...(part.mimeType ? { mimeType: part.mimeType } : {}) };
    default:
      return { type: part.type };
  }
}

/** The recorded output of a call; throws McpToolError when the server reported the call failed. */
export function toolOutput(result: CallToolResult): McpToolOutput {
  const parts = Array.isArray(result.content) ? result.content : [];
  const text = parts
    .filter((part): part is Extract<ContentPart, { type: 'text' }> => part.type === 'text')
    .map((part) => part.text)
    .join('\n');
  if (result.isError === true) throw new McpToolError(text.slice(0, MAX_RESULT_CHARS) || 'The tool reported an error without a message');
  const others = parts.filter((part) => part.type !== 'text').map(describe).slice(0, 32);
  const structured = result.structuredContent;
  const structuredFits = structured !== undefined && JSON.stringify(structured).length <= MAX_RESULT_CHARS;
  const truncated = text.length > MAX_RESULT_CHARS || (structured !== undefined && !structuredFits);
  return {
    text: text.slice(0, MAX_RESULT_CHARS),
    ...(truncated ? { truncated: true as const } : {}),
    ...(structuredFits ? { structuredContent: structured } : {}),
    ...(others.length > 0 ? { content: others } : {}),
  };
}
