/**
 * Volume definitions in `clio_volumes/{id}`, and the per-instance catalog the storage proxy reads
 * so that it needs no Firestore read per object. The catalog is reloaded when older than a short
 * TTL, so a volume added through any instance reaches every instance soon, without a restart.
 */
import type { Firestore } from '../../shared/firestore-client/client';
import type { AppContext } from '../../shared/context';
import { CollectionCache } from '../../shared/collection-cache';
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

const catalogs = new WeakMap<AppContext, CollectionCache>();

/** The catalog of one function instance (one context). */
export function volumeCatalog(ctx: AppContext): CollectionCache {
  let catalog = catalogs.get(ctx);
  if (!catalog) {
    catalog = new CollectionCache(() => ctx.db().collection(COLLECTIONS.volumes), VOLUME_TTL_MS);
    catalogs.set(ctx, catalog);
  }
  return catalog;
}
