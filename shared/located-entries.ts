/**
 * Entries pinned to a location of a dataset, one per owner, dataset and `x_y_z`: the storage of
 * saved searches, v1 annotations and the atlas. Documents keep the original's auto ids and fields
 * (`dataset`, `location` [x,y,z], `locationkey` "x_y_z", `timestamp`, the owner in `email` or
 * `user`). The original inserted a document on every POST; here a write replaces the owner's entry
 * at that location inside a transaction, and duplicates the original left are folded into one.
 */
import type { CollectionReference, Firestore, Query, QueryDocumentSnapshot, Transaction } from '@google-cloud/firestore';
import * as v from 'valibot';
import { docData, nowSeconds } from './firestore';
import { integerParam } from './http/validate';
import { commitWrites, stageWrite } from './stored-data';

/** `?x=&y=&z=` */
export const LocationQuery = v.object({ x: integerParam, y: integerParam, z: integerParam });
export type Location = v.InferOutput<typeof LocationQuery>;

/** Writers on other instances may contend for the same entries; retry more than the default 5 times. */
const TRANSACTION_ATTEMPTS = 10;

export const locationKey = ({ x, y, z }: Location): string => `${x}_${y}_${z}`;

export interface LocatedCollection {
  readonly ref: CollectionReference;
  /** The field naming the owner: `email` (saved searches, v1 annotations) or `user` (atlas). */
  readonly ownerField: 'email' | 'user';
}

/** A stored entry: the document's fields plus `id`, its document id. */
export type Entry = Record<string, unknown> & { id: string };

export function entryOf(doc: QueryDocumentSnapshot): Entry {
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
  return oneAtATime(queueOf(collection, owner, dataset, location), () =>
    commitWrites(() =>
      collection.ref.firestore.runTransaction(async (tx) => {
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
      }, { maxAttempts: TRANSACTION_ATTEMPTS }),
    ),
  );
}

/** Deletes every entry of the owner at a location. */
export function deleteEntries(collection: LocatedCollection, owner: string, dataset: string, location: Location): Promise<void> {
  return oneAtATime(queueOf(collection, owner, dataset, location), async () => {
    const found = await locationQuery(collection, owner, dataset, location).get();
    const batch = collection.ref.firestore.batch();
    for (const doc of found.docs) batch.delete(doc.ref);
    await batch.commit();
  });
}

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

/** The queue of one location's writes, per Firestore client (i.e. per instance). */
const queues = new WeakMap<Firestore, Map<string, Promise<unknown>>>();

function queueOf(collection: LocatedCollection, owner: string, dataset: string, location: Location) {
  let byKey = queues.get(collection.ref.firestore);
  if (!byKey) queues.set(collection.ref.firestore, (byKey = new Map()));
  return { byKey, key: JSON.stringify([collection.ref.path, owner, dataset, locationKey(location)]) };
}

/**
 * Runs this instance's writes of one location one after another. Concurrent transactions on the
 * same entries would contend for locks and retry (slowly, and possibly beyond the retry limit);
 * queueing them here avoids that, while the transaction still guards against other instances.
 */
async function oneAtATime<T>({ byKey, key }: ReturnType<typeof queueOf>, task: () => Promise<T>): Promise<T> {
  const run = (byKey.get(key) ?? Promise.resolve()).then(task);
  const settled = run.catch(() => undefined);
  byKey.set(key, settled);
  try {
    return await run;
  } finally {
    if (byKey.get(key) === settled) byKey.delete(key);
  }
}
