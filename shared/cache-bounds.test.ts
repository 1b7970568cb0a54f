/** The entry bound of the instance's caches, with lru-cache's `maxSize`, evicts exactly as `max` would. */
import fc from 'fast-check';
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { atMostEntries } from './cache-bounds';

const operation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 9 }) }),
);

describe('atMostEntries', () => {
  it('keeps the same entries, in the same order, as the same bound given as max', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(operation, { maxLength: 60 }), (bound, operations) => {
        const bySize = new LRUCache<number, number>(atMostEntries(bound));
        const byCount = new LRUCache<number, number>({ max: bound });
        for (const [step, { kind, key }] of operations.entries()) {
          for (const cache of [bySize, byCount]) {
            if (kind === 'set') cache.set(key, step);
            else if (kind === 'get') cache.get(key);
            else cache.delete(key);
          }
          expect([...bySize.entries()]).toEqual([...byCount.entries()]);
          expect(bySize.size).toBeLessThanOrEqual(bound);
        }
      }),
    );
  });

  it('bounds what a fetchMethod adds as max does, and leaves an undefined answer uncached', async () => {
    const fetchMethod = async (key: string) => (key === 'nobody' ? undefined : key.toUpperCase());
    const caches = [new LRUCache<string, string>({ ...atMostEntries(2), fetchMethod }), new LRUCache<string, string>({ max: 2, fetchMethod })];
    for (const cache of caches) {
      for (const key of ['x', 'y', 'z']) expect(await cache.fetch(key)).toBe(key.toUpperCase());
      expect(await cache.fetch('nobody')).toBeUndefined();
      expect(cache.has('nobody')).toBe(false);
    }
    expect([...caches[0].entries()]).toEqual([...caches[1].entries()]);
    expect(caches[0].size).toBeGreaterThan(0);
  });
});
