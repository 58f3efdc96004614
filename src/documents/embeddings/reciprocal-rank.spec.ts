import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuseByReciprocalRank, RECIPROCAL_RANK_K } from './reciprocal-rank.js';

const id = (item: { id: string }) => item.id;

describe('fuseByReciprocalRank', () => {
  it('adds 1 / (k + rank) over the lists an item is in', () => {
    const fused = fuseByReciprocalRank(
      [
        [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
        [{ id: 'c' }, { id: 'd' }, { id: 'a' }],
      ],
      id,
    );
    expect(fused.map((entry) => [entry.item.id, entry.score])).toEqual([
      ['a', 1 / 61 + 1 / 63],
      ['c', 1 / 63 + 1 / 61],
      ['b', 1 / 62],
      ['d', 1 / 62],
    ]);
    expect(RECIPROCAL_RANK_K).toBe(60);
  });

  it('ranks an item found by both lists above one found first by a single list', () => {
    const fused = fuseByReciprocalRank([[{ id: 'only-text' }, { id: 'both' }], [{ id: 'only-vector' }, { id: 'both' }]], id);
    expect(fused[0]!.item.id).toBe('both');
  });

  it('keeps the first list’s copy of an item, and counts a repeated item once at its best rank', () => {
    const fused = fuseByReciprocalRank([[{ id: 'a', from: 1 }, { id: 'a', from: 1 }], [{ id: 'a', from: 2 }]], id);
    expect(fused).toEqual([{ item: { id: 'a', from: 1 }, score: 2 / 61 }]);
  });

  it('returns every item once, best first, with scores bounded by the number of lists', () => {
    const list = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f').map((value) => ({ id: value })), { maxLength: 10 });
    fc.assert(
      fc.property(fc.array(list, { maxLength: 4 }), fc.integer({ min: 1, max: 100 }), (lists, k) => {
        const fused = fuseByReciprocalRank(lists, id, k);
        const ids = fused.map((entry) => entry.item.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(new Set(ids)).toEqual(new Set(lists.flat().map(id)));
        for (let i = 1; i < fused.length; i++) expect(fused[i - 1]!.score).toBeGreaterThanOrEqual(fused[i]!.score);
        // Summing 1 / (k + 1) n times can round a hair above n / (k + 1): allow for the float error.
        for (const entry of fused) expect(entry.score).toBeLessThanOrEqual((lists.length / (k + 1)) * (1 + 1e-12));
      }),
    );
  });
});
