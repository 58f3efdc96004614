import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokensOf } from '../../common/text/tokens.js';
import type { ConversationsRepository } from '../../conversations/conversations.repository.js';
import type { DocumentHit, DocumentSearchService, SearchScope } from '../../documents/document-search.service.js';
import { citationsOf } from './citations.js';
import { type DocumentSearchOutput, PASSAGE_TOKENS, PASSAGES_BUDGET, passages, searchDocuments, trimToTokens } from './search-documents.js';

fc.configureGlobal({ seed: 20_261_201 });

function hit(chunk: number, content: string): DocumentHit {
  return { documentId: 'd1', title: 'lease.md', mediaType: 'text/markdown', chunkId: `c${chunk}`, chunk, page: null, heading: 'Terms', snippet: `**${chunk}**`, content, score: 1 / (chunk + 1) };
}

/** The tool over a conversation with these participants, and a search that answers with these hits. */
function tool(participants: string[], hits: DocumentHit[] = []) {
  const scopes: SearchScope[] = [];
  const conversations = { findView: async () => ({ participants: participants.map((userId) => ({ userId })) }) } as unknown as ConversationsRepository;
  const documents = {
    search: async (scope: SearchScope) => {
      scopes.push(scope);
      return hits;
    },
    documentsInScope: async () => ({ searchable: 0, processing: 0 }),
  } as unknown as DocumentSearchService;
  const definition = searchDocuments(conversations, documents);
  const run = (input: unknown, userId = 'alice') => {
    const parsed = definition.schema.safeParse(input);
    if (!parsed.success) throw parsed.error;
    return definition.execute(parsed.data, { conversationId: 'conversation-1', userId }, new AbortController().signal) as Promise<DocumentSearchOutput>;
  };
  return { definition, run, scopes };
}

describe('trimToTokens', () => {
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 3000 }),
    fc.array(fc.constantFrom('notice ', 'période ', '💡', '\n\n', 'a'.repeat(50), ' ', '長い'), { maxLength: 400 }).map((parts) => parts.join('')),
  );

  it('keeps a start of the text within the budget, and all of it when it fits', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 500 }), (input, max) => {
        const trimmed = trimToTokens(input, max);
        expect(input.startsWith(trimmed.text)).toBe(true);
        expect(trimmed.tokens).toBe(tokensOf(trimmed.text));
        expect(trimmed.tokens).toBeLessThanOrEqual(Math.max(max, 0));
        expect(tokensOf(input) > max || trimmed.text === input).toBe(true);
        expect(trimmed.text).not.toMatch(/[\uD800-\uDBFF]$/);
      }),
      { numRuns: 200 },
    );
  });
});

describe('passages', () => {
  it(`gives the model at most ${PASSAGE_TOKENS} tokens of a passage and ${PASSAGES_BUDGET} of all of them, saying what was cut`, () => {
    const long = 'The tenant gives two months notice in writing. '.repeat(200);
    const found = passages(Array.from({ length: 10 }, (_, chunk) => hit(chunk, long)));
    expect(found).toHaveLength(10);
    expect(found.every((passage) => passage.truncated)).toBe(true);
    expect(Math.max(...found.map((passage) => tokensOf(passage.content)))).toBeLessThanOrEqual(PASSAGE_TOKENS);
    expect(found.reduce((sum, passage) => sum + tokensOf(passage.content), 0)).toBeLessThanOrEqual(PASSAGES_BUDGET);
    expect(found[0]).toMatchObject({ documentId: 'd1', title: 'lease.md', heading: 'Terms', chunk: 0, excerpt: '**0**' });
    expect(passages([hit(0, 'short')])[0]).not.toHaveProperty('truncated');
  });
});

describe('search_documents', () => {
  it('reads only this conversation when other people are in it, and also what the user put in themselves when alone', async () => {
    const shared = tool(['alice', 'bob']);
    await shared.run({ query: 'notice' });
    expect(shared.scopes).toEqual([{ conversationId: 'conversation-1' }]);
    const alone = tool(['alice']);
    expect(await alone.run({ query: 'notice' })).toEqual({ scope: 'user', results: [], documents: { searchable: 0, processing: 0 } });
    expect(alone.scopes).toEqual([{ conversationId: 'conversation-1', ownerId: 'alice' }]);
    // A run nobody can be named for (its author is gone) never reads beyond the conversation.
    await alone.run({ query: 'notice' }, '');
    expect(alone.scopes.at(-1)).toEqual({ conversationId: 'conversation-1' });
    const gone = tool([]);
    await gone.run({ query: 'notice' });
    expect(gone.scopes).toEqual([{ conversationId: 'conversation-1' }]);
  });

  it('refuses a query that is empty, too long or holds a NUL, and a limit out of 1..10', () => {
    const { definition } = tool(['alice']);
    for (const input of [{ query: '   ' }, { query: 'x'.repeat(10_000) }, { query: 'a\0b' }, { query: 'a', limit: 11 }, { query: 'a', limit: 0 }, {}]) {
      expect(definition.schema.safeParse(input).success, JSON.stringify(input).slice(0, 40)).toBe(false);
    }
    expect(definition.schema.safeParse({ query: ' "notice period" -draft or ' }).data).toEqual({ query: '"notice period" -draft or' });
  });

  it('cites every passage it returns, as the reply and the stream both read its result', async () => {
    const output = await tool(['alice'], [hit(0, 'two months'), hit(2, 'in writing')]).run({ query: 'notice', limit: 2 });
    expect(citationsOf('search_documents', output)).toEqual([
      { type: 'document', id: 'd1', title: 'lease.md', snippet: '**0**', chunk: 0, heading: 'Terms', mediaType: 'text/markdown', score: 1 },
      { type: 'document', id: 'd1', title: 'lease.md', snippet: '**2**', chunk: 2, heading: 'Terms', mediaType: 'text/markdown', score: 1 / 3 },
    ]);
    expect(citationsOf('calculator', output)).toEqual([]);
    expect(citationsOf('search_documents', { error: 'x' })).toEqual([]);
  });
});
