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
  /** At least 4: a single character may take that many tokens. */
  maxTokens: number;
  /** Tokens of the end of a chunk repeated at the start of the next, so no passage is cut in two. */
  overlapTokens: number;
  /**
   * New text (the overlap aside) a chunk needs before a heading ends it: tinier sections join the
   * next ones, so a document of a thousand headings of a word each is not a thousand chunks.
   * Without it, every heading starts a chunk.
   */
  minTokens?: number;
}

/**
 * Every heading starts a chunk (no minTokens): a search hit names the heading its text is under,
 * even in a short note. A document of countless headings is bounded by DOCUMENT_MAX_CHUNKS.
 */
export const DEFAULT_CHUNKING: ChunkOptions = { maxTokens: 400, overlapTokens: 60 };

interface Unit {
  text: string;
  tokens: number;
  page: number | null;
  heading: string | null;
}

/** Sentences (CJK ones end without a space) and line breaks; a unit longer than a chunk is cut further. */
const SENTENCE_END = /(?<=[.!?;:])\s+|(?<=[。！？])|\n\s*/;
/** A word with no break at all is cut by length (about four characters a token), then by tokens. */
const CHARS_PER_TOKEN = 4;
/** Characters that PostgreSQL text cannot hold (NUL) or that only disturb reading. */
// oxlint-disable-next-line no-control-regex -- control characters are exactly what is removed
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/**
 * Cuts text into chunks of at most `maxTokens` (counted with the same tokenizer as the context
 * budget), at sentence or line boundaries, with at most `overlapTokens` of overlap. A chunk keeps
 * the page and heading of its first sentence. It never spans two pages, so that a citation names
 * the page of all of it; a heading ends it only once it holds `minTokens` of new text, and
 * smaller sections run on into the next heading, so the number of chunks stays bounded by the
 * size of the text whatever its headings. (A document of countless tiny pages is bounded by
 * DOCUMENT_MAX_CHUNKS instead: merging pages would cite the wrong page for most of a chunk.)
 * Linear in the text: sentences are counted once, and a chunk's exact count is checked once.
 */
export function chunkSections(sections: Iterable<Section>, options: ChunkOptions = DEFAULT_CHUNKING): Chunk[] {
  const chunks: Chunk[] = [];
  const source = unitsOf(sections, options.maxTokens);
  /** Units a chunk gave back because, joined, they counted more than their sum. */
  const givenBack: Unit[] = [];
  let current: Unit[] = [];
  let tokens = 0;
  /** How many of `current` are the previous chunk's overlap (and their tokens): alone, they are no new chunk. */
  let carried = 0;
  let carriedTokens = 0;
  const flush = (keepOverlap: boolean) => {
    if (current.length > carried) chunks.push(fitted(current, carried, options.maxTokens, givenBack));
    current = keepOverlap ? overlapOf(current, options.overlapTokens) : [];
    carried = current.length;
    tokens = carriedTokens = current.reduce((sum, unit) => sum + unit.tokens, 0);
  };
  /** A new page ends the chunk; a new heading once the chunk has enough new text. An overlap alone is dropped. */
  const endsAt = (unit: Unit) => {
    const last = current.at(-1);
    if (!last || (last.page === unit.page && last.heading === unit.heading)) return false;
    return last.page !== unit.page || current.length === carried || tokens - carriedTokens >= (options.minTokens ?? 0);
  };
  for (;;) {
    const unit = givenBack.pop() ?? source.next().value;
    if (!unit) {
      flush(false);
      // The last chunk may have given units back too.
      if (givenBack.length) continue;
      return chunks;
    }
    const waiting = givenBack.length;
    if (endsAt(unit)) flush(false);
    if (tokens + unit.tokens > options.maxTokens) flush(true);
    if (givenBack.length > waiting) {
      // The units the chunk gave back come before this one (the stack's top comes first).
      givenBack.splice(waiting, 0, unit);
      continue;
    }
    // The overlap alone may leave no room: then the chunk starts afresh.
    if (tokens + unit.tokens > options.maxTokens) [current, carried, tokens, carriedTokens] = [[], 0, 0, 0];
    current.push(unit);
    tokens += unit.tokens;
  }
}

/**
 * The chunk of `units`, checked with the exact count of its joined text: units at its end that do
 * not fit after all are given back for the next chunk, and an overlap that leaves no room goes.
 */
function fitted(units: Unit[], carried: number, maxTokens: number, givenBack: Unit[]): Chunk {
  let chunk = toChunk(units);
  while (chunk.tokens > maxTokens && units.length - carried > 1) {
    givenBack.push(units.pop()!);
    chunk = toChunk(units);
  }
  if (chunk.tokens > maxTokens) {
    units.splice(0, carried);
    chunk = toChunk(units);
  }
  return chunk;
}

function* unitsOf(sections: Iterable<Section>, maxTokens: number): Generator<Unit, undefined> {
  for (const section of sections) {
    const page = section.page ?? null;
    const heading = section.heading?.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim().slice(0, 500) || null;
    for (const sentence of section.text.split(SENTENCE_END)) {
      const text = sentence.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
      if (!text) continue;
      for (const piece of cutToFit(text, maxTokens)) yield { ...piece, page, heading };
    }
  }
  return undefined;
}

/** Pieces of a sentence of at most `maxTokens` each, cut between words where there are any. */
function* cutToFit(text: string, maxTokens: number): Generator<{ text: string; tokens: number }> {
  const whole = tokensOf(text);
  if (whole <= maxTokens) {
    yield { text, tokens: whole };
    return;
  }
  // Words are counted one by one (with the space before them, as the tokenizer sees them in a
  // run): counting the growing piece again at every word would be quadratic.
  let words: string[] = [];
  let estimate = 0;
  for (const word of wordsOf(text, maxTokens * CHARS_PER_TOKEN)) {
    const cost = countWord(words.length ? ` ${word}` : word);
    if (words.length && estimate + cost > maxTokens) {
      yield* exactly(words.join(' '), maxTokens);
      words = [];
      estimate = 0;
    }
    estimate += words.length ? cost : countWord(word);
    words.push(word);
  }
  if (words.length) yield* exactly(words.join(' '), maxTokens);
}

/** The piece if its exact count fits, else its halves (by words, or by characters for one word). */
function* exactly(piece: string, maxTokens: number): Generator<{ text: string; tokens: number }> {
  const tokens = tokensOf(piece);
  if (tokens <= maxTokens) {
    yield { text: piece, tokens };
    return;
  }
  const space = piece.indexOf(' ', piece.length >> 1);
  const cut = space > 0 ? space : piece.lastIndexOf(' ', piece.length >> 1);
  if (cut > 0) {
    yield* exactly(piece.slice(0, cut), maxTokens);
    yield* exactly(piece.slice(cut + 1), maxTokens);
    return;
  }
  const chars = [...piece];
  // One code point is at most 4 tokens (one per byte): smaller than any sensible chunk.
  if (chars.length === 1) {
    yield { text: piece, tokens };
    return;
  }
  yield* exactly(chars.slice(0, chars.length >> 1).join(''), maxTokens);
  yield* exactly(chars.slice(chars.length >> 1).join(''), maxTokens);
}

/** Words, with any longer than `maxChars` cut in parts of half that (by code point: a surrogate pair stays whole). */
function* wordsOf(text: string, maxChars: number): Generator<string> {
  for (const word of text.split(' ')) {
    if (word.length <= maxChars) {
      yield word;
      continue;
    }
    const chars = [...word];
    const size = Math.max(1, maxChars >> 1);
    for (let start = 0; start < chars.length; start += size) yield chars.slice(start, start + size).join('');
  }
}

/** Words recur: their counts are remembered, within bounds. */
const wordCounts = new Map<string, number>();
const WORD_CACHE_SIZE = 50_000;

function countWord(word: string): number {
  let count = wordCounts.get(word);
  if (count === undefined) {
    count = tokensOf(word);
    if (wordCounts.size >= WORD_CACHE_SIZE) wordCounts.clear();
    if (word.length <= 64) wordCounts.set(word, count);
  }
  return count;
}

function toChunk(units: Unit[]): Chunk {
  const content = units.map((unit) => unit.text).join(' ');
  return { content, page: units[0]!.page, heading: units[0]!.heading, tokens: tokensOf(content) };
}

/** The last units of a chunk, up to `overlapTokens` as the tokenizer counts them joined. */
function overlapOf(units: Unit[], overlapTokens: number): Unit[] {
  let start = units.length;
  let tokens = 0;
  while (start > 0 && tokens + units[start - 1]!.tokens <= overlapTokens) tokens += units[--start]!.tokens;
  // Never the whole chunk again.
  if (start === 0) start = 1;
  while (start < units.length && tokensOf(units.slice(start).map((unit) => unit.text).join(' ')) > overlapTokens) start++;
  return units.slice(start);
}
