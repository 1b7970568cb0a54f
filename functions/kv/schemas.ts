import * as v from 'valibot';
import { HttpError } from '../../shared/errors';
import { jsonObject, queryBool } from '../../shared/http/validate';
import { documentId, optionalUserId } from '../../shared/ids';

const Scope = documentId('scope');
const Key = documentId('key');

export const ScopeParams = v.object({ scope: Scope });
export const KeyParams = v.object({ scope: Scope, key: Key });

/** `timestamp=true` shows the server-set `_timestamp` field. */
export const TimestampQuery = v.object({ timestamp: queryBool(false) });

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Firestore refuses anything deeper; past this depth the walk stops and Firestore's own check answers. */
const FIRESTORE_MAX_DEPTH = 20;

/**
 * Firestore stores signed 64-bit integers and silently wraps larger ones (2^64-1 reads back as -1),
 * so an integer outside that range must be refused before it is written.
 */
function integersFitInt64(value: unknown, depth = 0): boolean {
  if (typeof value === 'bigint') return value >= INT64_MIN && value <= INT64_MAX;
  if (value === null || typeof value !== 'object' || depth > FIRESTORE_MAX_DEPTH) return true;
  return Object.values(value).every((inner) => integersFitInt64(inner, depth + 1));
}

/** A stored value: any JSON object whose integers Firestore can hold exactly. */
export const KeyValue = v.pipe(
  jsonObject,
  v.check((value: Record<string, unknown>) => integersFitInt64(value), 'integers must lie between -2^63 and 2^63-1, the range Firestore stores exactly'),
);

/** `{"pull": "kv/<scope>/<key>"}` */
export const PullRequestBody = v.object({ pull: v.string() });

/** `user_email`: empty or absent for the caller, another e-mail or `all` (admins only). */
export const PullRequestQuery = v.object({
  user_email: optionalUserId('user_email'),
});

/** Splits `kv/<scope>/<key>`; anything else is the client's mistake (400, as in the original). */
export function parsePullReference(pull: string): { scope: string; key: string } {
  const parts = pull.split('/');
  if (parts.length !== 3) {
    throw new HttpError(400, `badly formatted pull request "${pull}": expected "kv/<scope>/<key>"`);
  }
  if (parts[0] !== 'kv') throw new HttpError(400, `only kv pull requests are supported, not "${parts[0]}"`);
  const parsed = v.safeParse(KeyParams, { scope: parts[1], key: parts[2] });
  if (!parsed.success) throw new HttpError(400, `badly formatted pull request "${pull}": ${parsed.issues[0].message}`);
  return parsed.output;
}
