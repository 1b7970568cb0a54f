/**
 * A per-instance cache of a whole (small) collection: reloaded when older than its TTL and then
 * replaced, not merged, so deleted documents disappear. Concurrent requests share one reload,
 * and this instance's own writes update it at once. Each change makes a new snapshot, so values
 * derived from a snapshot can be memoised on it.
 */
import type { CollectionReference } from './firestore-client/client';
import { readCollection } from './firestore';

export type CachedDoc = Record<string, unknown>;
export type CollectionSnapshot = ReadonlyMap<string, CachedDoc>;

interface Loaded {
  readonly loadedAt: number;
  readonly docs: CollectionSnapshot;
}

export class CollectionCache {
  private readonly collection: () => CollectionReference;
  private readonly ttlMs: number;
  private loaded: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;

  constructor(collection: () => CollectionReference, ttlMs: number) {
    this.collection = collection;
    this.ttlMs = ttlMs;
  }

  /** The documents by id, from a load at most one TTL old. */
  async snapshot(): Promise<CollectionSnapshot> {
    if (this.loaded && Date.now() - this.loaded.loadedAt <= this.ttlMs) return this.loaded.docs;
    // Concurrent callers share one reload.
    this.loading ??= this.load();
    return (await this.loading).docs;
  }

  async get(id: string): Promise<CachedDoc | undefined> {
    return (await this.snapshot()).get(id);
  }

  /** Reloads now, replacing everything this instance knew. */
  async refresh(): Promise<void> {
    this.loading = this.load();
    await this.loading;
  }

  /** Takes a complete, fresh read of the collection made elsewhere. */
  replace(docs: CollectionSnapshot): void {
    this.loaded = { loadedAt: Date.now(), docs: new Map(docs) };
  }

  /** Records a create or update made by this instance (after it was committed). */
  remember(id: string, doc: CachedDoc): void {
    this.change((docs) => docs.set(id, doc));
  }

  /** Records a delete made by this instance (after it was committed). */
  forget(id: string): void {
    this.change((docs) => docs.delete(id));
  }

  /**
   * Applies a committed write to what is cached. With nothing cached the next read loads it from
   * Firestore anyway; a load already under way may have missed it, so it is applied again after.
   */
  private change(edit: (docs: Map<string, CachedDoc>) => void): void {
    if (this.loaded) {
      const docs = new Map(this.loaded.docs);
      edit(docs);
      this.loaded = { loadedAt: this.loaded.loadedAt, docs };
    }
    this.loading?.then(() => this.change(edit), () => undefined);
  }

  private async load(): Promise<Loaded> {
    try {
      const loaded = { loadedAt: Date.now(), docs: await readCollection(this.collection()) };
      this.loaded = loaded;
      return loaded;
    } finally {
      this.loading = undefined;
    }
  }
}
