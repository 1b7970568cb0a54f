/**
 * Volume definitions in `clio_volumes/{id}`, and the per-instance catalog the storage proxy reads
 * so that it needs no Firestore read per object. The catalog is reloaded when older than a short
 * TTL, so a volume added through any instance reaches every instance soon, without a restart.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { AppContext } from '../../shared/context';
import { COLLECTIONS } from '../../shared/collections';
import { deleteDocuments, readCollection, readDocument } from '../../shared/firestore';
import type { Volume } from './schemas';

export type VolumeDoc = Record<string, unknown>;

export function readAllVolumes(db: Firestore): Promise<Map<string, VolumeDoc>> {
  return readCollection(db.collection(COLLECTIONS.volumes));
}

export function readVolume(db: Firestore, id: string): Promise<VolumeDoc | undefined> {
  return readDocument(db.collection(COLLECTIONS.volumes).doc(id));
}

/** Creates or replaces every posted volume in one batch (all or none). */
export async function saveVolumes(db: Firestore, volumes: Record<string, Volume>): Promise<void> {
  const batch = db.batch();
  for (const [id, volume] of Object.entries(volumes)) batch.set(db.collection(COLLECTIONS.volumes).doc(id), volume);
  await batch.commit();
}

export function deleteVolumes(db: Firestore, ids: readonly string[]): Promise<void> {
  return deleteDocuments(db.collection(COLLECTIONS.volumes), ids);
}

export const VOLUME_TTL_MS = 15_000;

export class VolumeCatalog {
  private readonly db: () => Firestore;
  private readonly ttlMs: number;
  private snapshot: { loadedAt: number; volumes: Map<string, VolumeDoc> } | undefined;
  private loading: Promise<void> | undefined;

  constructor(db: () => Firestore, ttlMs = VOLUME_TTL_MS) {
    this.db = db;
    this.ttlMs = ttlMs;
  }

  async get(id: string): Promise<VolumeDoc | undefined> {
    if (!this.snapshot || Date.now() - this.snapshot.loadedAt > this.ttlMs) {
      // Concurrent requests share one reload.
      this.loading ??= readAllVolumes(this.db())
        .then((volumes) => this.replace(volumes))
        .finally(() => {
          this.loading = undefined;
        });
      await this.loading;
    }
    return this.snapshot?.volumes.get(id);
  }

  /** Takes a complete, fresh read of the collection. */
  replace(volumes: Map<string, VolumeDoc>): void {
    this.snapshot = { loadedAt: Date.now(), volumes: new Map(volumes) };
  }

  /** Records a volume this instance wrote or read. */
  remember(id: string, doc: VolumeDoc): void {
    this.snapshot?.volumes.set(id, doc);
  }

  /** Records a delete made by this instance. */
  forget(id: string): void {
    this.snapshot?.volumes.delete(id);
  }
}

const catalogs = new WeakMap<AppContext, VolumeCatalog>();

/** The catalog of one function instance (one context). */
export function volumeCatalog(ctx: AppContext): VolumeCatalog {
  let catalog = catalogs.get(ctx);
  if (!catalog) {
    catalog = new VolumeCatalog(ctx.db);
    catalogs.set(ctx, catalog);
  }
  return catalog;
}
