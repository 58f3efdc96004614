import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mcpToolName, PROVIDER_TOOL_NAME } from './tool-names.js';

const serverName = fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/);

describe('mcpToolName', () => {
  it('keeps a plain name as <server>__<tool>', () => {
    expect(mcpToolName('github', 'create_issue', new Set())).toBe('github__create_issue');
    expect(mcpToolName('everything', 'get-sum', new Set())).toBe('everything__get-sum');
  });

  it('always gives a provider-safe name under the server prefix, whatever the tool is called', () => {
    fc.assert(
      fc.property(serverName, fc.string({ maxLength: 300, unit: 'grapheme' }), (server, tool) => {
        const name = mcpToolName(server, tool, new Set());
        expect(name).toMatch(PROVIDER_TOOL_NAME);
        expect(name.startsWith(`${server}__`)).toBe(true);
        expect(mcpToolName(server, tool, new Set())).toBe(name);
      }),
    );
  });

  it('never gives two tools of a server the same name, even when their cleaned names clash', () => {
    fc.assert(
      fc.property(serverName, fc.uniqueArray(fc.string({ maxLength: 80 }), { minLength: 1, maxLength: 30 }), (server, tools) => {
        const taken = new Set<string>();
        for (const tool of tools) {
          const name = mcpToolName(server, tool, taken);
          expect(taken.has(name)).toBe(false);
          taken.add(name);
        }
        expect(taken.size).toBe(tools.length);
      }),
    );
    const taken = new Set<string>();
    const names = ['a.b', 'a b', 'a_b'].map((tool) => {
      const name = mcpToolName('s', tool, taken);
      taken.add(name);
      return name;
    });
    expect(new Set(names).size).toBe(3);
  });
});
