import { performance } from 'node:perf_hooks';
import * as fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { tokensOf } from '../common/text/tokens.js';

/**
 * Milliseconds to count a text never counted before (the tokenizer caches what it has seen), the
 * fastest of a few, so that one pause of the machine does not decide.
 */
let variant = 0;
function firstCountMs(make: (unique: string) => string): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const text = make(String.fromCharCode(0x100 + (variant++ % 400)));
    const started = performance.now();
    tokensOf(text);
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

describe('tokensOf', () => {
  it('counts short texts exactly as the tokenizer does', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1000 }), (text) => {
        expect(tokensOf(text)).toBe(countTokens(text));
      }),
      { numRuns: 300, seed: 20_261_201 },
    );
  });

  it('counts long prose within half a percent of the whole-text count', () => {
    const words = ['the', 'agent', 'replies', 'with', 'a', 'summary', 'of', 'budget', 'numbers,', 'quickly.', '\n'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { minLength: 300, maxLength: 3000 }), (picked) => {
        const text = picked.join(' ');
        expect(Math.abs(tokensOf(text) - countTokens(text))).toBeLessThanOrEqual(Math.ceil(countTokens(text) * 0.005) + 1);
      }),
      { numRuns: 50, seed: 20_261_201 },
    );
  });

  it('never splits a character made of a surrogate pair', () => {
    const text = '😀'.repeat(4000);
    expect(tokensOf(text)).toBe(countTokens('😀'.repeat(500)) * 8);
  });

  // A message of one long run without a word break once cost the event loop ~0.4 s on every run
  // of its conversation: such text must cost about what ordinary text of its length does.
  it('costs no more for a 16,000-character run without word breaks than for prose of that length', () => {
    const words = ['budget', 'review', 'moved', 'to', 'Thursday', 'and', 'the', 'agent', 'summarised', 'it'];
    const prose = (unique: string) => Array.from({ length: 2400 }, (_, i) => words[i % words.length] + unique).join(' ').slice(0, 16_000);
    const ordinary = firstCountMs(prose);
    for (const crafted of [(c: string) => c.repeat(16_000), (c: string) => `${c}a`.repeat(8000), (c: string) => `${c}\u00a0`.repeat(8000)]) {
      expect(firstCountMs(crafted)).toBeLessThan(Math.max(ordinary * 5, 60));
    }
  });
});
