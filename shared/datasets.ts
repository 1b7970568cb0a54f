/**
 * The per-instance dataset catalog: the whole `clio_datasets` collection, reloaded when older
 * than 600 s and replaced (not merged) on reload, so deleted or un-published datasets disappear.
 * Concurrent requests share one reload; this instance's own writes update it at once.
 */
import type { Firestore } from '@google-cloud/firestore';
import { COLLECTIONS } from './collections';
import { readCollection } from './firestore';

export type DatasetDoc = Record<string, unknown>;

export const DATASET_TTL_MS = 600_000;

interface Snapshot {
  readonly loadedAt: number;
  readonly datasets: Map<string, DatasetDoc>;
  readonly publicIds: Set<string>;
}

export class DatasetCatalog {
  private readonly db: () => Firestore;
  private readonly ttlMs: number;
  private current: Promise<Snapshot> | undefined;

  constructor(db: () => Firestore, ttlMs = DATASET_TTL_MS) {
    this.db = db;
    this.ttlMs = ttlMs;
  }

  async get(id: string): Promise<DatasetDoc | undefined> {
    return (await this.snapshot()).datasets.get(id);
  }

  async publicIds(): Promise<ReadonlySet<string>> {
    return (await this.snapshot()).publicIds;
  }

  /** Reloads now, replacing everything this instance knew. */
  async refresh(): Promise<void> {
    this.current = this.load();
    await this.current;
  }

  /** Records a create or update made by this instance. */
  async remember(id: string, doc: DatasetDoc): Promise<void> {
    const snapshot = await this.snapshot();
    const datasets = new Map(snapshot.datasets).set(id, doc);
    this.current = Promise.resolve(makeSnapshot(datasets, snapshot.loadedAt));
  }

  /** Records a delete made by this instance. */
  async forget(id: string): Promise<void> {
    const snapshot = await this.snapshot();
    const datasets = new Map(snapshot.datasets);
    datasets.delete(id);
    this.current = Promise.resolve(makeSnapshot(datasets, snapshot.loadedAt));
  }

  private async snapshot(): Promise<Snapshot> {
    const pending = this.current;
    const snapshot = pending ? await pending.catch(() => undefined) : undefined;
    if (snapshot && Date.now() - snapshot.loadedAt <= this.ttlMs) return snapshot;
    // Only the first caller to see a stale snapshot starts the reload; the rest await it.
    if (this.current === pending) this.current = this.load();
    return this.current!;
  }

  private async load(): Promise<Snapshot> {
    return makeSnapshot(await readCollection(this.db().collection(COLLECTIONS.datasets)), Date.now());
  }
}

function makeSnapshot(datasets: Map<string, DatasetDoc>, loadedAt: number): Snapshot {
  const publicIds = new Set([...datasets].filter(([, doc]) => doc.public === true).map(([id]) => id));
  return { loadedAt, datasets, publicIds };
}
