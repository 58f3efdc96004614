import { tokensOf } from '../common/text/tokens.js';

/** A run of a document's text with where it is: what an extractor produces. */
export interface Section {
  text: string;
  /** 1-based page, for formats that have pages. */
  page?: number;
  /** The nearest heading above the text. */
  heading?: string;
}

export interface Chunk {
  content: string;
  page: number | null;
  heading: string | null;
  tokens: number;
}

export interface ChunkOptions {
  maxTokens: number;
  /** Tokens of the end of a chunk repeated at the start of the next, so no passage is cut in two. */
  overlapTokens: number;
}

export const DEFAULT_CHUNKING: ChunkOptions = { maxTokens: 400, overlapTokens: 60 };

interface Unit {
  text: string;
  tokens: number;
  page: number | null;
  heading: string | null;
}

/** Sentences and line breaks; a unit longer than a chunk is cut further. */
const SENTENCE_END = /(?<=[.!?;:])\s+|\n\s*/;
/** A sentence with no break at all is cut by length (about four characters a token). */
const CHARS_PER_TOKEN = 4;

/**
 * Cuts text into chunks of at most `maxTokens` (counted with the same tokenizer as the context
 * budget), at sentence or line boundaries, with `overlapTokens` of overlap. A chunk keeps the page
 * and heading of its first sentence and never spans two headings.
 */
export function chunkSections(sections: Iterable<Section>, options: ChunkOptions = DEFAULT_CHUNKING): Chunk[] {
  const chunks: Chunk[] = [];
  let current: Unit[] = [];
  let tokens = 0;
  /** How many of `current` are the previous chunk's overlap: alone, they are no new chunk. */
  let carried = 0;
  const flush = (keepOverlap: boolean) => {
    if (current.length > carried) chunks.push(toChunk(current));
    current = keepOverlap ? overlapOf(current, options.overlapTokens) : [];
    carried = current.length;
    tokens = current.reduce((sum, unit) => sum + unit.tokens, 0);
  };
  for (const unit of unitsOf(sections, options.maxTokens)) {
    if (current.length && current[0]!.heading !== unit.heading) flush(false);
    if (tokens + unit.tokens > options.maxTokens) flush(true);
    // The overlap alone may leave no room: then the chunk starts afresh.
    if (tokens + unit.tokens > options.maxTokens) [current, carried, tokens] = [[], 0, 0];
    current.push(unit);
    tokens += unit.tokens;
  }
  flush(false);
  return chunks;
}

function* unitsOf(sections: Iterable<Section>, maxTokens: number): Generator<Unit> {
  for (const section of sections) {
    const page = section.page ?? null;
    const heading = section.heading?.trim().slice(0, 500) || null;
    for (const sentence of section.text.split(SENTENCE_END)) {
      const text = sentence.replace(/\s+/g, ' ').trim();
      if (!text) continue;
      for (const piece of cutToFit(text, maxTokens)) yield { text: piece, tokens: tokensOf(piece), page, heading };
    }
  }
}

function* cutToFit(text: string, maxTokens: number): Generator<string> {
  if (tokensOf(text) <= maxTokens) {
    yield text;
    return;
  }
  const words = text.split(' ');
  let piece = '';
  for (const word of words) {
    for (const part of word.length > maxTokens * CHARS_PER_TOKEN ? splitEvery(word, (maxTokens * CHARS_PER_TOKEN) / 2) : [word]) {
      const next = piece ? `${piece} ${part}` : part;
      if (piece && tokensOf(next) > maxTokens) {
        yield piece;
        piece = part;
      } else piece = next;
    }
  }
  if (piece) yield piece;
}

function splitEvery(word: string, size: number): string[] {
  const parts: string[] = [];
  // By code point, so a surrogate pair is never split.
  const chars = [...word];
  for (let start = 0; start < chars.length; start += size) parts.push(chars.slice(start, start + size).join(''));
  return parts;
}

function toChunk(units: Unit[]): Chunk {
  const content = units.map((unit) => unit.text).join(' ');
  return { content, page: units[0]!.page, heading: units[0]!.heading, tokens: tokensOf(content) };
}

/** The last units of a chunk, up to `overlapTokens`. */
function overlapOf(units: Unit[], overlapTokens: number): Unit[] {
  const kept: Unit[] = [];
  let tokens = 0;
  for (let index = units.length - 1; index >= 0; index--) {
    tokens += units[index]!.tokens;
    if (tokens > overlapTokens) break;
    kept.unshift(units[index]!);
  }
  // Never the whole chunk again.
  return kept.length === units.length ? kept.slice(1) : kept;
}
