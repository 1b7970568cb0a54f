/**
 * Data a client sends that Firestore refuses (empty or reserved field names, a document over
 * 1 MiB, a request over 10 MiB) is the client's mistake, so the refusal becomes a 4xx, not a 500.
 */
import type { DocumentReference } from './firestore-client/client';
import { HttpError } from './errors';

/** Firestore's limit on a whole document, name and fields included. */
export const MAX_DOCUMENT_BYTES = 1_048_576;

function refused(error: unknown): HttpError {
  const reason = error instanceof Error ? error.message.replace(/^\d+ INVALID_ARGUMENT: /, '') : String(error);
  return new HttpError(400, `The data cannot be stored: ${reason}`);
}

/** Stages one write of a batch or transaction; the client library checks field names here. */
export function stageWrite(write: () => unknown): void {
  try {
    write();
  } catch (error) {
    throw refused(error);
  }
}

/** Runs a commit (or a whole transaction); Firestore's INVALID_ARGUMENT becomes a 400. */
export async function commitWrites<T>(commit: () => Promise<T>): Promise<T> {
  try {
    return await commit();
  } catch (error) {
    if ((error as { code?: unknown }).code === 3) throw refused(error);
    throw error;
  }
}

/** A document's storage size as Firestore counts it (cloud.google.com/firestore/docs/storage-size). */
export function documentSize(path: string, data: Record<string, unknown>): number {
  const nameSize = path.split('/').reduce((sum, segment) => sum + stringSize(segment), 16);
  return nameSize + valueSize(data) + 32;
}

/** 413, before anything is sent, for a document Firestore would refuse as too large. */
export function ensureDocumentFits(path: string, data: Record<string, unknown>): void {
  const size = documentSize(path, data);
  if (size > MAX_DOCUMENT_BYTES) {
    throw new HttpError(413, `the value takes ${size} bytes as a Firestore document; the limit is ${MAX_DOCUMENT_BYTES} bytes (1 MiB)`);
  }
}

const stringSize = (text: string) => Buffer.byteLength(text, 'utf8') + 1;

function valueSize(value: unknown): number {
  if (typeof value === 'string') return stringSize(value);
  if (typeof value === 'number' || typeof value === 'bigint') return 8;
  if (value === null || typeof value !== 'object') return 1;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + valueSize(item), 0);
  return Object.entries(value).reduce((sum, [key, inner]) => sum + stringSize(key) + valueSize(inner), 0);
}

/**
 * Writes one document of client data, refusing with a client error (and writing nothing) what
 * Firestore cannot store: 400 for what it rejects (nesting deeper than 20 levels, empty or
 * reserved field names, arrays directly inside arrays), 413 for a document over 1 MiB.
 */
export async function writeClientDocument(ref: DocumentReference, data: Record<string, unknown>): Promise<void> {
  const batch = ref.firestore.batch();
  // The client library validates the data here (depth included), before anything is sent.
  stageWrite(() => batch.set(ref, data));
  ensureDocumentFits(ref.path, data);
  await commitWrites(() => batch.commit());
}
