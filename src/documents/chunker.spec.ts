import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokensOf } from '../common/text/tokens.js';
import { type Chunk, chunkSections, DEFAULT_CHUNKING, type Section } from './chunker.js';
import { markdownSections } from './extraction/text-extractor.js';

const OPTIONS = { maxTokens: 40, overlapTokens: 10, minTokens: 8 };

/** A word found nowhere else in the input, so where each chunk's words came from is unambiguous. */
const word = (n: number) => `w${n.toString(36)}`;
const END = ['', '', '', '.', '!', '?', ';', '\n'];

/** Sections of unique words with sentence ends, line breaks, pages and headings. */
const documents = fc
  .array(
    fc.record({
      words: fc.array(fc.tuple(fc.nat({ max: END.length - 1 }), fc.constantFrom(' ', '  ', '\t', ' \n ')), { minLength: 0, maxLength: 80 }),
      page: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
      heading: fc.option(fc.constantFrom('Intro', 'Tides', 'Locks', '  '), { nil: undefined }),
    }),
    { maxLength: 8 },
  )
  .map((drafts) => {
    let next = 0;
    const origin = new Map<string, { page: number | null; heading: string | null }>();
    const sections: Section[] = drafts.map(({ words, page, heading }) => {
      const text = words.map(([end, space]) => `${word(next++)}${END[end]}${space}`).join('');
      for (const w of text.match(/w[0-9a-z]+/g) ?? []) origin.set(w, { page: page ?? null, heading: heading?.trim() || null });
      return { text, ...(page !== undefined && { page }), ...(heading !== undefined && { heading }) };
    });
    return { sections, words: [...origin.keys()], origin };
  });

const wordsOf = (chunk: Chunk) => chunk.content.split(' ');

describe('chunkSections', () => {
  it('never makes a chunk over maxTokens, nor an empty one', () => {
    fc.assert(
      fc.property(documents, ({ sections }) => {
        for (const chunk of chunkSections(sections, OPTIONS)) {
          expect(chunk.content.trim()).not.toBe('');
          expect(tokensOf(chunk.content)).toBeLessThanOrEqual(OPTIONS.maxTokens);
          expect(chunk.tokens).toBe(tokensOf(chunk.content));
        }
      }),
    );
  });

  it('keeps every word, in order, each chunk a run of the text that starts at most where the last ended', () => {
    fc.assert(
      fc.property(documents, ({ sections, words }) => {
        const index = new Map(words.map((w, i) => [w, i]));
        let covered = 0;
        for (const chunk of chunkSections(sections, OPTIONS)) {
          const start = index.get(wordsOf(chunk)[0]!.replace(/[.!?;]$/, ''))!;
          expect(start).toBeLessThanOrEqual(covered);
          expect(wordsOf(chunk).map((w) => w.replace(/[.!?;]$/, ''))).toEqual(words.slice(start, start + wordsOf(chunk).length));
          covered = Math.max(covered, start + wordsOf(chunk).length);
        }
        expect(covered).toBe(words.length);
      }),
    );
  });

  it('repeats at most overlapTokens of a chunk at the start of the next', () => {
    fc.assert(
      fc.property(documents, ({ sections }) => {
        const chunks = chunkSections(sections, OPTIONS);
        for (let i = 1; i < chunks.length; i++) {
          const previous = wordsOf(chunks[i - 1]!);
          const current = wordsOf(chunks[i]!);
          const shared = previous.findIndex((w) => w === current[0]);
          if (shared === -1) continue;
          const overlap = previous.slice(shared);
          expect(current.slice(0, overlap.length)).toEqual(overlap);
          expect(overlap.length).toBeLessThan(current.length);
          expect(tokensOf(overlap.join(' '))).toBeLessThanOrEqual(OPTIONS.overlapTokens);
        }
      }),
    );
  });

  it('gives a chunk the page and heading of its first sentence, and never spans two pages, and crosses a heading only before minTokens of new text', () => {
    fc.assert(
      fc.property(documents, ({ sections, origin }) => {
        const chunks = chunkSections(sections, OPTIONS);
        chunks.forEach((chunk, i) => {
          const words = wordsOf(chunk).map((w) => w.replace(/[.!?;]$/, ''));
          const origins = words.map((w) => origin.get(w)!);
          expect({ page: chunk.page, heading: chunk.heading }).toEqual(origins[0]);
          for (const other of origins) expect(other.page).toBe(chunk.page);
          const crossings = origins.flatMap((o, at) => (at > 0 && o.heading !== origins[at - 1]!.heading ? [at] : []));
          if (!crossings.length) return;
          // What the chunk repeats of the previous one does not count as new text.
          const previous = new Set(i > 0 ? wordsOf(chunks[i - 1]!).map((w) => w.replace(/[.!?;]$/, '')) : []);
          const fresh = words.slice(0, crossings.at(-1)).filter((w) => !previous.has(w));
          // Sentences are counted one by one: joined, they may count a token or so more each.
          expect(fresh.length).toBeLessThan(OPTIONS.minTokens);
        });
      }),
    );
  });

  it('ends a chunk at every heading and page without minTokens', () => {
    fc.assert(
      fc.property(documents, ({ sections, origin }) => {
        for (const chunk of chunkSections(sections, { maxTokens: 40, overlapTokens: 10 })) {
          const [first, ...rest] = wordsOf(chunk).map((w) => origin.get(w.replace(/[.!?;]$/, ''))!);
          expect({ page: chunk.page, heading: chunk.heading }).toEqual(first);
          for (const other of rest) expect(other).toEqual(first);
        }
      }),
    );
  });

  it('makes few chunks of many tiny headings, each chunk but the last with minTokens of text', () => {
    const sections = markdownSections(Array.from({ length: 20_000 }, (_, i) => `# h${i}\nx\n`).join(''));
    const options = { ...DEFAULT_CHUNKING, minTokens: 50 };
    const chunks = chunkSections(sections, options);
    // Not one chunk per section: sections of a few tokens each come a dozen or more to a chunk.
    expect(chunks.length).toBeLessThan(sections.length / 10);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.tokens).toBeGreaterThanOrEqual(options.minTokens);
    expect(chunks.map((chunk) => chunk.content).join(' ')).toContain('h19999 x');
    // A chunk keeps the heading it starts under.
    expect(chunks[0]).toMatchObject({ heading: 'h0', page: null });
  });

  it('keeps tiny pages apart, so that each chunk cites the page of all of its text', () => {
    const pages: Section[] = Array.from({ length: 300 }, (_, i) => ({ text: `x${i}`, page: i + 1, heading: 'Same' }));
    expect(chunkSections(pages, { ...DEFAULT_CHUNKING, minTokens: 50 }).map((chunk) => [chunk.page, chunk.content])).toEqual(pages.map(({ page, text }) => [page, text]));
  });

  it('cuts text without any break, in any script, into chunks that fit', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 1500 }), fc.integer({ min: 4, max: 60 }), (text, maxTokens) => {
        const chunks = chunkSections([{ text }], { maxTokens, overlapTokens: 0 });
        for (const chunk of chunks) expect(tokensOf(chunk.content)).toBeLessThanOrEqual(maxTokens);
        // Without overlap, nothing is repeated, and nothing but whitespace and control characters is lost.
        const letters = (s: string) => s.replace(/[\s\p{Cc}]/gu, '');
        expect(letters(chunks.map((c) => c.content).join(''))).toBe(letters(text));
      }),
    );
  });

  it('keeps NUL and other control characters out of chunks (PostgreSQL text cannot hold NUL)', () => {
    const [chunk] = chunkSections([{ text: 'a\u0000b\u0007c', heading: 'x\u0000y' }]);
    expect(chunk).toMatchObject({ content: 'a b c', heading: 'x y' });
  });

  it('chunks 2 MB of text in linear time, with or without sentence breaks', () => {
    const prose = Array.from({ length: 300_000 }, (_, i) => `word${i % 997}${i % 9 === 0 ? '.' : ''}`).join(' ');
    const unbroken = Array.from({ length: 500_000 }, (_, i) => `w${i % 101}`).join(' ');
    const cjk = '漢字かな交じり文'.repeat(120_000);
    for (const text of [prose, unbroken, cjk]) {
      expect(text.length).toBeGreaterThan(800_000);
      const started = performance.now();
      const chunks = chunkSections([{ text }]);
      // Counting each growing piece again, as a naive cut does, takes minutes here.
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(chunks.every((chunk) => chunk.tokens <= 400)).toBe(true);
    }
  }, 60_000);
});
