import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BudgetedTool, withinBudget } from './tool-budget.js';

const tool = (server: string, size = 100): BudgetedTool => ({ server, size });

describe('withinBudget', () => {
  it('offers at most maxTools, the first servers first, and counts what each server lost', () => {
    const tools = [...Array.from({ length: 60 }, () => tool('a')), ...Array.from({ length: 60 }, () => tool('b')), tool('c')];
    const { offered, leftOut } = withinBudget(tools, { maxTools: 96, maxSchemaChars: 1_000_000 });
    expect(offered).toHaveLength(96);
    expect(offered.filter((t) => t.server === 'a')).toHaveLength(60);
    expect(leftOut).toEqual(new Map([['b', 24], ['c', 1]]));
  });

  it('keeps the schemas within their size budget, still taking smaller tools after a large one', () => {
    const tools = [tool('a', 200_000), tool('a', 100_000), tool('b', 50_000), tool('b', 10_000)];
    const { offered, leftOut } = withinBudget(tools, { maxTools: 96, maxSchemaChars: 256 * 1024 });
    expect(offered.map((t) => t.size)).toEqual([200_000, 50_000, 10_000]);
    expect(leftOut).toEqual(new Map([['a', 1]]));
  });

  it('never exceeds either limit and accounts for every tool', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ server: fc.constantFrom('a', 'b', 'c'), size: fc.integer({ min: 1, max: 70_000 }) }), { maxLength: 400 }),
        fc.integer({ min: 0, max: 128 }),
        (tools, maxTools) => {
          const { offered, leftOut } = withinBudget(tools, { maxTools, maxSchemaChars: 256 * 1024 });
          expect(offered.length).toBeLessThanOrEqual(maxTools);
          expect(offered.reduce((sum, t) => sum + t.size, 0)).toBeLessThanOrEqual(256 * 1024);
          expect(offered.length + [...leftOut.values()].reduce((sum, n) => sum + n, 0)).toBe(tools.length);
        },
      ),
    );
  });
});
