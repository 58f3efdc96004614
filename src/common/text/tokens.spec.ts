import * as fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { tokensOf } from './tokens.js';

describe('tokensOf', () => {
  it('counts a short text exactly, and a long one in pieces of at most 1,000 characters cut at a space where there is one', () => {
    const word = fc.stringMatching(/^[a-zé]{1,12}$/);
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 600 }), (words) => {
        const text = words.join(' ');
        // Exact up to 1,000 characters; cut at spaces, pieces count as the whole does, give or take the words the cuts touch.
        const leeway = text.length <= 1000 ? 0 : Math.ceil(text.length / 1000) * 2;
        expect(Math.abs(tokensOf(text) - countTokens(text))).toBeLessThanOrEqual(leeway);
      }),
      { numRuns: 100 },
    );
  });

  it('counts a text without spaces as its pieces of 1,000 characters', () => {
    const text = 'ab'.repeat(250_000);
    expect(tokensOf(text)).toBe(500 * countTokens('ab'.repeat(500)));
  });
});
