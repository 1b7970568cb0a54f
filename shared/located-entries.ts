/**
 * Entries pinned to a location of a dataset, one per owner, dataset and `x_y_z`: the storage of
 * saved searches, v1 annotations and the atlas. Documents keep the original's auto ids and fields
 * (`dataset`, `location` [x,y,z], `locationkey` "x_y_z", `timestamp`, the owner in `email` or
 * `user`). The original inserted a document on every POST; here a write replaces the owner's entry
 * at that location inside a transaction, and duplicates the original left are folded into one.
 */
import type { CollectionReference, Query, Transaction } from './firestore-client/client';
import * as v from 'valibot';
import { docData, nowSeconds, queuedTransaction } from './firestore';
import { integerParam } from './http/validate';
import { commitWrites, stageWrite } from './stored-data';

/** `?x=&y=&z=` */
export const LocationQuery = v.object({ x: integerParam, y: integerParam, z: integerParam });
export type Location = v.InferOutput<typeof LocationQuery>;

export const locationKey = ({ x, y, z }: Location): string => `${x}_${y}_${z}`;

export interface LocatedCollection {
  readonly ref: CollectionReference;
  /** The field naming the owner: `email` (saved searches, v1 annotations) or `user` (atlas). */
  readonly ownerField: 'email' | 'user';
}

/** A stored entry: the document's fields plus `id`, its document id. */
export type Entry = Record<string, unknown> & { id: string };

export function entryOf(doc: { readonly id: string; data(): Record<string, unknown> | undefined }): Entry {
  return { ...docData(doc), id: doc.id };
}

const timestampOf = (entry: Entry) => (typeof entry.timestamp === 'number' ? entry.timestamp : -Infinity);

/** Newest first, then by id: every reader and writer picks the same one of duplicates. */
function newestFirst(a: Entry, b: Entry): number {
  return timestampOf(b) - timestampOf(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The owner's entries in a dataset keyed by `locationkey`; of duplicates, the newest. */
export async function readEntries(collection: LocatedCollection, owner: string, dataset: string): Promise<Record<string, Entry>> {
  const snapshot = await collection.ref.where(collection.ownerField, '==', owner).where('dataset', '==', dataset).get();
  const byKey = new Map<string, Entry>();
  for (const entry of snapshot.docs.map(entryOf).sort(newestFirst)) {
    if (typeof entry.locationkey === 'string' && !byKey.has(entry.locationkey)) byKey.set(entry.locationkey, entry);
  }
  return Object.fromEntries(byKey);
}

/**
 * Creates or replaces the owner's entry at a location and deletes any duplicates, in one
 * transaction. `build` receives the entry being replaced (if any) and the id the entry will have,
 * and returns the client's fields (it may throw to refuse); the location fields, the timestamp
 * and the owner are set over them. Resolves to the stored entry.
 */
export function writeEntry(
  collection: LocatedCollection,
  owner: string,
  dataset: string,
  location: Location,
  build: (existing: Entry | undefined, id: string) => Record<string, unknown>,
): Promise<Entry> {
  return commitWrites(() =>
    queuedTransaction(collection.ref.firestore, [entryKey(collection, owner, dataset, location)], async (tx) => {
      const [kept, ...duplicates] = await matching(tx, collection, owner, dataset, location);
      const ref = kept ? collection.ref.doc(kept.id) : collection.ref.doc();
      const fields = {
        ...build(kept, ref.id),
        timestamp: nowSeconds(),
        dataset,
        location: [location.x, location.y, location.z],
        locationkey: locationKey(location),
        [collection.ownerField]: owner,
      };
      stageWrite(() => tx.set(ref, fields));
      for (const duplicate of duplicates) tx.delete(collection.ref.doc(duplicate.id));
      return { ...fields, id: ref.id };
    }),
  );
}

/** Deletes every entry of the owner at a location. */
export function deleteEntries(collection: LocatedCollection, owner: string, dataset: string, location: Location): Promise<void> {
  return queuedTransaction(collection.ref.firestore, [entryKey(collection, owner, dataset, location)], async (tx) => {
    for (const entry of await matching(tx, collection, owner, dataset, location)) tx.delete(collection.ref.doc(entry.id));
  });
}

/** What names one location's entry: its writes queue on it (entries of a location have no fixed document id). */
const entryKey = (collection: LocatedCollection, owner: string, dataset: string, location: Location) =>
  JSON.stringify([collection.ref.path, owner, dataset, locationKey(location)]);

function locationQuery(collection: LocatedCollection, owner: string, dataset: string, location: Location): Query {
  return collection.ref
    .where(collection.ownerField, '==', owner)
    .where('dataset', '==', dataset)
    .where('locationkey', '==', locationKey(location));
}

async function matching(tx: Transaction, collection: LocatedCollection, owner: string, dataset: string, location: Location): Promise<Entry[]> {
  const snapshot = await tx.get(locationQuery(collection, owner, dataset, location));
  return snapshot.docs.map(entryOf).sort(newestFirst);
}
