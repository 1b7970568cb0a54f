/**
 * Per-user key-values in `clio_keyvalue/{email}/{scope}/{key}` and their pull requests in
 * `clio_pull_requests/{email}/{scope}/{key}`. The `{email}` parent documents have no fields
 * (they only hold sub-collections), so they are found by listing, not by querying.
 */
import type { Firestore } from '../../shared/firestore-client/client';
import { COLLECTIONS } from '../../shared/collections';
import { docData, nowSeconds, readDocument } from '../../shared/firestore';
import { writeClientDocument } from '../../shared/stored-data';

export type StoredValue = Record<string, unknown>;
/** `{scope: {key: value}}` */
export type ScopedValues = Record<string, Record<string, StoredValue>>;

const valueRef = (db: Firestore, root: string, email: string, scope: string, key: string) =>
  db.collection(root).doc(email).collection(scope).doc(key);

export function readValue(db: Firestore, email: string, scope: string, key: string): Promise<StoredValue | undefined> {
  return readDocument(valueRef(db, COLLECTIONS.keyValues, email, scope, key));
}

/** Every key of one scope (an empty object when the scope has none). */
export async function readScope(db: Firestore, email: string, scope: string): Promise<Record<string, StoredValue>> {
  const snapshot = await db.collection(COLLECTIONS.keyValues).doc(email).collection(scope).get();
  return Object.fromEntries(snapshot.docs.map((doc) => [doc.id, docData(doc)]));
}

/** Replaces the value with `value` plus a fresh `_timestamp`. */
export async function writeValue(db: Firestore, email: string, scope: string, key: string, value: StoredValue): Promise<void> {
  await writeClientDocument(valueRef(db, COLLECTIONS.keyValues, email, scope, key), { ...value, _timestamp: nowSeconds() });
}

export async function deleteValue(db: Firestore, email: string, scope: string, key: string): Promise<void> {
  await valueRef(db, COLLECTIONS.keyValues, email, scope, key).delete();
}

/**
 * Copies the caller's key-value to their pull requests with a fresh `_timestamp`.
 * Returns false when there is no such key-value.
 */
export async function copyToPullRequests(db: Firestore, email: string, scope: string, key: string): Promise<boolean> {
  const snapshot = await valueRef(db, COLLECTIONS.keyValues, email, scope, key).get();
  if (!snapshot.exists) return false;
  // The raw data is copied, so large integers are written back exactly as they were read.
  await writeClientDocument(valueRef(db, COLLECTIONS.pullRequests, email, scope, key), { ...snapshot.data(), _timestamp: nowSeconds() });
  return true;
}

/** Every e-mail that has pull requests, including the field-less parent documents. */
export async function pullRequestEmails(db: Firestore): Promise<string[]> {
  const refs = await db.collection(COLLECTIONS.pullRequests).listDocuments();
  return refs.map((ref) => ref.id);
}

/** `{email: {scope: {key: value}}}`; e-mails without any pull request are left out. */
export async function readPullRequests(db: Firestore, emails: readonly string[]): Promise<Record<string, ScopedValues>> {
  const perEmail = await Promise.all(
    emails.map(async (email): Promise<[string, ScopedValues]> => {
      const scopes = await db.collection(COLLECTIONS.pullRequests).doc(email).listCollections();
      const entries = await Promise.all(
        scopes.map(async (scope): Promise<[string, Record<string, StoredValue>]> => {
          const snapshot = await scope.get();
          return [scope.id, Object.fromEntries(snapshot.docs.map((doc) => [doc.id, docData(doc)]))];
        }),
      );
      return [email, Object.fromEntries(entries.filter(([, values]) => Object.keys(values).length > 0))];
    }),
  );
  return Object.fromEntries(perEmail.filter(([, scopes]) => Object.keys(scopes).length > 0));
}

