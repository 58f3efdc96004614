import { countTokens } from 'gpt-tokenizer';

/**
 * Longest piece of text the tokenizer is given at once. Its byte-pair merging is quadratic in the
 * length of a run without a word break (16,000 "é" take ~0.4 s in one piece), and every run counts
 * the whole history again; in pieces cut at a space the count stays within a fraction of a percent.
 */
const TOKENIZER_PIECE = 1000;

export function tokensOf(text: string): number {
  if (text.length <= TOKENIZER_PIECE) return countTokens(text);
  let total = 0;
  for (let start = 0; start < text.length; ) {
    let end = Math.min(start + TOKENIZER_PIECE, text.length);
    if (end < text.length) {
      // Looked for in the piece's second half only: from `end` back to the start of a text without
      // spaces would be quadratic in its length.
      const space = text.slice(start + TOKENIZER_PIECE / 2, end + 1).lastIndexOf(' ');
      if (space > 0) end = start + TOKENIZER_PIECE / 2 + space;
      // Never split a surrogate pair.
      else if (/[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
    }
    total += countTokens(text.slice(start, end));
    start = end;
  }
  return total;
}
