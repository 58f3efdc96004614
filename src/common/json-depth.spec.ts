import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from './json-depth.js';

const arrays = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));
const objects = (depth: number): unknown => JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

describe('nestsDeeperThan', () => {
  it('counts arrays and objects as levels, scalars as none', () => {
    expect(nestsDeeperThan('text', 0)).toBe(false);
    expect(nestsDeeperThan(null, 0)).toBe(false);
    expect(nestsDeeperThan([], 0)).toBe(true);
    expect(nestsDeeperThan({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(nestsDeeperThan({ a: [1, { b: 2 }] }, 2)).toBe(true);
  });

  it('accepts exactly the limit and refuses one more, for arrays and objects', () => {
    expect(nestsDeeperThan(arrays(32), 32)).toBe(false);
    expect(nestsDeeperThan(arrays(33), 32)).toBe(true);
    expect(nestsDeeperThan(objects(32), 32)).toBe(false);
    expect(nestsDeeperThan(objects(33), 32)).toBe(true);
  });

  it('walks a hostile depth without overflowing the stack', () => {
    expect(nestsDeeperThan(arrays(100_000), 32)).toBe(true);
    expect(nestsDeeperThan(objects(100_000), 32)).toBe(true);
    expect(nestsDeeperThan({ wide: Array.from({ length: 100_000 }, () => ({ x: [1] })) }, 32)).toBe(false);
  });
});
