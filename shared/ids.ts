/**
 * Values that become Firestore document ids (DECISIONS section 2): one check for all of them, and
 * one schema per kind of id that more than one family names. A value Firestore would refuse is a
 * client's mistake, answered at once with a 4xx that names the parameter, never sent to Firestore
 * (which answers such ids with an error, some only after its retries).
 */
import * as v from 'valibot';

export const MAX_DOCUMENT_ID_BYTES = 1500;

/** Why Firestore cannot store `id` as a document id, or undefined when it can. */
export function documentIdProblem(id: string): string | undefined {
  if (id === '') return 'must not be empty';
  if (id.includes('/')) return 'must not contain "/"';
  if (id === '.' || id === '..') return 'must not be "." or ".."';
  if (/^__.*__$/s.test(id)) return 'must not both start and end with "__" (Firestore reserves such ids)';
  // A lone surrogate has no UTF-8 form; Firestore would store a different id than the one asked for.
  if (/\p{Cs}/u.test(id)) return 'must be valid Unicode (it holds a lone surrogate)';
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_DOCUMENT_ID_BYTES) return `must be at most ${MAX_DOCUMENT_ID_BYTES} bytes in UTF-8 (it has ${bytes})`;
  return undefined;
}

const idCheck = (what: string, emptyAllowed: boolean) =>
  v.check<string, (issue: v.CheckIssue<string>) => string>(
    (id) => (emptyAllowed && id === '') || documentIdProblem(id) === undefined,
    (issue) => `${what} ${documentIdProblem(issue.input)}`,
  );

/** A string that can be a Firestore document id; `what` names it in the error message. */
export const documentId = (what: string) => v.pipe(v.string(`${what} must be a string`), idCheck(what, false));

/** An optional query parameter naming a document: absent or empty means "not given" (''). */
export const optionalDocumentId = (what: string) => v.optional(v.pipe(v.string(`${what} must be a string`), idCheck(what, true)), '');

/** A dataset id: the `clio_datasets` document id, also a key of users' `datasets` roles. */
export const DatasetId = documentId('dataset id');

/** `{dataset}` in a path. */
export const DatasetParams = v.object({ dataset: DatasetId });

/**
 * A user named by e-mail: the `clio_users` document id and the owner level of per-user
 * collections. E-mails are compared case-insensitively, so it is trimmed and lower-cased first.
 */
export const userId = (what: string) => v.pipe(v.string(`${what} must be a string`), v.trim(), v.toLowerCase(), idCheck(what, false));

/** An optional query parameter naming a user; absent or empty means "the caller" (''). */
export const optionalUserId = (what: string) =>
  v.optional(v.pipe(v.string(`${what} must be a string`), v.trim(), v.toLowerCase(), idCheck(what, true)), '');

/**
 * Ids one request may delete. They go in one atomic batch, kept within the 500 writes per commit
 * that Firestore long enforced and still advises (deploy-facts section 4.2), far below its 10 MiB.
 */
export const MAX_IDS_PER_DELETE = 500;

/** Ids one request may read or revert at once, which bounds the work and memory of one request. */
export const MAX_IDS_PER_REQUEST = 10_000;

/** A list of ids of one kind, at most `max` of them; `what` names them in the error message. */
export const idList = <T extends v.GenericSchema>(item: T, max: number, what: string) =>
  v.pipe(v.array(item), v.maxLength(max, `at most ${max.toLocaleString('en')} ${what} per request`));
