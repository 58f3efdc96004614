import { z } from 'zod';
import { tokensOf } from '../../common/text/tokens.js';
import type { ConversationsRepository } from '../../conversations/conversations.repository.js';
import type { DocumentHit, DocumentSearchService } from '../../documents/document-search.service.js';
import type { MessageSource } from '../../messages/message-source.js';
import { type AgentTool, defineTool } from './agent-tool.js';
import { searchScope } from './search-scope.js';

export const SEARCH_DOCUMENTS = 'search_documents';

const DEFAULT_LIMIT = 5;
/** The most of one passage the model reads, in tokens … */
export const PASSAGE_TOKENS = 400;
/** … and of all the passages of one search together. */
export const PASSAGES_BUDGET = 2_000;

/** One passage found, as the model reads it. */
export interface DocumentPassage {
  documentId: string;
  title: string;
  mediaType: string;
  page: number | null;
  heading: string | null;
  chunk: number;
  /** Matches in **bold**. */
  excerpt: string;
  score: number;
  /** The passage itself, cut to the token budget (see `truncated`). */
  content: string;
  truncated?: true;
}

export interface DocumentSearchOutput {
  /** `conversation`: this conversation's documents; `user`: also the library and uploads elsewhere of the user who asked. */
  scope: 'conversation' | 'user';
  results: DocumentPassage[];
  /** With no results: what there was to search. */
  documents?: { searchable: number; processing: number };
}

/**
 * The longest start of the text within `max` tokens, cut at a word break when one is near.
 * Binary search over the length: each count reads at most one passage.
 */
export function trimToTokens(text: string, max: number): { text: string; tokens: number } {
  const tokens = tokensOf(text);
  if (tokens <= max) return { text, tokens };
  let [fits, tooLong] = [0, text.length];
  while (tooLong - fits > 1) {
    const middle = (fits + tooLong) >> 1;
    if (tokensOf(text.slice(0, middle)) <= max) fits = middle;
    else tooLong = middle;
  }
  // Never split a surrogate pair.
  if (/[\uD800-\uDBFF]/.test(text[fits - 1] ?? '')) fits--;
  const space = text.lastIndexOf(' ', fits);
  const end = space > fits * 0.8 ? space : fits;
  const cut = text.slice(0, end).trimEnd();
  return { text: cut, tokens: tokensOf(cut) };
}

/** The hits as the model reads them: each passage within PASSAGE_TOKENS, all of them within PASSAGES_BUDGET. */
export function passages(hits: DocumentHit[]): DocumentPassage[] {
  let budget = PASSAGES_BUDGET;
  return hits.map((hit) => {
    const { text, tokens } = trimToTokens(hit.content, Math.min(PASSAGE_TOKENS, budget));
    budget -= tokens;
    const { documentId, title, mediaType, page, heading, chunk, snippet, score } = hit;
    return { documentId, title, mediaType, page, heading, chunk, excerpt: snippet, score, content: text, ...(text.length < hit.content.length && { truncated: true as const }) };
  });
}

/** The passages search_documents found, as the reply cites them. */
export function documentSources(output: DocumentSearchOutput): MessageSource[] {
  return output.results.map((passage) => ({
    type: 'document',
    id: passage.documentId,
    title: passage.title,
    snippet: passage.excerpt,
    chunk: passage.chunk,
    ...(passage.page !== null && { page: passage.page }),
    ...(passage.heading !== null && { heading: passage.heading }),
    mediaType: passage.mediaType,
    score: passage.score,
  }));
}

export function searchDocuments(conversations: ConversationsRepository, documents: DocumentSearchService): AgentTool<never> {
  return defineTool({
    name: SEARCH_DOCUMENTS,
    description:
      "Full-text search over the documents uploaded to this conversation (when the user is alone in it: also the user's own library and " +
      "the documents of all the user's conversations). Returns the best passages with their document's title, page and heading; " +
      'answer from them and name the documents you used.',
    schema: z.object({
      query: z
        .string()
        .trim()
        .min(1)
        .max(200)
        .refine((query) => !query.includes('\0'), 'must not contain NUL characters')
        .describe('Words or phrases to look for (web-search syntax: "exact phrase", or, -excluded)'),
      limit: z.number().int().min(1).max(10).optional().describe(`How many passages (default ${DEFAULT_LIMIT})`),
    }),
    execute: async ({ query, limit }, context): Promise<DocumentSearchOutput> => {
      const scope = await searchScope(conversations, context);
      const hits = await documents.search(scope, query, { limit: limit ?? DEFAULT_LIMIT });
      const searched = 'ownerId' in scope ? 'user' : 'conversation';
      if (!hits.length) return { scope: searched, results: [], documents: await documents.documentsInScope(scope) };
      return { scope: searched, results: passages(hits) };
    },
  });
}
