import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokensOf } from '../common/text/tokens.js';
import { chunkSections } from '../documents/chunker.js';
import { attachmentMark, attachmentNote, documentExcerpt, withoutOverlap } from './attachment-parts.js';

const ATTACHMENT = { id: '9b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d', filename: 'notes.md', mediaType: 'text/markdown', bytes: 120 };

/** Sentences that never repeat (each starts with its own number), as prose with line breaks. */
const distinctProse = fc
  .array(fc.array(fc.constantFrom('budget', 'review', 'moved', 'to', 'Thursday', 'and', 'the', 'agent', 'summarised', 'it'), { minLength: 1, maxLength: 30 }), {
    minLength: 1,
    maxLength: 120,
  })
  .map((sentences) => sentences.map((words, index) => `${index % 7 === 0 ? '\n' : ' '}S${index} ${words.join(' ')}.`).join('').trim());

describe('withoutOverlap', () => {
  it('drops the words the next chunk repeats from the end of the previous one', () => {
    expect(withoutOverlap('One two. Three four.', 'Three four. Five six.')).toBe('Five six.');
  });

  it('keeps a chunk that repeats nothing, and never empties one', () => {
    expect(withoutOverlap('One two.', 'Three four.')).toBe('Three four.');
    expect(withoutOverlap('One two. Three four.', 'Three four.')).toBe('Three four.');
  });

  it('only counts a repeat that starts at a word of the previous chunk', () => {
    expect(withoutOverlap('Postpone it', 'one it again')).toBe('one it again');
  });
});

describe('documentExcerpt', () => {
  it('gives back exactly the text the chunker cut, each sentence once, for any distinct prose', () => {
    fc.assert(
      fc.property(distinctProse, fc.integer({ min: 20, max: 120 }), (text, maxTokens) => {
        const chunks = chunkSections([{ text }], { maxTokens, overlapTokens: Math.floor(maxTokens / 4) });
        const units = text.split(/(?<=[.!?;:])\s+|\n\s*/).map((unit) => unit.replace(/\s+/g, ' ').trim()).filter(Boolean);
        const excerpt = documentExcerpt(chunks, Number.MAX_SAFE_INTEGER);
        expect(excerpt.shownChunks).toBe(chunks.length);
        expect(excerpt.text).toBe(units.join(' '));
      }),
      { numRuns: 200, seed: 20_261_201 },
    );
  });

  it('stops at a chunk boundary within the budget', () => {
    const text = Array.from({ length: 200 }, (_, index) => `Sentence number ${index} is here.`).join(' ');
    const chunks = chunkSections([{ text }], { maxTokens: 50, overlapTokens: 10 });
    const excerpt = documentExcerpt(chunks, 300);
    expect(excerpt.tokens).toBeLessThanOrEqual(300);
    expect(excerpt.tokens).toBeGreaterThan(200);
    expect(excerpt.shownChunks).toBeLessThan(chunks.length);
    expect(excerpt.text.startsWith('Sentence number 0 is here.')).toBe(true);
    const lastShown = chunks[excerpt.shownChunks - 1]!.content;
    expect(excerpt.text.endsWith(lastShown.slice(-30))).toBe(true);
    expect(Math.abs(tokensOf(excerpt.text) - excerpt.tokens)).toBeLessThanOrEqual(excerpt.shownChunks);
  });

  it('marks headings and pages where they change', () => {
    const chunks = [
      { content: 'Intro text.', heading: null, page: 1 },
      { content: 'Stove and sink.', heading: 'Kitchen', page: 1 },
      { content: 'More kitchen.', heading: 'Kitchen', page: 2 },
      { content: 'Garden Lavender.', heading: 'Garden', page: 2 },
    ];
    // A heading the text already starts with (Markdown keeps it) is not repeated.
    expect(documentExcerpt(chunks, 1000).text).toBe('[page 1]\nIntro text.\n\nKitchen\nStove and sink.\n\n[page 2]\nMore kitchen.\n\nGarden Lavender.');
  });

  it('shows nothing when even the first chunk does not fit', () => {
    expect(documentExcerpt([{ content: 'A long first sentence of the document.', heading: null, page: null }], 2)).toEqual({ text: '', tokens: 0, shownChunks: 0 });
  });
});

describe('attachment marks', () => {
  it('mark a note so that it can be told apart from what the person wrote', () => {
    const note = attachmentNote(ATTACHMENT, 'deleted', '[gone]');
    expect(attachmentMark(note)).toEqual({ ...ATTACHMENT, state: 'deleted' });
    expect(attachmentMark({ type: 'text', text: 'hello' } as never)).toBeUndefined();
    expect(attachmentMark({ providerOptions: { openaiCompatible: {} } })).toBeUndefined();
  });
});
