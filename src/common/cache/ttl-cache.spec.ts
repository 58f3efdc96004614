import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TtlCache } from './ttl-cache.js';

// A fixed seed: the same cases on every run, so a failure in CI reproduces anywhere.
fc.configureGlobal({ seed: 20_261_201 });

function clocked(options: { ttlMs?: number; maxEntries?: number } = {}) {
  const clock = { now: 0 };
  const cache = new TtlCache<string, string>({ ttlMs: options.ttlMs ?? 1000, maxEntries: options.maxEntries ?? 100, now: () => clock.now });
  return { cache, clock };
}

describe('TtlCache', () => {
  it('serves what it loaded until the TTL runs out, then loads again', async () => {
    const { cache, clock } = clocked({ ttlMs: 1000 });
    let loads = 0;
    const load = async () => `value ${++loads}`;
    expect(await cache.getOrLoad('k', load)).toBe('value 1');
    clock.now = 999;
    expect(await cache.getOrLoad('k', load)).toBe('value 1');
    clock.now = 1000;
    expect(cache.get('k')).toBeUndefined();
    expect(await cache.getOrLoad('k', load)).toBe('value 2');
  });

  it('shares one load among the callers asking while it runs, and loads afresh after an invalidation', async () => {
    const { cache } = clocked();
    const reads: ((value: string) => void)[] = [];
    const load = () => new Promise<string>((resolve) => reads.push(resolve));
    const first = cache.getOrLoad('k', load);
    const second = cache.getOrLoad('k', load);
    expect(reads).toHaveLength(1);
    cache.invalidate('k');
    const third = cache.getOrLoad('k', load);
    expect(reads).toHaveLength(2);
    reads[0]!('before');
    reads[1]!('after');
    expect([await first, await second, await third]).toEqual(['before', 'before', 'after']);
    expect(cache.get('k')).toBe('after');
  });

  it('stores neither undefined nor null', async () => {
    const { cache } = clocked();
    expect(await cache.getOrLoad('k', async () => null)).toBeNull();
    expect(await cache.getOrLoad('k', async () => undefined)).toBeUndefined();
    expect(await cache.getOrLoad('k', async () => 'found')).toBe('found');
  });

  it('answers a load that an invalidation overtook with what it read, but does not keep it', async () => {
    const { cache } = clocked();
    const loaded = await cache.getOrLoad('k', async () => {
      cache.invalidate('other key');
      return 'read before the change';
    });
    expect(loaded).toBe('read before the change');
    expect(cache.get('k')).toBeUndefined();
  });

  it('evicts the oldest entry when full', () => {
    const { cache } = clocked({ maxEntries: 2 });
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('a', 'A2');
    cache.set('c', 'C');
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual(['A2', undefined, 'C']);
  });

  it('with evictUnread, evicts the entry least recently read, whatever the order stored; expiry still counts from storing', () => {
    const clock = { now: 0 };
    const cache = new TtlCache<string, string>({ ttlMs: 1000, maxEntries: 2, evictUnread: true, now: () => clock.now });
    cache.set('hot', 'H');
    cache.set('b', 'B');
    clock.now = 500;
    expect(cache.get('hot')).toBe('H');
    cache.set('c', 'C');
    expect([cache.get('hot'), cache.get('b'), cache.get('c')]).toEqual(['H', undefined, 'C']);
    clock.now = 1000;
    expect(cache.get('hot')).toBeUndefined();
  });

  it('updates a held value in place, keeping its expiry, and ignores a key it does not hold', () => {
    const { cache, clock } = clocked({ ttlMs: 1000 });
    cache.set('k', 'old');
    clock.now = 600;
    cache.update('k', (value) => `${value}, updated`);
    cache.update('missing', () => 'created');
    expect(cache.get('k')).toBe('old, updated');
    expect(cache.get('missing')).toBeUndefined();
    clock.now = 1000;
    expect(cache.get('k')).toBeUndefined();
  });

  it('never keeps a value read before an invalidation, however loads and changes interleave', async () => {
    const operation = fc.record({ write: fc.boolean(), key: fc.constantFrom('a', 'b') });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(operation, { maxLength: 24 }), async (s, operations) => {
        // The source of truth: every write changes it and then invalidates, as the services do.
        const source = new Map<string, number>();
        const current = (key: string) => String(source.get(key) ?? 0);
        const cache = new TtlCache<string, string>({ ttlMs: 1e9, maxEntries: 10, now: () => 0 });
        const expectNothingStale = (key: string) => expect([undefined, current(key)]).toContain(cache.get(key));
        // A shared load never answers a caller who asked after a change with what preceded it.
        const answeredStale: { asked: number; answer: number }[] = [];
        const done = operations.map(async ({ write, key }) => {
          await s.schedule(Promise.resolve(), `${write ? 'write' : 'load'} ${key}`);
          if (write) {
            source.set(key, (source.get(key) ?? 0) + 1);
            cache.invalidate(key);
          } else {
            const asked = Number(current(key));
            const answer = await cache.getOrLoad(key, async () => {
              const read = current(key);
              await s.schedule(Promise.resolve(), `read of ${key} returns`);
              return read;
            });
            if (Number(answer) < asked) answeredStale.push({ asked, answer: Number(answer) });
          }
          expectNothingStale(key);
        });
        await s.waitAll();
        await Promise.all(done);
        for (const key of ['a', 'b']) expectNothingStale(key);
        expect(answeredStale).toEqual([]);
      }),
    );
  });

  it('holds at most maxWeight: the oldest go first, a value heavier than the bound is not kept, and what stays is what was last stored', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ op: fc.constantFrom('set', 'update', 'invalidate'), key: fc.constantFrom('a', 'b', 'c', 'd'), size: fc.nat({ max: 12 }) }),
          { maxLength: 60 },
        ),
        (operations) => {
          const cache = new TtlCache<string, string>({ ttlMs: 1e9, maxEntries: 3, maxWeight: 10, weigh: (value) => value.length, now: () => 0 });
          const last = new Map<string, string>();
          for (const { op, key, size } of operations) {
            const value = key.repeat(size);
            if (op === 'set') cache.set(key, value);
            else if (op === 'update') cache.update(key, () => value);
            else cache.invalidate(key);
            if (op !== 'invalidate') last.set(key, value);
            const held = ['a', 'b', 'c', 'd'].flatMap((k) => (cache.get(k) === undefined ? [] : [cache.get(k)!]));
            expect(held.length).toBeLessThanOrEqual(3);
            expect(cache.heldWeight).toBe(held.reduce((sum, v) => sum + v.length, 0));
            expect(cache.heldWeight).toBeLessThanOrEqual(10);
            const stale = ['a', 'b', 'c', 'd'].filter((k) => cache.get(k) !== undefined && cache.get(k) !== last.get(k));
            expect(stale).toEqual([]);
            // A store that fits is always kept.
            const kept = op !== 'set' || size > 10 || cache.get(key) === value;
            expect(kept).toBe(true);
          }
        },
      ),
    );
  });
});
