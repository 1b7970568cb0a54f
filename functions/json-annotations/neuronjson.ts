/**
 * DVID neuronjson semantics (reference/neuronjson.md §1.2, §1.3, §1.5), in one place for both the
 * local DVID-protocol test server and the Firestore-native store: the write algorithm, read
 * shaping (`show`, `fields`) and the query language. Values are parsed losslessly (shared/json.ts),
 * so integers beyond 2^53 are bigints. Deliberate differences from DVID, all documented in the
 * README: `conditional` protects only non-empty stored values (DECISIONS section 10), and JS
 * cannot tell `1.0` from `1`, so an integral float in a query or a record counts as an integer.
 */
import { stringifyJson } from '../../shared/json';

export type Annotation = Record<string, unknown>;

/** `<field>_user` / `<field>_time`: metadata about `<field>`. */
export const COMPANION = /_(user|time)$/;

/** Fields that never get companions. */
const UNSTAMPED = new Set(['bodyid', 'user']);

export interface WriteOptions {
  readonly replace: boolean;
  /** Fields written only when the stored value is missing or empty. */
  readonly conditional: readonly string[];
}

/** `null`, `""`, `[]` and `{}`: what a `conditional` field may overwrite. */
export function isEmptyValue(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** Deep equality on parsed values; `5` and `5n` are equal, a list in another order is not. */
export function sameValue(a: unknown, b: unknown): boolean {
  return stringifyJson(a) === stringifyJson(b);
}

/** The `_time` of a write: RFC 3339 in UTC at one-second resolution, as DVID writes it (but in UTC). */
export function dvidTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * DVID's `updateJSON`: the annotation stored after `user` posts `posted` over `stored` at `now`.
 * Nulls delete (and stamp who deleted, unless the companions are posted null too), changed
 * fields are stamped unless their companions are posted, unchanged ones keep their companions.
 */
export function applyWrite(stored: Annotation | undefined, posted: Annotation, user: string, now: string, options: WriteOptions): Annotation {
  const orig: Annotation = { ...(stored ?? {}) };
  const explicit = new Map<string, string>();
  for (const [name, value] of Object.entries(posted)) if (COMPANION.test(name)) explicit.set(name, typeof value === 'string' ? value : '');
  // An explicit empty companion means "do not write it".
  const stamp = (target: Annotation, name: string, fallback: string) => {
    const value = explicit.has(name) ? explicit.get(name)! : fallback;
    if (value !== '') target[name] = value;
  };
  const stampBoth = (target: Annotation, field: string) => {
    stamp(target, `${field}_user`, user);
    stamp(target, `${field}_time`, now);
  };

  // Deletions come first, so they go through even for conditional fields.
  const deleted = Object.keys(posted).filter((name) => posted[name] === null);
  for (const name of deleted) delete orig[name];
  const next: Annotation = {};
  if (!options.replace) {
    for (const [name, value] of Object.entries(orig)) if (!Object.hasOwn(posted, name)) next[name] = value;
  }
  // Deleting a field records who deleted it and when.
  for (const name of deleted) if (!COMPANION.test(name) && !UNSTAMPED.has(name)) stampBoth(next, name);

  for (const [name, value] of Object.entries(posted)) {
    if (value === null || COMPANION.test(name)) continue;
    const had = stored !== undefined && Object.hasOwn(orig, name);
    if (!options.replace && options.conditional.includes(name) && had && !isEmptyValue(orig[name])) {
      // Protected: the stored value and its companions stay.
      next[name] = orig[name];
      continue;
    }
    next[name] = value;
    if (UNSTAMPED.has(name)) continue;
    if (!(had && sameValue(orig[name], value))) {
      stampBoth(next, name);
      continue;
    }
    // Unchanged: its companions stay (merge carried them over); replace gives missing ones the caller and now.
    for (const [suffix, fallback] of [['_user', user], ['_time', now]] as const) {
      const companion = name + suffix;
      if (Object.hasOwn(orig, companion)) next[companion] = orig[companion];
      else if (options.replace) stamp(next, companion, fallback);
    }
  }
  // Posted companions are stored as posted: DVID lets clients set them.
  for (const [name, value] of Object.entries(posted)) if (COMPANION.test(name) && value !== null) next[name] = value;
  return next;
}

/** Why DVID refuses to store a posted annotation (key 0 is reserved, `bodyid` has no companions), or undefined. */
export function refusal(posted: Annotation): string | undefined {
  if (BigInt(posted.bodyid as number | bigint) === 0n) return 'body id 0 is reserved';
  if (Object.hasOwn(posted, 'bodyid_user') || Object.hasOwn(posted, 'bodyid_time')) return 'bodyid_user and bodyid_time are reserved';
  return undefined;
}

/** `show`: which companions a read includes. */
export type Show = '' | 'none' | 'user' | 'time' | 'all';

/**
 * The annotation as a read shows it: companions only as `show` asks, and with `fields` only
 * `bodyid` and those fields (and their companions as `show` allows).
 */
export function shape(annotation: Annotation, show: Show, fields: readonly string[] = []): Annotation {
  const out: Annotation = {};
  for (const [name, value] of Object.entries(annotation)) {
    const companion = COMPANION.exec(name);
    const base = companion ? name.slice(0, -5) : name;
    if (companion && show !== 'all' && show !== companion[1]) continue;
    if (fields.length > 0 && name !== 'bodyid' && !fields.includes(base)) continue;
    out[name] = value;
  }
  return out;
}

/** `all` leaves out records that show nothing but `bodyid`, unless `fields=bodyid` asked for just that. */
export function listedInAll(shaped: Annotation, fields: readonly string[]): boolean {
  if (fields.length === 1 && fields[0] === 'bodyid') return true;
  return Object.keys(shaped).some((name) => name !== 'bodyid');
}

/** Field names in use, without companions, sorted. */
export function fieldNames(annotations: Iterable<Annotation>): string[] {
  const names = new Set<string>();
  for (const annotation of annotations) for (const name of Object.keys(annotation)) if (!COMPANION.test(name)) names.add(name);
  return [...names].sort();
}

/** A query that cannot be run; the message says why (a 400 for the client). */
export class QueryError extends Error {}

export type Term =
  | { readonly kind: 'exists'; readonly present: boolean }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: RegExp }
  | { readonly kind: 'never' };

/** One query object, compiled: every field's terms, any-of within a field, all fields ANDed. */
export type CompiledQuery = readonly (readonly [field: string, terms: readonly Term[]])[];

const isIntegral = (value: unknown): value is number | bigint => typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value));

function compileTerm(value: unknown, field: string): Term {
  if (value === 'exists/0' || value === 'exists/1') return { kind: 'exists', present: value === 'exists/1' };
  if (isIntegral(value)) return { kind: 'int', value: BigInt(value) };
  if (typeof value === 'number') return { kind: 'float', value };
  if (typeof value === 'string') {
    if (!value.startsWith('re/')) return { kind: 'string', value };
    try {
      return { kind: 'regex', value: new RegExp(value.slice(3), 'u') };
    } catch (error) {
      throw new QueryError(`the regular expression of field ${field} is not valid: ${(error as Error).message}`);
    }
  }
  // Booleans, objects and null never match (DVID has no case for them).
  return { kind: 'never' };
}

function category(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return 'number';
  return typeof value === 'string' ? 'string' : 'other';
}

/** Compiles a query body (an object, or an array of objects ORed); throws QueryError. */
export function compileQuery(body: Annotation | readonly Annotation[]): CompiledQuery[] {
  const objects = Array.isArray(body) ? body : [body as Annotation];
  return objects.map((object) =>
    Object.entries(object).map(([field, condition]) => {
      if (!Array.isArray(condition)) {
        // A scalar float never matches in DVID (a missing case in checkField).
        const term = compileTerm(condition, field);
        return [field, [term.kind === 'float' ? { kind: 'never' } : term]] as const;
      }
      if (new Set(condition.map(category)).size > 1) throw new QueryError(`the list for field ${field} mixes value types`);
      const floats = condition.some((item) => typeof item === 'number' && !Number.isInteger(item));
      // A list with a non-integral number is a float list: it matches only non-integral field values.
      const terms = condition.map((item) => (floats && typeof item === 'number' ? ({ kind: 'float', value: item } as const) : compileTerm(item, field)));
      return [field, terms] as const;
    }),
  );
}

/** The bodyid-only special case: every key of every object is `bodyid`. Answers the ids asked for, in order. */
export function bodyIdLookup(queries: readonly CompiledQuery[]): string[] | undefined {
  if (queries.length === 0 || !queries.every((query) => query.length > 0 && query.every(([field]) => field === 'bodyid'))) return undefined;
  return queries.flatMap((query) => query.flatMap(([, terms]) => terms.flatMap((term) => (term.kind === 'int' && term.value >= 0n ? [term.value.toString()] : []))));
}

export function matchesAny(annotation: Annotation, queries: readonly CompiledQuery[]): boolean {
  return matchesAnyBy((field) => annotation[field], queries);
}

/** `matchesAny` of a body given by the value of each field asked about. */
export function matchesAnyBy(valueOf: (field: string) => unknown, queries: readonly CompiledQuery[]): boolean {
  return queries.some((query) =>
    query.every(([field, terms]) => {
      const value = valueOf(field);
      return terms.some((term) => matchesTerm(value, term));
    }),
  );
}

/**
 * A quick test of a body stored as text (`stringifyJson` of the annotation) that passes every
 * body matching `queries` (a superset of `matchesAny`), so that only bodies passing it are parsed:
 * each field's wanted values (or, for `exists/1`, the field's name) must appear in the text as
 * JSON spells them. Fields with regular expressions or `exists/0` are not looked for.
 */
export function textTest(queries: readonly CompiledQuery[]): (text: string) => boolean {
  // Per ORed object, per field it can look for: the spellings of which a match holds one.
  const objects = queries.map((query) =>
    query.flatMap(([field, terms]) => {
      const spellings = terms.map((term) => spellingsOf(field, term));
      return spellings.some((one) => one === undefined) ? [] : [spellings.flat() as string[]];
    }),
  );
  return (text) => objects.some((fields) => fields.every((needles) => needles.some((needle) => text.includes(needle))));
}

/** The texts of which a match holds at least one; undefined: none known; empty: the term never matches. */
function spellingsOf(field: string, term: Term): string[] | undefined {
  switch (term.kind) {
    case 'exists':
      return term.present ? [`${JSON.stringify(field)}:`] : undefined;
    case 'string':
      return [JSON.stringify(term.value)];
    case 'int':
      // Stored as a bigint (exact digits) or, past 2^53 only when written in another form, as a number.
      return [term.value.toString(), String(Number(term.value))];
    case 'float':
      return [String(term.value)];
    case 'never':
      return [];
    default:
      return undefined;
  }
}

function matchesTerm(value: unknown, term: Term): boolean {
  if (term.kind === 'exists') return (value !== undefined && value !== null) === term.present;
  if (Array.isArray(value)) return value.some((item) => matchesScalar(item, term));
  return matchesScalar(value, term);
}

function matchesScalar(value: unknown, term: Term): boolean {
  switch (term.kind) {
    case 'int':
      return isIntegral(value) && BigInt(value) === term.value;
    case 'float':
      return typeof value === 'number' && !Number.isInteger(value) && value === term.value;
    case 'string':
      return value === term.value;
    case 'regex':
      // DVID searches (Regexp.Match): unanchored.
      return typeof value === 'string' && term.value.test(value);
    default:
      return false;
  }
}

/** Canonical decimal text of a parsed body id (number or bigint). */
export function bodyIdText(value: unknown): string {
  return BigInt(value as number | bigint).toString();
}

/** Canonical decimal ids in numeric order: by length, then text. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
