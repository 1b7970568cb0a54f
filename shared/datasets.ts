/**
 * The per-instance dataset catalog: the whole `clio_datasets` collection, cached for 600 s and
 * replaced (not merged) on reload, so deleted or un-published datasets disappear.
 */
import type { Firestore } from './firestore-client/client';
import { CollectionCache, type CollectionSnapshot } from './collection-cache';
import { COLLECTIONS } from './collections';

export type DatasetDoc = Record<string, unknown>;

export const DATASET_TTL_MS = 600_000;

export class DatasetCatalog extends CollectionCache {
  /** The public ids of each snapshot, worked out once per snapshot rather than per request. */
  private readonly publicBySnapshot = new WeakMap<CollectionSnapshot, ReadonlySet<string>>();

  constructor(db: () => Firestore, ttlMs = DATASET_TTL_MS) {
    super(() => db().collection(COLLECTIONS.datasets), ttlMs);
  }

  async publicIds(): Promise<ReadonlySet<string>> {
    const datasets = await this.snapshot();
    let ids = this.publicBySnapshot.get(datasets);
    if (!ids) {
      ids = new Set([...datasets].filter(([, doc]) => doc.public === true).map(([id]) => id));
      this.publicBySnapshot.set(datasets, ids);
    }
    return ids;
  }
}
