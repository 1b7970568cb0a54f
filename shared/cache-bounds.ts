/**
 * How the instance's LRU caches are bounded. lru-cache allocates storage for all of `max` when a
 * cache is made (its README, "Storage Bounds Safety"): 11-12 ms for 50,000 entries, which every
 * cold start paid before its first answer. Counting each entry as size 1 against `maxSize` bounds
 * the cache to the same number of entries, and allocates as they arrive.
 */
export function atMostEntries(entries: number): { readonly maxSize: number; readonly sizeCalculation: () => number } {
  return { maxSize: entries, sizeCalculation: () => 1 };
}
