/**
 * The Firestore-native neuron store, for datasets whose record says `"neurons": {"store": "firestore"}`.
 * Semantics are DVID neuronjson's (`neuronjson.ts`); storage, below `clio_neurons/{dataset}`:
 * - `bodies/{id20}`: the HEAD of one body, `{bodyid, json, seq, time, deleted}`. `id20` is the body
 *   id zero-padded to 20 digits, so document order is numeric order. `json` is the annotation as
 *   lossless JSON text (uint64 values and the int/float distinction survive, which Firestore's
 *   int64 numbers would not). A deleted body keeps its document as a tombstone (`deleted: true`)
 *   so that its change numbering continues.
 * - `changes/{id20}.{seq10}`: one immutable record per change of a body, written in the same
 *   transaction as the HEAD it produced: `{bodyid, seq, time, op, set, unset, deleted, actor,
 *   on_behalf_of, request_id}`, where `set` (JSON text) and `unset` (field names) are the
 *   field-level patch from the previous state. Document order is (body, change) order, so one
 *   body's history is a key range and folding the whole collection in order rebuilds any past state.
 * - `clock/{n}`, n < CLOCK_SHARDS: `{at}`. Every transaction that changes a body stamps one of
 *   them, at random (so that concurrent writers seldom share one), so that a copy of HEAD can
 *   tell from reading them all whether anything changed (`head-cache.ts`).
 * HEAD documents also hold `terms`, the index that serves equality queries (see `termsOf`), and
 * `committed`, the commit time of their last change (both stamps are the transaction's commit
 * time), which reads of what changed since a point select on.
 * Reads that may run long (`all`, scans, reads as of a time) stream their queries, so the database
 * sends each document once and the client's pace holds it back; only a caller that stops early
 * reads pages.
 * `time` is epoch milliseconds, strictly increasing per body (a clock that steps back cannot
 * reorder a body's history).
 */
import { randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import { type DocumentReference, type DocumentSnapshot, FieldPath, FieldValue, Filter, type Firestore, type Query, type QueryDocumentSnapshot, type QuerySnapshot, type Timestamp, type Transaction } from '../../shared/firestore-client/client';
import { COLLECTIONS } from '../../shared/collections';
import type { AppContext } from '../../shared/context';
import { queuedTransaction } from '../../shared/firestore';
import { parseJson, stringifyJson } from '../../shared/json';
import { type Annotation, applyWrite, COMPANION, type CompiledQuery, dvidTime, sameValue, type Term, type WriteOptions } from './neuronjson';

/** Bodies changed per transaction: each costs a HEAD write and a change record, within Firestore's 500 writes (with the clock shards). */
export const BODIES_PER_TRANSACTION = 200;

/** The dataset rule: a dataset is served natively when its record says so. */
export function isNativeDataset(record: Record<string, unknown>): boolean {
  const neurons = record.neurons;
  return typeof neurons === 'object' && neurons !== null && (neurons as Record<string, unknown>).store === 'firestore';
}

export const id20 = (bodyid: string) => bodyid.padStart(20, '0');
const changeId = (bodyid: string, seq: number) => `${id20(bodyid)}.${String(seq).padStart(10, '0')}`;

const root = (db: Firestore, dataset: string) => db.collection(COLLECTIONS.neurons).doc(dataset);
export const bodies = (db: Firestore, dataset: string) => root(db, dataset).collection('bodies');
const changes = (db: Firestore, dataset: string) => root(db, dataset).collection('changes');

/** Clock documents per dataset: more of them spread concurrent writers; each read of a copy reads them all. */
export const CLOCK_SHARDS = 4;
export const clockRefs = (db: Firestore, dataset: string) => Array.from({ length: CLOCK_SHARDS }, (_, shard) => root(db, dataset).collection('clock').doc(String(shard)));

/** The HEADs (live or tombstones) whose last change committed after `time`. */
export const headsCommittedAfter = (db: Firestore, dataset: string, time: Timestamp): Promise<QuerySnapshot> =>
  bodies(db, dataset).where('committed', '>', time).select('json', 'deleted').get();

/** Keys in alphabetical order, as DVID answers them. */
function sorted(annotation: Annotation): Annotation {
  return Object.fromEntries(Object.entries(annotation).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The annotation a HEAD document holds, or undefined for a missing or deleted body. */
function headOf(snapshot: DocumentSnapshot): Annotation | undefined {
  const data = snapshot.data();
  if (!data || data.deleted === true) return undefined;
  return parseJson(data.json as string) as Annotation;
}

/** One stored change record, as the history endpoint answers it. */
export interface Change {
  readonly bodyid: string;
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly time: number;
  readonly op: 'write' | 'replace' | 'delete' | 'revert' | 'import';
  readonly set: Annotation;
  readonly unset: readonly string[];
  readonly deleted: boolean;
  readonly actor: string;
  readonly on_behalf_of: string | null;
  readonly request_id: string;
}

function changeFrom(data: Record<string, unknown>): Change {
  return {
    bodyid: data.bodyid as string,
    seq: Number(data.seq),
    time: Number(data.time),
    op: data.op as Change['op'],
    set: parseJson(data.set as string) as Annotation,
    unset: data.unset as string[],
    deleted: data.deleted === true,
    actor: data.actor as string,
    on_behalf_of: (data.on_behalf_of as string | null) ?? null,
    request_id: data.request_id as string,
  };
}

/** The state after `change`, given the state before it. */
export function applyChange(state: Annotation | undefined, change: Pick<Change, 'set' | 'unset' | 'deleted'>): Annotation | undefined {
  if (change.deleted) return undefined;
  const next: Annotation = { ...(state ?? {}) };
  for (const name of change.unset) delete next[name];
  return sorted(Object.assign(next, change.set));
}

/** The field-level patch from `before` to `after` (undefined: the body is deleted). */
export function diff(before: Annotation | undefined, after: Annotation | undefined): Pick<Change, 'set' | 'unset' | 'deleted'> {
  const old = before ?? {};
  if (!after) return { set: {}, unset: Object.keys(old), deleted: true };
  const set: Annotation = {};
  for (const [name, value] of Object.entries(after)) if (!before || !Object.hasOwn(old, name) || !sameValue(old[name], value)) set[name] = value;
  return { set, unset: Object.keys(old).filter((name) => !Object.hasOwn(after, name)), deleted: false };
}

/** Who makes a change and why, recorded with it. */
export interface Provenance {
  /** The authenticated caller. */
  readonly actor: string;
  /** `designated_user`, when the caller wrote on someone's behalf. */
  readonly onBehalfOf: string | null;
  readonly requestId: string;
}

/** One body's next state, as a step of a request. */
type Step = (before: Annotation | undefined, now: string) => { after: Annotation | undefined; op: Change['op'] };

/**
 * Applies steps to bodies in transactions of at most BODIES_PER_TRANSACTION bodies: each reads
 * the HEADs, applies the steps of its bodies in request order, and writes each changed HEAD with
 * one change record per change. A step that changes nothing records nothing. Answers the number
 * of change records written.
 */
async function commit(ctx: AppContext, dataset: string, steps: readonly { bodyid: string; step: Step }[], who: Provenance): Promise<number> {
  const db = ctx.db();
  let written = 0;
  const groups: (typeof steps)[] = [];
  let current: { bodyid: string; step: Step }[] = [];
  const inCurrent = new Set<string>();
  for (const item of steps) {
    if (!inCurrent.has(item.bodyid) && inCurrent.size === BODIES_PER_TRANSACTION) {
      groups.push(current);
      current = [];
      inCurrent.clear();
    }
    current.push(item);
    inCurrent.add(item.bodyid);
  }
  if (current.length > 0) groups.push(current);

  for (const group of groups) {
    const clock = clockRefs(db, dataset)[randomInt(CLOCK_SHARDS)];
    const keys = [...group.map((item) => bodies(db, dataset).doc(id20(item.bodyid)).path), clock.path];
    written += await queuedTransaction(db, keys, (tx) => commitGroup(tx, db, dataset, group, clock, who));
  }
  return written;
}

async function commitGroup(
  tx: Transaction,
  db: Firestore,
  dataset: string,
  group: readonly { bodyid: string; step: Step }[],
  clock: DocumentReference,
  who: Provenance,
): Promise<number> {
  const ids = [...new Set(group.map((item) => item.bodyid))];
  const refs = ids.map((id) => bodies(db, dataset).doc(id20(id)));
  const snapshots = await tx.getAll(...refs);
  const state = new Map(ids.map((id, i) => [id, { head: headOf(snapshots[i]), seq: Number(snapshots[i].get('seq') ?? 0), time: Number(snapshots[i].get('time') ?? 0), dirty: false }]));
  const nowMs = Date.now();
  const records: { id: string; data: Record<string, unknown> }[] = [];
  for (const { bodyid, step } of group) {
    const body = state.get(bodyid)!;
    const { after, op } = step(body.head, dvidTime(nowMs));
    const patch = diff(body.head, after);
    if (!patch.deleted ? Object.keys(patch.set).length === 0 && patch.unset.length === 0 : body.head === undefined) continue;
    body.seq += 1;
    body.time = Math.max(nowMs, body.time + 1);
    body.head = after;
    body.dirty = true;
    records.push({
      id: changeId(bodyid, body.seq),
      data: {
        bodyid,
        seq: body.seq,
        time: body.time,
        op,
        set: stringifyJson(sorted(patch.set)),
        unset: patch.unset,
        deleted: patch.deleted,
        actor: who.actor,
        on_behalf_of: who.onBehalfOf,
        request_id: who.requestId,
      },
    });
  }
  let changed = false;
  for (const [bodyid, body] of state) {
    if (!body.dirty) continue;
    const head =
      body.head === undefined
        ? { json: '{}', deleted: true, terms: {} }
        : { json: stringifyJson(sorted(body.head)), deleted: false, terms: termsOf(body.head) };
    tx.set(bodies(db, dataset).doc(id20(bodyid)), { bodyid, ...head, seq: body.seq, time: body.time, committed: FieldValue.serverTimestamp() });
    changed = true;
  }
  if (changed) tx.set(clock, { at: FieldValue.serverTimestamp() });
  // `create` fails if the record exists, so a lost race can never overwrite history.
  for (const record of records) tx.create(changes(db, dataset).doc(record.id), record.data);
  return records.length;
}

/** POST/PUT neurons: DVID's write for each annotation, `editor` stamped on changed fields. */
export function writeAnnotations(ctx: AppContext, dataset: string, annotations: readonly Annotation[], editor: string, options: WriteOptions, who: Provenance): Promise<number> {
  const op = options.replace ? 'replace' : 'write';
  return commit(
    ctx,
    dataset,
    annotations.map((posted) => ({
      bodyid: BigInt(posted.bodyid as number | bigint).toString(),
      step: (before, now) => ({ after: applyWrite(before, posted, editor, now, options), op }),
    })),
    who,
  );
}

/** Bulk import: each body becomes exactly the annotation given (companions as given, nothing stamped). */
export function importBodies(ctx: AppContext, dataset: string, annotations: readonly Annotation[], who: Provenance): Promise<number> {
  return commit(
    ctx,
    dataset,
    annotations.map((annotation) => ({ bodyid: BigInt(annotation.bodyid as number | bigint).toString(), step: () => ({ after: annotation, op: 'import' }) })),
    who,
  );
}

/** DELETE id-number: the body disappears from HEAD; its history stays. */
export function deleteAnnotation(ctx: AppContext, dataset: string, bodyid: string, who: Provenance): Promise<number> {
  return commit(ctx, dataset, [{ bodyid, step: () => ({ after: undefined, op: 'delete' }) }], who);
}

/**
 * Histories read at once by a revert: 10,000 queries at a time on one HTTP/2 connection made
 * Node refuse new streams (NGHTTP2_ENHANCE_YOUR_CALM), which answered 503.
 */
const PARALLEL_HISTORY_READS = 200;

/** Revert: each body becomes what it was at `atMs` (absent then: deleted now), as a new change. */
export async function revertBodies(ctx: AppContext, dataset: string, ids: readonly string[], atMs: number, who: Provenance): Promise<number> {
  const past: (Annotation | undefined)[] = [];
  for (let start = 0; start < ids.length; start += PARALLEL_HISTORY_READS) {
    past.push(...(await Promise.all(ids.slice(start, start + PARALLEL_HISTORY_READS).map((id) => bodyAt(ctx, dataset, id, atMs)))));
  }
  return commit(
    ctx,
    dataset,
    ids.map((bodyid, i) => ({ bodyid, step: () => ({ after: past[i], op: 'revert' }) })),
    who,
  );
}

/** One body's change records, oldest first, from change `afterSeq` on. */
export async function bodyChanges(ctx: AppContext, dataset: string, bodyid: string, afterSeq = 0, limit?: number): Promise<Change[]> {
  let query = changes(ctx.db(), dataset)
    .orderBy(FieldPath.documentId())
    .startAfter(changeId(bodyid, afterSeq))
    .endAt(`${id20(bodyid)}.~`);
  if (limit !== undefined) query = query.limit(limit);
  return (await query.get()).docs.map((doc) => changeFrom(doc.data()));
}

/** One body as it was at `atMs`, folded from its history. */
async function bodyAt(ctx: AppContext, dataset: string, bodyid: string, atMs: number): Promise<Annotation | undefined> {
  let state: Annotation | undefined;
  for (const change of await bodyChanges(ctx, dataset, bodyid)) {
    if (change.time > atMs) break;
    state = applyChange(state, change);
  }
  return state;
}

/** The HEAD annotations of these bodies, by canonical id (missing and deleted ones left out). */
async function headsOf(ctx: AppContext, dataset: string, ids: readonly string[]): Promise<Map<string, Annotation>> {
  const found = new Map<string, Annotation>();
  if (ids.length === 0) return found;
  const snapshots = await ctx.db().getAll(...ids.map((id) => bodies(ctx.db(), dataset).doc(id20(id))));
  snapshots.forEach((snapshot, i) => {
    const head = headOf(snapshot);
    if (head) found.set(ids[i], head);
  });
  return found;
}

/** The annotations of these bodies at `atMs`, or at HEAD when it is undefined. */
export async function annotationsOf(ctx: AppContext, dataset: string, ids: readonly string[], atMs: number | undefined): Promise<Map<string, Annotation>> {
  if (atMs === undefined) return headsOf(ctx, dataset, ids);
  const past = await Promise.all(ids.map((id) => bodyAt(ctx, dataset, id, atMs)));
  return new Map(ids.flatMap((id, i) => (past[i] ? [[id, past[i]] as const] : [])));
}

/** Strings longer than this are not indexed (Firestore indexes at most 1,500 bytes of a value). */
const MAX_TERM_CHARS = 200;
/** Firestore's limit of disjunctions in one query. */
const MAX_TOKENS = 30;

/** The token of one scalar for the `terms` index, matching exactly what `matchesScalar` equates; undefined: not indexed. */
function token(field: string, value: unknown): string | undefined {
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return JSON.stringify([field, `i${BigInt(value)}`]);
  if (typeof value === 'number') return JSON.stringify([field, `f${value}`]);
  if (typeof value === 'string' && value.length <= MAX_TERM_CHARS) return JSON.stringify([field, `s${value}`]);
  return undefined;
}

/** Whether a field is present and not null (`exists/1`). */
const presence = (field: string) => JSON.stringify([field]);

/**
 * The `terms` of a HEAD, a map from token to `true`: one token per indexable scalar of each data
 * field (each element of a list field), and one presence token per field, so that equality,
 * any-of lists and `exists/1` are answered by equality filters on `terms.<token>` (ORed), which
 * Firestore's automatic single-field indexes serve, instead of a scan. (An array with
 * `array-contains-any` would be served the same way in production, but the emulator scans for it:
 * 5.8 s against 0.1 s for 21 matches among 20,000 bodies.)
 */
function termsOf(annotation: Annotation): Record<string, true> {
  const terms = new Set<string>();
  for (const [field, value] of Object.entries(annotation)) {
    if (field === 'bodyid' || COMPANION.test(field) || value === null) continue;
    terms.add(presence(field));
    for (const item of Array.isArray(value) ? value : [value]) {
      const term = token(field, item);
      if (term !== undefined) terms.add(term);
    }
  }
  return Object.fromEntries([...terms].map((term) => [term, true]));
}

/** The tokens that find every candidate for one term; undefined when the index cannot (`re/`, `exists/0`, long strings). */
function tokensOf(field: string, term: Term): string[] | undefined {
  switch (term.kind) {
    case 'never':
      return [];
    case 'exists':
      return term.present ? [presence(field)] : undefined;
    case 'regex':
      return undefined;
    default:
      return token(field, term.value) === undefined ? undefined : [token(field, term.value)!];
  }
}

/**
 * The index plan of a query: for each ORed object, the tokens of one field that every match must
 * hold (the field with the fewest tokens); undefined when some object has no such field, or
 * needs more than Firestore takes in one query. The candidates are checked against the whole
 * query afterwards, so the plan only has to find a superset of the matches.
 */
export function indexPlan(queries: readonly CompiledQuery[]): string[][] | undefined {
  const plan: string[][] = [];
  for (const query of queries) {
    let best: string[] | undefined;
    for (const [field, terms] of query) {
      const tokens = terms.map((term) => tokensOf(field, term));
      if (tokens.some((one) => one === undefined)) continue;
      const flat = [...new Set(tokens.flat() as string[])];
      if (flat.length <= MAX_TOKENS && (best === undefined || flat.length < best.length)) best = flat;
    }
    if (best === undefined) return undefined;
    plan.push(best);
  }
  return plan;
}

/** Bodies holding any of `tokens` (at most MAX_TOKENS). */
const holdingAny = (tokens: readonly string[]) => Filter.or(...tokens.map((term) => Filter.where(new FieldPath('terms', term), '==', true)));

/**
 * The live bodies holding any token of one plan entry per ORed object, in id order after `after`:
 * one document read per candidate, not per body. When the entries' tokens together fit in one
 * query (the usual case) that query is streamed; otherwise each entry is read and the candidates
 * merged (memory: the candidates, not the dataset).
 */
export async function* scanIndexed(ctx: AppContext, dataset: string, plan: readonly string[][], after: string | undefined, pageSize?: number): AsyncGenerator<StoredHead> {
  const candidates = (tokens: readonly string[]) => inIdOrder(bodies(ctx.db(), dataset).where(holdingAny(tokens)).select('json'), after, pageSize);
  const all = [...new Set(plan.flat())];
  if (all.length === 0) return;
  if (all.length <= MAX_TOKENS) {
    for await (const doc of candidates(all)) yield scanned(doc);
    return;
  }
  const merged = new Map<string, StoredHead>();
  for (const tokens of plan) for await (const doc of candidates(tokens)) merged.set(doc.id, scanned(doc));
  yield* [...merged.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** A body at HEAD as stored: its padded id and its JSON text, parsed at each read of `annotation`. */
export class StoredHead implements Scanned {
  constructor(
    readonly key: string,
    readonly json: string,
  ) {}

  get annotation(): Annotation {
    return parseJson(this.json) as Annotation;
  }
}

const scanned = (doc: QueryDocumentSnapshot) => new StoredHead(doc.id, doc.get('json') as string);

/**
 * How long one streamed query stays open. The Firestore client gives a query's RPC 5 minutes and
 * resumes it for at most 10 in all, so a stream held open longer at a slow client's pace would
 * break a long `all`; after this the read ends its query and goes on in a new one.
 */
const STREAM_MS = 4 * 60_000;

/**
 * A query's documents in id order after the id `after`: streamed, in a new query each `streamMs`,
 * or, given `pageSize` (for a caller that stops after about that many), in pages of that size read
 * whole, so that no more is read than it asked for.
 */
export async function* inIdOrder(query: Query, after: string | undefined, pageSize: number | undefined, streamMs = STREAM_MS): AsyncGenerator<QueryDocumentSnapshot> {
  const ordered = query.orderBy(FieldPath.documentId());
  let cursor = after;
  for (;;) {
    const from = cursor === undefined ? ordered : ordered.startAfter(cursor);
    if (pageSize !== undefined) {
      const page = await from.limit(pageSize).get();
      yield* page.docs;
      if (page.size < pageSize) return;
      cursor = page.docs[page.size - 1].id;
      continue;
    }
    const started = Date.now();
    let expired = false;
    for await (const doc of from.stream() as AsyncIterable<QueryDocumentSnapshot>) {
      cursor = doc.id;
      yield doc;
      // Leaving the loop ends the stream (and its RPC).
      if (Date.now() - started >= streamMs) {
        expired = true;
        break;
      }
    }
    if (!expired) return;
  }
}

/** A scanned body: its padded id (the paging position) and its annotation. */
export interface Scanned {
  readonly key: string;
  readonly annotation: Annotation;
}

/**
 * Every live body in numeric id order after the padded id `after`, at HEAD (one read per body)
 * or at `atMs` (folding the change records: one read per change). Streamed (or paged, given
 * `pageSize`), so memory stays bounded whatever the dataset's size.
 */
export function scan(ctx: AppContext, dataset: string, options: { after?: string; atMs?: number; pageSize?: number }): AsyncGenerator<Scanned> {
  return options.atMs === undefined ? scanHeads(ctx.db(), dataset, options) : scanPast(ctx.db(), dataset, options.atMs, options);
}

/** Every live body at HEAD after the padded id `after`: one read per body. */
export async function* scanHeads(db: Firestore, dataset: string, options: { after?: string; pageSize?: number }): AsyncGenerator<StoredHead> {
  for await (const doc of inIdOrder(bodies(db, dataset).where('deleted', '==', false).select('json'), options.after, options.pageSize)) yield scanned(doc);
}

async function* scanPast(db: Firestore, dataset: string, atMs: number, options: { after?: string; pageSize?: number }): AsyncGenerator<Scanned> {
  let key = '';
  let state: Annotation | undefined;
  for await (const doc of inIdOrder(changes(db, dataset), options.after === undefined ? undefined : `${options.after}.~`, options.pageSize)) {
    const bodyKey = doc.id.slice(0, 20);
    if (bodyKey !== key) {
      if (state) yield { key, annotation: state };
      key = bodyKey;
      state = undefined;
    }
    const change = changeFrom(doc.data());
    if (change.time <= atMs) state = applyChange(state, change);
  }
  if (state) yield { key, annotation: state };
}

/** A JSON array streamed from rendered items, in chunks of about 64 KiB, pulled as the client reads. */
export function jsonArrayStream(items: AsyncIterable<string>): Readable {
  async function* pieces(): AsyncGenerator<string> {
    let pending = '[';
    let first = true;
    for await (const item of items) {
      pending += first ? item : `,${item}`;
      first = false;
      if (pending.length >= 64 * 1024) {
        yield pending;
        pending = '';
      }
    }
    yield `${pending}]`;
  }
  return Readable.from(pieces(), { objectMode: false });
}
