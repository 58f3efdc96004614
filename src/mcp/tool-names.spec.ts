import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignToolNames, mcpToolName, PROVIDER_TOOL_NAME, type ServerTool } from './tool-names.js';

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

describe('assignToolNames', () => {
  it('keeps two servers whose plain names clash apart', () => {
    const tools = [
      { server: 'gh_', remoteName: 'delete_repo' },
      { server: 'gh', remoteName: '_delete_repo' },
      { server: 'a', remoteName: 'b__c' },
      { server: 'a__b', remoteName: 'c' },
    ];
    const names = assignToolNames(tools);
    expect(new Set(names).size).toBe(4);
    expect(names).toContain('gh___delete_repo');
    expect(names).toContain('a__b__c');
  });

  // Server names as MCP_CONFIG allows them; tool names as servers send them (anything). Names with
  // underscores at the joint are drawn often: that is where `<server>__<tool>` clashes.
  const clashProneServer = fc.oneof(fc.constantFrom('gh', 'gh_', 'gh__', 'a', 'a__b', 'a_'), serverName);
  const toolName = fc.oneof(fc.constantFrom('delete_repo', '_delete_repo', '__delete_repo', 'c', 'b__c', '_b__c'), fc.stringMatching(/^[_a-z]{0,12}$/), fc.string({ maxLength: 70 }));
  const serverTools = fc
    .uniqueArray(clashProneServer, { minLength: 1, maxLength: 6 })
    .chain((servers) =>
      fc.tuple(
        ...servers.map((server) =>
          fc.uniqueArray(toolName, { maxLength: 12 }).map((tools) =>
            tools.map((remoteName): ServerTool => ({ server, remoteName })),
          ),
        ),
      ),
    )
    .map((lists) => lists.flat());

  it('gives every tool of every server a distinct provider-safe name, whatever the servers and tools are called', () => {
    fc.assert(
      fc.property(serverTools, (tools) => {
        const names = assignToolNames(tools);
        expect(names).toHaveLength(tools.length);
        expect(new Set(names).size).toBe(tools.length);
        for (const name of names) {
          expect(name.length).toBeLessThanOrEqual(64);
          expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
        }
      }),
    );
  });

  it('names the same tools the same way whatever order they were listed or connected in', () => {
    fc.assert(
      fc.property(serverTools.chain((tools) => fc.tuple(fc.constant(tools), fc.shuffledSubarray(tools, { minLength: tools.length }))), ([tools, shuffled]) => {
        const named = new Map(assignToolNames(tools).map((name, i) => [tools[i]!, name]));
        const again = assignToolNames(shuffled);
        shuffled.forEach((tool, i) => expect(again[i]).toBe(named.get(tool)));
      }),
    );
  });
});
