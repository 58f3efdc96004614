import { describe, expect, it } from 'vitest';
import { currentSources, MAX_SOURCES, type MessageSource, SourceList } from './message-source.js';

const passage = (id: string, chunk?: number): MessageSource => ({ type: 'document', id, title: `${id}.md`, snippet: '', ...(chunk !== undefined && { chunk }), score: 1 });

describe('SourceList', () => {
  it('keeps each source once, in order of first use, at most MAX_SOURCES', () => {
    const list = new SourceList();
    expect(list.add([passage('a', 0), passage('a', 1), passage('a', 0)])).toEqual([passage('a', 0), passage('a', 1)]);
    expect(list.add([passage('b'), passage('a', 1)])).toEqual([passage('b')]);
    list.add(Array.from({ length: 40 }, (_, i) => passage('c', i)));
    expect(list.items).toHaveLength(MAX_SOURCES);
    expect(list.items.slice(0, 4)).toEqual([passage('a', 0), passage('a', 1), passage('b'), passage('c', 0)]);
    expect(list.add([passage('d')])).toEqual([]);
  });
});

describe('currentSources', () => {
  it('reads the message hits of replies stored before sources had a type as message sources', () => {
    const stored = { messageId: 'm1', conversationId: 'c1', conversationTitle: '', seq: 4, excerpt: '**fox**', createdAt: '2026-01-01T00:00:00.000Z' };
    expect(currentSources([stored, passage('d', 2)])).toEqual([
      { type: 'message', id: 'm1', title: 'Untitled conversation', snippet: '**fox**', conversationId: 'c1', seq: 4, score: 0 },
      passage('d', 2),
    ]);
  });
});
