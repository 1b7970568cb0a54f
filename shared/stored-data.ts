/**
 * Data a client sends that Firestore refuses (empty or reserved field names, a document over
 * 1 MiB, a request over 10 MiB) is the client's mistake, so the refusal becomes a 400, not a 500.
 */
import { HttpError } from './errors';

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
