/**
 * Storage of user documents in `clio_users/{email}`.
 */
import type { Firestore } from '../../shared/firestore-client/client';
import { COLLECTIONS } from '../../shared/collections';
import { deleteDocuments } from '../../shared/firestore';

/** Writes each user's named fields only; fields a user update leaves out keep their stored value. */
export async function updateUsers(db: Firestore, updates: Record<string, Record<string, unknown>>): Promise<void> {
  const batch = db.batch();
  for (const [email, fields] of Object.entries(updates)) {
    const ref = db.collection(COLLECTIONS.users).doc(email);
    const named = Object.keys(fields).filter((key) => fields[key] !== undefined);
    // mergeFields replaces exactly the named fields (a `datasets` map as a whole) and creates new users.
    batch.set(ref, fields, { mergeFields: named });
  }
  await batch.commit();
}

export function deleteUsers(db: Firestore, emails: readonly string[]): Promise<void> {
  return deleteDocuments(db.collection(COLLECTIONS.users), emails);
}
