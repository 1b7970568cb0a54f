/**
 * Storage of atlas entries: `clio_annotations/ATLAS/annotations`, auto-id documents of every
 * dataset, owned through `user`, each carrying its own id in `id` and a `verified` flag.
 */
import type { Firestore } from '../../shared/firestore-client/client';
import { COLLECTIONS } from '../../shared/collections';
import { HttpError } from '../../shared/errors';
import { docData, queuedTransaction } from '../../shared/firestore';
import { type Entry, entryOf, type LocatedCollection } from '../../shared/located-entries';

export function atlasEntries(db: Firestore): LocatedCollection {
  return { ref: db.collection(COLLECTIONS.annotations).doc('ATLAS').collection('annotations'), ownerField: 'user' };
}

/** An entry as answered: a missing (or non-boolean) `verified` reads as false. */
export const withVerified = (entry: Entry): Entry => ({ ...entry, verified: entry.verified === true });

/** Every entry of every dataset, in document order. */
export async function readAllEntries(db: Firestore): Promise<Entry[]> {
  const snapshot = await atlasEntries(db).ref.get();
  return snapshot.docs.map((doc) => withVerified(entryOf(doc)));
}

/**
 * Flips an entry's `verified` flag in a transaction. `allowed` sees the stored entry first and
 * may refuse by throwing. Resolves to the updated entry.
 */
export async function toggleVerified(db: Firestore, id: string, allowed: (entry: Entry) => void): Promise<Entry> {
  const ref = atlasEntries(db).ref.doc(id);
  return queuedTransaction(db, [ref.path], async (tx) => {
    const snapshot = await tx.get(ref);
    if (!snapshot.exists) throw new HttpError(404, `atlas entry ${id} not found`);
    const entry: Entry = { ...docData(snapshot), id };
    allowed(entry);
    const verified = entry.verified !== true;
    tx.update(ref, { verified });
    return { ...entry, verified };
  });
}
