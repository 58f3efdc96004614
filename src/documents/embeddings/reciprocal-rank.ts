/** The constant of reciprocal rank fusion: a smaller one lets the top ranks of each list dominate. */
export const RECIPROCAL_RANK_K = 60;

export interface Fused<T> {
  item: T;
  /** Σ 1 / (k + rank) over the lists the item is in, ranks from 1. */
  score: number;
}

/**
 * Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): merges ranked lists whose scores are
 * not comparable by their ranks alone. An item in several lists is the first list's copy; ties
 * keep the order in which items first appear (the first list's order, then the next one's).
 */
export function fuseByReciprocalRank<T>(lists: readonly (readonly T[])[], key: (item: T) => string, k = RECIPROCAL_RANK_K): Fused<T>[] {
  const fused = new Map<string, Fused<T>>();
  for (const list of lists) {
    const seen = new Set<string>();
    list.forEach((item, index) => {
      const id = key(item);
      // An item listed twice in one list counts once, at its best rank.
      if (seen.has(id)) return;
      seen.add(id);
      const entry = fused.get(id);
      if (entry) entry.score += 1 / (k + index + 1);
      else fused.set(id, { item, score: 1 / (k + index + 1) });
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score);
}
