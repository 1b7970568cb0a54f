/**
 * The json-annotations endpoints on a Firestore-native dataset: points in time (`version`,
 * `as_of`), paging, and reads shaped as DVID shapes them. Storage is `native-store.ts`.
 */
import { randomBytes } from 'node:crypto';
import { FieldPath } from '../../shared/firestore-client/client';
import type { Caller } from '../../shared/auth/roles';
import { COLLECTIONS } from '../../shared/collections';
import type { AppContext } from '../../shared/context';
import { HttpError } from '../../shared/errors';
import { queuedTransaction } from '../../shared/firestore';
import { Reply } from '../../shared/http/reply';
import { stringifyJson } from '../../shared/json';
import {
  type Annotation,
  bodyIdLookup,
  type CompiledQuery,
  compileQuery,
  fieldNames,
  listedInAll,
  matchesAny,
  QueryError,
  shape,
  type Show,
  textTest,
} from './neuronjson';
import { headSource } from './head-cache';
import { annotationsOf, applyChange, bodyChanges, type Change, indexPlan, jsonArrayStream, scan, StoredHead } from './native-store';
import { forgetMetadata, neuronVersions, tagOf } from './versions';

/** How a read is shaped and paged. */
export interface ReadOptions {
  readonly show: Show;
  readonly fields: readonly string[];
  /** Epoch ms; undefined is HEAD. */
  readonly atMs: number | undefined;
  readonly cursor: string;
  /** 0: no paging, the whole answer streamed as today. */
  readonly size: number;
}

/** A change's public id: `<bodyid>@<seq>`. */
export const changeName = (change: Pick<Change, 'bodyid' | 'seq'>) => `${change.bodyid}@${change.seq}`;

/** The time (epoch ms) right after a change named `<bodyid>@<seq>`; 400 when there is no such change. */
async function changeTime(ctx: AppContext, dataset: string, name: string): Promise<number> {
  const [bodyid, seq] = name.split('@');
  const [change] = await bodyChanges(ctx, dataset, BigInt(bodyid).toString(), Number(seq) - 1, 1);
  if (!change || change.seq !== Number(seq)) throw new HttpError(400, `dataset ${dataset} has no change ${name}`);
  return change.time;
}

/**
 * A point in history given as epoch seconds (the service's timestamps), an ISO 8601 time, or a
 * change `<bodyid>@<seq>` (the state right after it); answers epoch ms.
 */
export async function pointOf(ctx: AppContext, dataset: string, text: string): Promise<number> {
  if (/^\d+@\d+$/.test(text)) return changeTime(ctx, dataset, text);
  // Rounded: seconds with a millisecond fraction are not exact in binary.
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const ms = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw new HttpError(400, `${text} is not a time (epoch seconds or ISO 8601) or a change (<bodyid>@<seq>)`);
  return ms;
}

/**
 * The point a read is at: `as_of`, or the time a `version` tag (or its uuid) names; the head tag
 * and no version are HEAD (undefined). Both at once, or an unknown version, are 400.
 */
export async function readPoint(ctx: AppContext, dataset: string, version: string, asOf: string): Promise<number | undefined> {
  if (version !== '' && asOf !== '') throw new HttpError(400, 'give version or as_of, not both');
  if (asOf !== '') return pointOf(ctx, dataset, asOf);
  if (version === '') return undefined;
  const versions = await neuronVersions(ctx, dataset);
  const tag = tagOf(versions, version);
  if (tag === undefined) throw new HttpError(400, `version ${version} is not a known tag or uuid of dataset ${dataset}`);
  if (tag === versions.head_tag) return undefined;
  const time = versions.tag_times?.[tag];
  if (time === undefined) throw new HttpError(400, `version ${version} of dataset ${dataset} names no point in its history`);
  return time;
}

/** Writes go to HEAD only: a version, if given, must be the head tag or its uuid. */
export async function checkWritableVersion(ctx: AppContext, dataset: string, version: string): Promise<void> {
  if (version === '') return;
  const versions = await neuronVersions(ctx, dataset);
  const tag = tagOf(versions, version);
  if (tag === undefined || tag !== versions.head_tag) throw new HttpError(400, `version ${version} of dataset ${dataset} is not HEAD: only HEAD can be written`);
}

const encodeCursor = (key: string) => Buffer.from(JSON.stringify({ after: key })).toString('base64url');

function decodeCursor(cursor: string): string | undefined {
  if (cursor === '') return undefined;
  try {
    const { after } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof after === 'string' && /^\d{20}$/.test(after)) return after;
  } catch {
    // Falls through to the 400.
  }
  throw new HttpError(400, 'cursor is not one this service handed out');
}

/**
 * Without `size`, every item streamed as a JSON array (today's shape); with it, one page
 * `{"items": [...], "next_cursor": <text or null>}`. Items are in body-id order and the cursor
 * names the last body answered, so concurrent writes never make a page skip or repeat a body.
 */
async function answer(items: AsyncIterable<{ key: string; text: string }>, size: number): Promise<unknown> {
  if (size === 0) {
    return new Reply(jsonArrayStream(texts(items)), { headers: { 'Content-Type': 'application/json' } });
  }
  const page: string[] = [];
  let last = '';
  let more = false;
  for await (const item of items) {
    if (page.length === size) {
      more = true;
      break;
    }
    page.push(item.text);
    last = item.key;
  }
  const next = more ? JSON.stringify(encodeCursor(last)) : 'null';
  return new Reply(`{"items":[${page.join(',')}],"next_cursor":${next}}`, { headers: { 'Content-Type': 'application/json' } });
}

/** A paged read stops after `size` items (and one to know there are more): it reads pages of that size instead of one stream. */
const pageSizeOf = (options: ReadOptions) => (options.size === 0 ? undefined : options.size + 1);

async function* texts(items: AsyncIterable<{ text: string }>): AsyncGenerator<string> {
  for await (const item of items) yield item.text;
}

/** `show` and `fields` as `all` has them by default: companions hidden, every field. */
const isDefaultView = (options: ReadOptions) => options.show !== 'user' && options.show !== 'time' && options.show !== 'all' && options.fields.length === 0;

/** GET all. */
export async function readAll(ctx: AppContext, dataset: string, options: ReadOptions): Promise<unknown> {
  const after = decodeCursor(options.cursor);
  const range = { after, pageSize: pageSizeOf(options) };
  const head = options.atMs === undefined ? await headSource(ctx, dataset, range) : undefined;
  async function* items() {
    if (head && isDefaultView(options)) {
      for await (const item of head.heads) {
        const text = head.defaultView(item);
        if (text !== null) yield { key: item.key, text };
      }
      return;
    }
    for await (const item of head ? head.heads : scan(ctx, dataset, { ...range, atMs: options.atMs })) {
      const shaped = shape(item.annotation, options.show, options.fields);
      if (listedInAll(shaped, options.fields)) yield { key: item.key, text: stringifyJson(shaped) };
    }
  }
  return answer(items(), options.size);
}

function compileOrRefuse(body: Annotation | Annotation[]): CompiledQuery[] {
  try {
    return compileQuery(body);
  } catch (error) {
    if (error instanceof QueryError) throw new HttpError(400, error.message);
    throw error;
  }
}

/** POST query. */
export async function runQuery(ctx: AppContext, dataset: string, body: Annotation | Annotation[], onlyid: boolean, options: ReadOptions): Promise<unknown> {
  const compiled = compileOrRefuse(body);
  const direct = bodyIdLookup(compiled);
  if (direct) {
    // DVID's bodyid-only case: the ids asked for, in request order, full objects whatever onlyid says.
    const found = await annotationsOf(ctx, dataset, [...new Set(direct)], options.atMs);
    return new Reply(`[${direct.flatMap((id) => (found.has(id) ? [stringifyJson(shape(found.get(id)!, options.show, options.fields))] : [])).join(',')}]`, {
      headers: { 'Content-Type': 'application/json' },
    });
  }
  const range = { after: decodeCursor(options.cursor), pageSize: pageSizeOf(options) };
  // At HEAD: this instance's copy when it has one; else the index reads only the candidates of
  // the queries it can serve, and the rest scan.
  const test = textTest(compiled);
  const head = options.atMs === undefined ? await headSource(ctx, dataset, { ...range, query: compiled, plan: indexPlan(compiled) }) : undefined;
  async function* items() {
    // Bodies examined: from Firestore each is one document read (in history, each change is one).
    let examined = 0;
    let matched = 0;
    try {
      for await (const item of head ? head.heads : scan(ctx, dataset, { ...range, atMs: options.atMs })) {
        examined += 1;
        // The copy yields only matches; from Firestore, a body whose text shows it cannot match is not parsed.
        let annotation: Annotation | undefined;
        if (head?.how !== 'cache') {
          if (item instanceof StoredHead && !test(item.json)) continue;
          annotation = item.annotation;
          if (!matchesAny(annotation, compiled)) continue;
        }
        matched += 1;
        yield { key: item.key, text: onlyid ? BigInt(item.key).toString() : stringifyJson(shape(annotation ?? item.annotation, options.show, options.fields)) };
      }
    } finally {
      // Also when a page is full and reading stops early.
      ctx.log.info('neuron query', { dataset, plan: head?.how ?? 'history', bodies_examined: examined, matched });
    }
  }
  return answer(items(), options.size);
}

/**
 * GET id-number: in request order, missing ids left out. With `changes`, as clio-store's earlier
 * Firestore store answered `changes=true`, each body's state is followed by its earlier states,
 * newest first (a body deleted at the point answers nothing; states while it was deleted are left out).
 */
export async function readIds(
  ctx: AppContext,
  dataset: string,
  ids: readonly string[],
  options: Pick<ReadOptions, 'show' | 'fields' | 'atMs'> & { changes: boolean },
): Promise<Annotation[]> {
  const view = (annotation: Annotation) => shape(annotation, options.show, options.fields);
  if (options.changes) {
    const histories = await Promise.all(ids.map((id) => bodyChanges(ctx, dataset, id)));
    return histories.flatMap((history) => {
      const states: Annotation[] = [];
      let state: Annotation | undefined;
      for (const change of history) {
        if (options.atMs !== undefined && change.time > options.atMs) break;
        state = applyChange(state, change);
        if (state) states.push(view(state));
      }
      // A body deleted at the point has no state to answer, as a missing id has none.
      return state ? states.reverse() : [];
    });
  }
  const found = await annotationsOf(ctx, dataset, ids, options.atMs);
  return ids.flatMap((id) => (found.has(id) ? [view(found.get(id)!)] : []));
}

/** GET fields: the names in use at HEAD (one read per body, or none from this instance's copy). */
export async function readFieldNames(ctx: AppContext, dataset: string): Promise<string[]> {
  const names = new Set<string>();
  for await (const item of (await headSource(ctx, dataset, {})).heads) for (const name of fieldNames([item.annotation])) names.add(name);
  return [...names].sort();
}

/** GET history/{id}: one body's changes, oldest first, a page at a time. */
export async function readHistory(ctx: AppContext, dataset: string, bodyid: string, cursor: string, size: number) {
  let afterSeq = 0;
  if (cursor !== '') {
    if (!/^\d{1,10}$/.test(cursor)) throw new HttpError(400, 'cursor is not one this service handed out');
    afterSeq = Number(cursor);
  }
  const page = await bodyChanges(ctx, dataset, bodyid, afterSeq, size + 1);
  const shown = page.slice(0, size);
  return {
    changes: shown.map((change) => ({
      change: changeName(change),
      bodyid: BigInt(change.bodyid),
      seq: change.seq,
      time: change.time / 1000,
      op: change.op,
      set: change.set,
      unset: change.unset,
      deleted: change.deleted,
      actor: change.actor,
      on_behalf_of: change.on_behalf_of,
      request_id: change.request_id,
    })),
    next_cursor: page.length > size ? String(shown[shown.length - 1].seq) : null,
  };
}

/**
 * Sets a version tag in the metadata document that `versions`, `head_tag`, `head_uuid`,
 * `tag_to_uuid` and `uuid_to_tag` read: at `atMs` (a fixed point in history), or as the head tag
 * (HEAD, moving with every write). A new head tag freezes the previous one at now, as committing a
 * DVID node does. A tag keeps its uuid when set again. Answers the dataset's version entry.
 */
export async function setTag(ctx: AppContext, caller: Caller, dataset: string, tag: string, point: { atMs: number } | { head: true }) {
  const ref = ctx.db().collection(COLLECTIONS.annotationsGlobal).doc('metadata');
  const entry = await queuedTransaction(ctx.db(), [ref.path], async (tx) => {
    const snapshot = await tx.get(ref);
    const data = snapshot.data() ?? {};
    const all = (typeof data.neurons === 'object' && data.neurons !== null ? data.neurons : {}) as Record<string, Record<string, unknown>>;
    const current = all[dataset] ?? {};
    const tagToUuid = { ...((current.tag_to_uuid as Record<string, string>) ?? {}) };
    const times = { ...((current.tag_times as Record<string, number>) ?? {}) };
    const uuid = tagToUuid[tag] ?? randomBytes(16).toString('hex');
    tagToUuid[tag] = uuid;
    let headTag = current.head_tag as string | undefined;
    if ('head' in point) {
      if (headTag !== undefined && headTag !== tag) times[headTag] = Date.now();
      delete times[tag];
      headTag = tag;
    } else {
      if (tag === headTag) throw new HttpError(400, `${tag} is the head tag; make another tag the head first`);
      times[tag] = point.atMs;
    }
    const next = {
      tag_to_uuid: tagToUuid,
      uuid_to_tag: Object.fromEntries(Object.entries(tagToUuid).map(([name, id]) => [id, name])),
      tag_times: times,
      ...(headTag === undefined ? {} : { head_tag: headTag, head_uuid: tagToUuid[headTag] }),
    };
    // The dataset's entry is replaced whole (a merge could not drop the head tag's time).
    if (snapshot.exists) tx.update(ref, new FieldPath('neurons', dataset), next);
    else tx.set(ref, { neurons: { [dataset]: next } });
    return next;
  });
  forgetMetadata(ctx);
  ctx.log.info('neuron version tag set', { dataset, tag, caller: caller.email, ...('head' in point ? { head: true } : { at: point.atMs }) });
  return entry;
}
