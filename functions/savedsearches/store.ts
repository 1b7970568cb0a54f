/**
 * Storage of saved searches in `clio_savedsearches/USER/searches` (auto-id documents owned through
 * `email`), one per user, dataset and location.
 */
import type { Firestore } from '../../shared/firestore-client/client';
import { COLLECTIONS } from '../../shared/collections';
import type { LocatedCollection } from '../../shared/located-entries';

export function savedSearches(db: Firestore): LocatedCollection {
  return { ref: db.collection(COLLECTIONS.savedSearches).doc('USER').collection('searches'), ownerField: 'email' };
}
