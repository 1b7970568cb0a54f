/**
 * An instance-local copy of native datasets' HEADs, so that `all`, `fields` and queries read
 * memory instead of one document per body. It holds each live body's JSON text, and, while the
 * budget (`NEURONS_CACHE_MB`, for all datasets together) has room, each body's default rendering
 * once `all` has shown it and a column of each field that a query has named.
 *
 * Freshness, checked before every read it serves: each write transaction also stamps one clock
 * document and the HEAD's `committed` time (`native-store.ts`). A read first reads the clock
 * documents; if any moved, it reads the HEADs committed after the copy's read time and applies
 * them. A read that starts after a write has answered therefore sees it, on every instance, as a
 * Firestore read would. A clock that disappears or is recreated (the dataset deleted) drops the copy; a copy is
 * also dropped after MAX_AGE_MS, which bounds how long a write made outside this service (which
 * stamps no clock) goes unseen.
 *
 * A copy is made only by a full HEAD read that runs to its end (`all`, `fields`, a query no index
 * serves), as it streams, so it costs no reads beyond the one the request made anyway.
 */
import type { DocumentSnapshot, Firestore, Timestamp } from '../../shared/firestore-client/client';
import type { AppContext } from '../../shared/context';
import { stringifyJson } from '../../shared/json';
import { type CompiledQuery, listedInAll, matchesAnyBy, shape } from './neuronjson';
import { clockRefs, headsCommittedAfter, scanHeads, scanIndexed, StoredHead } from './native-store';

/** How long a copy is trusted to have seen every write (writes made outside this service stamp no clock). */
const MAX_AGE_MS = 10 * 60_000;
/** After a dataset did not fit, how long before a full read tries to copy it again. */
const RETRY_MS = 10 * 60_000;
/** Bytes counted per body besides its text: the key, the entry and the map's slot. */
const ENTRY_BYTES = 120;
/** Bytes counted per value kept in a field's column, besides the value's JSON text. */
const CELL_BYTES = 40;

/** One clock shard as read: when it was created and last stamped ('' when missing). */
type ClockState = readonly { created: string; updated: string }[];

function clockState(snapshots: readonly DocumentSnapshot[]): ClockState {
  const text = (time: Timestamp | undefined) => (time ? `${time.seconds}.${time.nanoseconds}` : '');
  return snapshots.map((snapshot) => ({ created: text(snapshot.createTime), updated: text(snapshot.updateTime) }));
}

/** A cached body: its text, and its default rendering once one was needed. */
class CachedHead extends StoredHead {
  /** `all`'s text of this body without `show` or `fields`; null: `all` leaves it out. */
  defaultView: string | null | undefined;
}

/** `all`'s default rendering of a body (null when `all` leaves it out). */
function defaultViewOf(head: StoredHead): string | null {
  const shown = shape(head.annotation, '');
  return listedInAll(shown, []) ? stringifyJson(shown) : null;
}

/** How a copy's memory is counted against its cache's budget. */
interface Account {
  grew(delta: number): void;
  /** Bytes left in the budget. */
  readonly room: number;
}

/** One dataset's copy. */
class DatasetCopy {
  /** Padded ids in order; replaced, never changed in place, so a read in progress keeps its order. */
  private keys: readonly string[];
  private keysStale = false;
  /**
   * For each field a query has asked about: each body's value of it (bodies without it left
   * out), so that queries are answered without parsing bodies. Made at the first query on the
   * field (one parse of every body), then kept up to date with each change.
   */
  private readonly columns = new Map<string, Map<string, unknown>>();
  bytes = 0;
  private refreshing: Promise<boolean> | undefined;
  private queued: Promise<boolean> | undefined;

  constructor(
    readonly dataset: string,
    private readonly heads: Map<string, CachedHead>,
    private clockSeen: ClockState,
    private readTime: Timestamp,
    readonly madeAt: number,
    private readonly account: Account,
  ) {
    // A full read adds the bodies in id order.
    this.keys = [...heads.keys()];
    for (const head of heads.values()) this.bytes += sizeOf(head);
  }

  get size(): number {
    return this.heads.size;
  }

  /**
   * Brings the copy up to every write answered before this call; false when it can no longer
   * be kept (the dataset was deleted). Concurrent callers share a refresh that started after
   * they called.
   */
  fresh(db: Firestore): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.refresh(db).finally(() => (this.refreshing = undefined));
      return this.refreshing;
    }
    this.queued ??= this.refreshing
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.fresh(db);
      });
    return this.queued;
  }

  private async refresh(db: Firestore): Promise<boolean> {
    const now = clockState(await db.getAll(...clockRefs(db, this.dataset)));
    if (now.some((shard, i) => this.clockSeen[i].created !== '' && shard.created !== this.clockSeen[i].created)) return false;
    if (now.every((shard, i) => shard.updated === this.clockSeen[i].updated)) return true;
    const changed = await headsCommittedAfter(db, this.dataset, this.readTime);
    const before = this.bytes;
    for (const doc of changed.docs) {
      const old = this.heads.get(doc.id);
      if (old) this.bytes -= sizeOf(old);
      if (doc.get('deleted') === true) {
        if (old) this.heads.delete(doc.id);
        this.setCells(doc.id, undefined);
      } else {
        const head = new CachedHead(doc.id, doc.get('json') as string);
        this.heads.set(doc.id, head);
        this.bytes += sizeOf(head);
        this.setCells(doc.id, head);
      }
      if (!old || doc.get('deleted') === true) this.keysStale = true;
    }
    this.account.grew(this.bytes - before);
    this.readTime = changed.readTime;
    this.clockSeen = now;
    return true;
  }

  /** The bodies after the padded id `after`, in id order. */
  *from(after: string | undefined): Generator<CachedHead> {
    const keys = this.ordered();
    for (let i = firstAfter(keys, after); i < keys.length; i++) {
      const head = this.heads.get(keys[i]);
      if (head) yield head;
    }
  }

  /** The bodies after `after` that match the queries, in id order, found from the columns of the fields they name. */
  *matching(queries: readonly CompiledQuery[], after: string | undefined): Generator<CachedHead> {
    const columns = new Map<string, Map<string, unknown>>();
    for (const query of queries) for (const [field] of query) columns.set(field, this.columnOf(field));
    const keys = this.ordered();
    for (let i = firstAfter(keys, after); i < keys.length; i++) {
      const key = keys[i];
      if (!matchesAnyBy((field) => columns.get(field)!.get(key), queries)) continue;
      const head = this.heads.get(key);
      if (head) yield head;
    }
  }

  private ordered(): readonly string[] {
    if (this.keysStale) {
      this.keys = [...this.heads.keys()].sort();
      this.keysStale = false;
    }
    return this.keys;
  }

  private columnOf(field: string): Map<string, unknown> {
    const kept = this.columns.get(field);
    if (kept) return kept;
    const column = new Map<string, unknown>();
    let bytes = 0;
    for (const head of this.heads.values()) {
      const value = head.annotation[field];
      if (value === undefined) continue;
      column.set(head.key, value);
      bytes += cellBytes(value);
    }
    // Kept for later queries only if the budget has room; either way it answers this one.
    if (bytes <= this.account.room) {
      this.columns.set(field, column);
      this.grow(bytes);
    }
    return column;
  }

  /** A body's values in every column kept (undefined: the body is gone). */
  private setCells(key: string, head: CachedHead | undefined): void {
    if (this.columns.size === 0) return;
    const annotation = head?.annotation;
    for (const [field, column] of this.columns) this.setCell(column, key, annotation?.[field]);
  }

  private setCell(column: Map<string, unknown>, key: string, value: unknown): void {
    if (column.has(key)) this.bytes -= cellBytes(column.get(key));
    if (value === undefined) column.delete(key);
    else {
      column.set(key, value);
      this.bytes += cellBytes(value);
    }
  }

  /** `all`'s default rendering of a body, kept with it while the budget has room. */
  defaultView(head: CachedHead): string | null {
    if (head.defaultView !== undefined) return head.defaultView;
    const view = defaultViewOf(head);
    if ((view?.length ?? 0) <= this.account.room) {
      head.defaultView = view;
      this.grow(view?.length ?? 0);
    }
    return view;
  }

  private grow(delta: number): void {
    this.bytes += delta;
    this.account.grew(delta);
  }
}

const sizeOf = (head: CachedHead) => ENTRY_BYTES + head.json.length + (head.defaultView?.length ?? 0);
const cellBytes = (value: unknown) => CELL_BYTES + stringifyJson(value).length;

/** The position of the first key after `after` in sorted `keys`. */
function firstAfter(keys: readonly string[], after: string | undefined): number {
  let low = 0;
  let high = keys.length;
  while (after !== undefined && low < high) {
    const mid = (low + high) >> 1;
    if (keys[mid] <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** What a full read hands the cache while it streams: call `add` per body, then `done` at the end. */
export interface CopyInProgress {
  add(head: StoredHead): void;
  done(): void;
}

/** The copies of one instance, least recently used first out when they exceed the budget. */
export class HeadCache implements Account {
  private readonly copies = new Map<string, DatasetCopy>();
  private readonly tooBigUntil = new Map<string, number>();
  private bytes = 0;

  constructor(
    private readonly budget: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes held, as counted against the budget. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** The dataset's copy, fresh, or undefined when this instance holds none. */
  async fresh(db: Firestore, dataset: string): Promise<DatasetCopy | undefined> {
    const copy = this.copies.get(dataset);
    if (!copy) return undefined;
    if (this.now() - copy.madeAt > MAX_AGE_MS || !(await copy.fresh(db))) {
      this.drop(dataset);
      return undefined;
    }
    if (this.copies.get(dataset) !== copy) return undefined;
    // Most recently used last.
    this.copies.delete(dataset);
    this.copies.set(dataset, copy);
    this.fit();
    return this.copies.get(dataset);
  }

  /**
   * Starts a copy for a full read about to stream the dataset, or undefined when none is wanted
   * (caching off, or the dataset did not fit a short while ago). Reads the clock first, so that
   * every write the stream may miss is read by the next refresh.
   */
  async begin(db: Firestore, dataset: string): Promise<CopyInProgress | undefined> {
    if (this.budget === 0 || (this.tooBigUntil.get(dataset) ?? 0) > this.now()) return undefined;
    const snapshots = await db.getAll(...clockRefs(db, dataset));
    const seen = clockState(snapshots);
    const readTime = snapshots[0].readTime;
    const madeAt = this.now();
    const heads = new Map<string, CachedHead>();
    let bytes = 0;
    let overflow = false;
    return {
      add: (head) => {
        if (overflow) return;
        const cached = new CachedHead(head.key, head.json);
        heads.set(cached.key, cached);
        bytes += sizeOf(cached);
        if (bytes > this.budget) {
          overflow = true;
          heads.clear();
          this.tooBigUntil.set(dataset, this.now() + RETRY_MS);
        }
      },
      done: () => {
        if (overflow) return;
        this.drop(dataset);
        const copy = new DatasetCopy(dataset, heads, seen, readTime, madeAt, this);
        this.copies.set(dataset, copy);
        this.bytes += copy.bytes;
        this.fit();
      },
    };
  }

  /** Counts bytes that a copy gained (or, negative, lost). */
  grew(delta: number): void {
    this.bytes += delta;
  }

  get room(): number {
    return this.budget - this.bytes;
  }

  private drop(dataset: string): void {
    const copy = this.copies.get(dataset);
    if (!copy) return;
    this.copies.delete(dataset);
    this.bytes -= copy.bytes;
  }

  /** Drops least recently used copies until the rest fit the budget. */
  private fit(): void {
    for (const dataset of this.copies.keys()) {
      if (this.bytes <= this.budget) return;
      this.drop(dataset);
    }
  }
}

/** Where a HEAD read's bodies come from, and how `all` renders one without `show` or `fields`. */
export interface HeadSource {
  readonly how: 'cache' | 'index' | 'scan';
  readonly heads: AsyncIterable<StoredHead> | Iterable<StoredHead>;
  defaultView(head: StoredHead): string | null;
}

/**
 * HEAD's bodies in id order after the padded id `after`: from this instance's copy when it holds
 * the dataset (only those matching `query`, when given), else from Firestore (through the index
 * when a `plan` is given; the caller then checks `query` itself). A full read
 * (no `after`, no `pageSize`, no plan) also makes the copy as it streams.
 */
export async function headSource(
  ctx: AppContext,
  dataset: string,
  options: { after?: string; pageSize?: number; query?: readonly CompiledQuery[]; plan?: readonly string[][] },
): Promise<HeadSource> {
  const cache = headCacheOf(ctx);
  const db = ctx.db();
  const copy = await cache.fresh(db, dataset);
  if (copy) {
    return {
      how: 'cache',
      heads: options.query ? copy.matching(options.query, options.after) : copy.from(options.after),
      defaultView: (head) => copy.defaultView(head as CachedHead),
    };
  }
  if (options.plan) return { how: 'index', heads: scanIndexed(ctx, dataset, options.plan, options.after, options.pageSize), defaultView: defaultViewOf };
  const full = options.after === undefined && options.pageSize === undefined;
  const copying = full ? await cache.begin(db, dataset) : undefined;
  return { how: 'scan', heads: copying ? copied(scanHeads(db, dataset, options), copying) : scanHeads(db, dataset, options), defaultView: defaultViewOf };
}

/** The heads, handed to the copy as they pass; the copy is kept only if the read reaches the end. */
async function* copied(heads: AsyncIterable<StoredHead>, copying: CopyInProgress): AsyncGenerator<StoredHead> {
  for await (const head of heads) {
    copying.add(head);
    yield head;
  }
  copying.done();
}

const caches = new WeakMap<AppContext, HeadCache>();

/** The instance's cache (one per context, within the configured budget). */
export function headCacheOf(ctx: AppContext): HeadCache {
  let cache = caches.get(ctx);
  if (!cache) {
    cache = new HeadCache(ctx.config.neuronsCacheBytes);
    caches.set(ctx, cache);
  }
  return cache;
}
