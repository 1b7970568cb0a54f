/**
 * Firestore access: one client per instance, created on first use, and conversion of stored
 * values to the plain JSON the API returns.
 */
import type { GoogleAuth } from 'google-auth-library';
import type { Config } from './config';
import { HttpError } from './errors';
import { type CollectionReference, type DocumentReference, Firestore, FirestoreError, Timestamp, type Transaction } from './firestore-client/client';

/** How long one Firestore call may take, as the Google client allows by default. */
const CALL_TIMEOUT_MS = 60_000;

/** Returns the instance's Firestore client, creating it on the first call. */
export function lazyFirestore(config: Config): () => Firestore {
  let client: Firestore | undefined;
  return () => {
    client ??= new Firestore(firestoreSettings(config));
    return client;
  };
}

function firestoreSettings(config: Config): ConstructorParameters<typeof Firestore>[0] {
  if (config.firestoreEmulatorHost) {
    // The emulator takes any project and this header in place of credentials.
    return {
      baseUrl: `http://${config.firestoreEmulatorHost}`,
      projectId: config.projectId ?? 'demo-clio',
      headers: () => EMULATOR_HEADERS,
      timeoutMs: CALL_TIMEOUT_MS,
    };
  }
  // Loaded with the first call: on the emulator, and until then, the function does without it.
  let auth: Promise<GoogleAuth> | undefined;
  const googleAuth = () => (auth ??= import('google-auth-library').then(({ GoogleAuth }) => new GoogleAuth({ scopes: 'https://www.googleapis.com/auth/datastore' })));
  const projectId = config.projectId ?? (async () => (await googleAuth()).getProjectId());
  return {
    baseUrl: config.firestoreApiUrl,
    projectId,
    headers: async () => {
      const token = await (await googleAuth()).getAccessToken();
      if (!token) throw new FirestoreError(16, 'google-auth-library gave no access token for Firestore');
      return { authorization: `Bearer ${token}` };
    },
    timeoutMs: CALL_TIMEOUT_MS,
  };
}

const EMULATOR_HEADERS = { authorization: 'Bearer owner' };

/**
 * Converts Firestore values to plain JSON values: bigints that fit a JS number become numbers,
 * Timestamps become epoch seconds (the original stored floats; this covers hand-edited data).
 */
export function toPlain(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Timestamp) return value.seconds + value.nanoseconds / 1e9;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = toPlain(inner);
  return out;
}

/** The plain data of a document snapshot (an empty object for a document without fields). */
export function docData(snapshot: { data(): Record<string, unknown> | undefined }): Record<string, unknown> {
  return toPlain(snapshot.data() ?? {}) as Record<string, unknown>;
}

/** Server timestamps are epoch seconds as a float, as the original wrote them. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}

/** Every document of a collection as plain data, by document id. */
export async function readCollection(collection: CollectionReference): Promise<Map<string, Record<string, unknown>>> {
  const snapshot = await collection.get();
  return new Map(snapshot.docs.map((doc) => [doc.id, docData(doc)]));
}

/** One document's plain data, or undefined when it does not exist. */
export async function readDocument(ref: DocumentReference): Promise<Record<string, unknown> | undefined> {
  const snapshot = await ref.get();
  return snapshot.exists ? docData(snapshot) : undefined;
}

/** Deletes the documents with these ids in one batch (all or none); missing ones are fine. */
export async function deleteDocuments(collection: CollectionReference, ids: readonly string[]): Promise<void> {
  const batch = collection.firestore.batch();
  for (const id of new Set(ids)) batch.delete(collection.doc(id));
  await batch.commit();
}

/** Writers on other instances may contend for the same documents; retry more than the client's default 5 times. */
const TRANSACTION_ATTEMPTS = 10;
/** gRPC status ABORTED: another transaction changed the documents first. */
const ABORTED = 10;
/**
 * No attempt of a transaction starts later than this after its first, so that ten attempts
 * against a database that answers slowly cannot hang a write past the request's deadline.
 * Contention is over within a few rounds; on the emulator each round costs its 2 s lock timeout.
 */
const TRANSACTION_RETRY_WINDOW_MS = 25_000;

/** This instance's transactions waiting on each key, per Firestore client (i.e. per instance). */
const queues = new WeakMap<Firestore, Map<string, Promise<unknown>>>();

/**
 * Runs a transaction over the documents named by `keys`, after this instance's earlier
 * transactions on any of those keys. Concurrent transactions on one document would contend for
 * its lock and retry, slowly and possibly past the retry limit; queueing them here avoids that,
 * while the transaction itself still guards against other instances. Contention that outlasts
 * every retry is a 409 the client may retry, never a 500.
 */
export async function queuedTransaction<T>(db: Firestore, keys: readonly string[], update: (tx: Transaction) => Promise<T>): Promise<T> {
  let byKey = queues.get(db);
  if (!byKey) queues.set(db, (byKey = new Map()));
  const unique = [...new Set(keys)];
  const before = Promise.all(unique.map((key) => byKey.get(key)));
  const run = before.then(() => {
    const started = Date.now();
    return db.runTransaction(
      (tx) => {
        if (Date.now() - started > TRANSACTION_RETRY_WINDOW_MS) throw DATABASE_UNAVAILABLE();
        return update(tx);
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
  });
  const settled = run.catch(() => undefined);
  for (const key of unique) byKey.set(key, settled);
  try {
    return await run;
  } catch (error) {
    if ((error as { code?: unknown }).code === ABORTED) {
      throw new HttpError(409, 'the data was being changed by other requests at the same time; try again', { 'Retry-After': '1' });
    }
    throw error;
  } finally {
    for (const key of unique) if (byKey.get(key) === settled) byKey.delete(key);
  }
}

/**
 * Codes of a database that cannot answer now: gRPC's UNAVAILABLE, DEADLINE_EXCEEDED and
 * RESOURCE_EXHAUSTED (the client reports a lost or refused connection as UNAVAILABLE).
 */
const UNAVAILABLE_CODES = new Set<unknown>([14, 4, 8]);

/** The 503 for a Firestore error that says the database cannot answer now, else undefined. */
export function databaseUnavailable(error: unknown): HttpError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return UNAVAILABLE_CODES.has(code) ? DATABASE_UNAVAILABLE() : undefined;
}

const DATABASE_UNAVAILABLE = () => new HttpError(503, 'the database is not answering right now; try again in a moment', { 'Retry-After': '5' });
