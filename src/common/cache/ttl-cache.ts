export interface TtlCacheOptions<V> {
  /** How long an entry is served after it was stored. */
  ttlMs: number;
  /** The most entries held; storing one more evicts the oldest. */
  maxEntries: number;
  /** With `weigh`: the most total weight held; the oldest entries go until a new one fits. */
  maxWeight?: number;
  /** An entry's weight (e.g. its size in bytes); one heavier than maxWeight is not stored. */
  weigh?: (value: V) => number;
  /**
   * Reading an entry makes it the last to be evicted (least recently read goes first) instead of
   * leaving it in the order stored. Its expiry is unchanged.
   */
  evictUnread?: boolean;
  /** The clock (tests pass their own). */
  now?: () => number;
}

/**
 * A bounded map whose entries expire, filled by loads that may race invalidations. Every
 * invalidation advances an epoch, and a load stores its value only if no invalidation happened
 * while it ran: a value read before a change (a removed participant, a deleted account) must
 * not be served after it, and telling which key a change affected is not always possible.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; until: number; weight: number }>();
  /** Loads under way, each shared by the callers that asked in the same epoch. */
  private readonly loading = new Map<K, { epoch: number; value: Promise<unknown> }>();
  private epoch = 0;
  private weight = 0;
  private readonly now: () => number;

  constructor(private readonly options: TtlCacheOptions<V>) {
    this.now = options.now ?? Date.now;
  }

  /** The entry's value, unless it is missing or has expired. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.remove(key);
      return undefined;
    }
    if (this.options.evictUnread) {
      // A Map iterates in insertion order: taken out and put back, the entry is evicted last.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry.value;
  }

  /** Stores a value known to be current (not a load's result: see getOrLoad), for a full TTL. */
  set(key: K, value: V): void {
    this.remove(key);
    const weight = this.options.weigh?.(value) ?? 0;
    const maxWeight = this.options.maxWeight ?? Infinity;
    // A weight that is not a finite number ≥ 0 would spoil the running total for good: not kept.
    if (!(weight >= 0 && weight <= maxWeight)) return;
    while (this.entries.size && (this.entries.size >= this.options.maxEntries || this.weight + weight > maxWeight)) {
      this.remove(this.entries.keys().next().value!);
    }
    this.entries.set(key, { value, until: this.now() + this.options.ttlMs, weight });
    this.weight += weight;
  }

  /** Replaces a held value by a newer state of it, keeping its expiry; nothing if none is held. */
  update(key: K, change: (value: V) => V): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    const value = change(entry.value);
    const weight = this.options.weigh?.(value) ?? 0;
    if (!(weight >= 0 && weight <= (this.options.maxWeight ?? Infinity))) {
      this.remove(key);
      return;
    }
    entry.value = value;
    this.weight += weight - entry.weight;
    entry.weight = weight;
    while (this.entries.size && this.weight > (this.options.maxWeight ?? Infinity)) this.remove(this.entries.keys().next().value!);
  }

  /** Drops the key's entry, and keeps every load still in flight from storing what it read. */
  invalidate(key: K): void {
    this.epoch++;
    this.remove(key);
  }

  /** The total weight of the entries held (0 without `weigh`). */
  get heldWeight(): number {
    return this.weight;
  }

  private remove(key: K): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.weight -= entry.weight;
    this.entries.delete(key);
  }

  /**
   * The held value, or else what `load` answers, stored unless an invalidation happened while it
   * ran (the answer is still returned: it was current when read). Undefined and null are not stored.
   * Callers asking for a key while it loads share that load (a burst after an expiry costs one),
   * unless an invalidation came in between: those after it load afresh.
   */
  async getOrLoad<L extends V | undefined | null>(key: K, load: (key: K) => Promise<L>): Promise<V | L> {
    const held = this.get(key);
    if (held !== undefined) return held;
    const epoch = this.epoch;
    const pending = this.loading.get(key);
    if (pending?.epoch === epoch) return pending.value as Promise<V | L>;
    const value = load(key);
    const entry = { epoch, value };
    this.loading.set(key, entry);
    try {
      const loaded = await value;
      if (loaded !== undefined && loaded !== null && epoch === this.epoch) this.set(key, loaded);
      return loaded;
    } finally {
      if (this.loading.get(key) === entry) this.loading.delete(key);
    }
  }
}
