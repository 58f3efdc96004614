import { describe, expect, it } from 'vitest';
import { textNestsDeeperThan, valueNestsDeeperThan } from './json-depth.js';

const arrays = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));
const objects = (depth: number): unknown => JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

describe('valueNestsDeeperThan', () => {
  it('counts arrays and objects as levels, scalars as none', () => {
    expect(valueNestsDeeperThan('text', 0)).toBe(false);
    expect(valueNestsDeeperThan(null, 0)).toBe(false);
    expect(valueNestsDeeperThan([], 0)).toBe(true);
    expect(valueNestsDeeperThan({ a: [1, { b: 2 }] }, 3)).toBe(false);
    expect(valueNestsDeeperThan({ a: [1, { b: 2 }] }, 2)).toBe(true);
  });

  it('accepts exactly the limit and refuses one more, for arrays and objects', () => {
    expect(valueNestsDeeperThan(arrays(32), 32)).toBe(false);
    expect(valueNestsDeeperThan(arrays(33), 32)).toBe(true);
    expect(valueNestsDeeperThan(objects(32), 32)).toBe(false);
    expect(valueNestsDeeperThan(objects(33), 32)).toBe(true);
  });

  it('walks a hostile depth without overflowing the stack', () => {
    expect(valueNestsDeeperThan(arrays(100_000), 32)).toBe(true);
    expect(valueNestsDeeperThan(objects(100_000), 32)).toBe(true);
    expect(valueNestsDeeperThan({ wide: Array.from({ length: 100_000 }, () => ({ x: [1] })) }, 32)).toBe(false);
  });
});

const depthOf = (text: string) => {
  for (let limit = 0; ; limit++) if (!textNestsDeeperThan(Buffer.from(text), limit)) return limit;
};

describe('textNestsDeeperThan', () => {
  it('counts arrays and objects alike', () => {
    expect(depthOf('1')).toBe(0);
    expect(depthOf('{"a":[1,{"b":[]}],"c":{}}')).toBe(4);
    expect(depthOf('[[[]],[[[]]]]')).toBe(4);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(depthOf('{"a":"[[[{{{"}')).toBe(1);
    expect(depthOf(String.raw`["\"[[[", "\\", ["x"]]`)).toBe(2);
    expect(depthOf(JSON.stringify({ text: 'é ü 😀 [[[' }))).toBe(1);
  });

  it('finds a body nested far past the limit', () => {
    const deep = `${'['.repeat(1_000_000)}`;
    expect(textNestsDeeperThan(Buffer.from(deep), 32)).toBe(true);
  });
});
