import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from './json-body.js';

const depthOf = (text: string) => {
  for (let limit = 0; ; limit++) if (!nestsDeeperThan(Buffer.from(text), limit)) return limit;
};

describe('JSON nesting depth', () => {
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
    expect(nestsDeeperThan(Buffer.from(deep), 32)).toBe(true);
  });
});
