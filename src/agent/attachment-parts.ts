import type { JSONObject, LanguageModelV3FilePart, LanguageModelV3TextPart } from '@ai-sdk/provider';
import { tokensOf } from '../common/text/tokens.js';
import { DEFAULT_CHUNKING } from '../documents/chunker.js';
import type { MessageAttachment } from '../messages/message.entity.js';

/**
 * The provider-options key that marks a prompt part as (part of) an attachment. Providers read
 * only their own keys, so the mark never reaches them; the builtin agent reads it to tell the
 * attachments apart from what the person wrote.
 */
export const ATTACHMENT_KEY = 'attachment';

/** What became of an attachment in the prompt. */
export type AttachmentState = 'image' | 'text' | 'truncated' | 'empty' | 'processing' | 'failed' | 'deleted' | 'too-large' | 'over-budget' | 'earlier';

export interface AttachmentMark {
  id: string;
  filename: string;
  mediaType: string;
  bytes: number;
  state: AttachmentState;
}

export type AttachmentPart = LanguageModelV3TextPart | LanguageModelV3FilePart;

export function markOf(attachment: MessageAttachment, state: AttachmentState): { providerOptions: Record<string, JSONObject> } {
  const { id, filename, mediaType, bytes } = attachment;
  return { providerOptions: { [ATTACHMENT_KEY]: { id, filename, mediaType, bytes, state } } };
}

/** The mark of a prompt part, when it belongs to an attachment. */
export function attachmentMark(part: { providerOptions?: Record<string, unknown> }): AttachmentMark | undefined {
  const mark = part.providerOptions?.[ATTACHMENT_KEY];
  return mark && typeof mark === 'object' ? (mark as AttachmentMark) : undefined;
}

/** A text part about an attachment, marked as such. */
export function attachmentNote(attachment: MessageAttachment, state: AttachmentState, text: string): LanguageModelV3TextPart {
  return { type: 'text', text, ...markOf(attachment, state) };
}

/** Where a chunk of a document was, for the reader of its text. */
type ExcerptChunk = { content: string; heading: string | null; page: number | null };

/** Longer tokens than this are rare enough that an overlap made of them may stay (it only repeats a little text). */
const MAX_CHARS_PER_TOKEN = 16;

/**
 * The part of `next` that `previous` does not already end with: consecutive chunks repeat up to
 * `overlapTokens` of text (DEFAULT_CHUNKING), at word boundaries. The longest repeat within that
 * many tokens is the one the chunker made.
 */
export function withoutOverlap(previous: string, next: string, overlapTokens = DEFAULT_CHUNKING.overlapTokens): string {
  // Candidates end where a word of `next` does, within what `overlapTokens` can span, shortest first.
  const maxChars = Math.min(previous.length, next.length - 1, overlapTokens * MAX_CHARS_PER_TOKEN);
  const repeats: number[] = [];
  for (let end = next.indexOf(' '); end > 0 && end <= maxChars; end = next.indexOf(' ', end + 1)) {
    const atWord = previous.length === end || previous[previous.length - end - 1] === ' ';
    if (atWord && previous.endsWith(next.slice(0, end))) repeats.push(end);
  }
  // The longest repeat within the token budget; tokens grow with length, so a binary search finds it.
  let [low, high, found] = [0, repeats.length - 1, -1];
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (tokensOf(next.slice(0, repeats[middle])) <= overlapTokens) [found, low] = [middle, middle + 1];
    else high = middle - 1;
  }
  return found < 0 ? next : next.slice(repeats[found]).trimStart();
}

/** A chunk's text as read in sequence: its heading and page when they change, without the overlap. */
function pieceOf(chunk: ExcerptChunk, previous: ExcerptChunk | undefined): string {
  const sameSection = previous !== undefined && previous.heading === chunk.heading;
  const text = sameSection ? withoutOverlap(previous.content, chunk.content) : chunk.content;
  const marks: string[] = [];
  if (chunk.page !== null && chunk.page !== previous?.page) marks.push(`[page ${chunk.page}]`);
  // Extractors that keep the heading line in the text (Markdown) need it no second time.
  if (chunk.heading !== null && !sameSection && !text.startsWith(chunk.heading)) marks.push(chunk.heading);
  const head = marks.length ? `${marks.join('\n')}\n` : '';
  if (!previous) return head + text;
  if (!head && !text) return '';
  return (sameSection && !head ? ' ' : '\n\n') + head + text;
}

/**
 * The start of a document's text from its chunks in order, cut at a chunk boundary so that it
 * stays within `maxTokens`. `shownChunks` says how many chunks it holds.
 */
export function documentExcerpt(chunks: ExcerptChunk[], maxTokens: number): { text: string; tokens: number; shownChunks: number } {
  let text = '';
  let tokens = 0;
  let shownChunks = 0;
  for (const [index, chunk] of chunks.entries()) {
    const piece = pieceOf(chunk, chunks[index - 1]);
    const cost = tokensOf(piece);
    if (tokens + cost > maxTokens) break;
    text += piece;
    tokens += cost;
    shownChunks++;
  }
  return { text, tokens, shownChunks };
}
