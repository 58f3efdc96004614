import { describe, expect, it } from 'vitest';
import { MAX_RESULT_CHARS } from '../common/tools/external-tool.js';
import { McpToolError, toolOutput } from './mcp-tool.js';

describe('toolOutput', () => {
  it('joins the text parts, keeps structured content and describes other content without its data', () => {
    const output = toolOutput({
      content: [
        { type: 'text', text: 'first' },
        { type: 'image', data: 'iVBORw0KGgo=', mimeType: 'image/png' },
        { type: 'text', text: 'second' },
        { type: 'resource_link', uri: 'file:///a.txt', name: 'a.txt' },
      ],
      structuredContent: { temperature: 21 },
    });
    expect(output).toEqual({
      text: 'first\nsecond',
      structuredContent: { temperature: 21 },
      content: [
        { type: 'image', mimeType: 'image/png' },
        { type: 'resource_link', uri: 'file:///a.txt', name: 'a.txt' },
      ],
    });
  });

  it('turns isError into a failed call carrying the server text', () => {
    expect(() => toolOutput({ content: [{ type: 'text', text: 'no such city' }], isError: true })).toThrow(new McpToolError('no such city'));
    expect(() => toolOutput({ content: [], isError: true })).toThrow(McpToolError);
  });

  it('cuts a huge answer and says so', () => {
    const output = toolOutput({ content: [{ type: 'text', text: 'x'.repeat(MAX_RESULT_CHARS * 3) }], structuredContent: { blob: 'y'.repeat(MAX_RESULT_CHARS) } });
    expect(output.text).toHaveLength(MAX_RESULT_CHARS);
    expect(output.truncated).toBe(true);
    expect(output).not.toHaveProperty('structuredContent');
  });
});
