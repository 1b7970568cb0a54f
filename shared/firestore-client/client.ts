/**
 * The Firestore client of the functions: the calls the service makes (document reads and writes,
 * batched reads, queries with filters, field selection, id order, cursors and limits, counts,
 * listings, batches and transactions) over Firestore's gRPC API, with the same shapes as
 * @google-cloud/firestore so that code reads the same. It exists for the cold start: the Google
 * client loads grpc-js, protobufjs, google-gax and its protos before its first call, while this
 * one speaks gRPC with node:http2 and a table of the messages it uses (docs/benchmarks.md).
 */
import { ConnectionLost, Transport, type TransportSettings } from './transport';
import { decodeFields, decodeValue, encodeFields, encodeValue, FieldPath, FieldValue, setField, Timestamp, type WireFields, type WireValue } from './values';

export { FieldPath, FieldValue, Timestamp } from './values';
export { FirestoreError } from './transport';

export type DocumentData = Record<string, unknown>;

export interface FirestoreSettings extends TransportSettings {
  /** The project, or how to find it (production asks the metadata server). */
  readonly projectId: string | (() => Promise<string>);
}

type Write = Record<string, unknown>;

export class Firestore {
  readonly transport: Transport;
  private root: Promise<string> | undefined;

  constructor(private readonly settings: FirestoreSettings) {
    this.transport = new Transport(settings);
  }

  /** `projects/P/databases/(default)/documents`, the prefix of every document name. */
  documentsRoot(): Promise<string> {
    const { projectId } = this.settings;
    this.root ??= (typeof projectId === 'string' ? Promise.resolve(projectId) : projectId()).then((project) => `projects/${project}/databases/(default)/documents`);
    return this.root;
  }

  collection(path: string): CollectionReference {
    const segments = path.split('/');
    if (segments.length % 2 === 0) throw new Error(`${path} is a document path, not a collection`);
    const id = segments.pop() as string;
    return new CollectionReference(this, segments.length ? new DocumentReference(this, segments.join('/')) : null, id);
  }

  doc(path: string): DocumentReference {
    if (path.split('/').length % 2 !== 0) throw new Error(`${path} is a collection path, not a document`);
    return new DocumentReference(this, path);
  }

  /** Closes the client's connections. */
  async terminate(): Promise<void> {
    this.transport.close();
  }

  batch(): WriteBatch {
    return new WriteBatch(this);
  }

  /** Reads documents in one call, in the order asked. */
  getAll(...refs: DocumentReference[]): Promise<DocumentSnapshot[]> {
    return batchGet(this, refs, {});
  }

  async listCollections(): Promise<CollectionReference[]> {
    return (await collectionIds(this, '')).map((id) => new CollectionReference(this, null, id));
  }

  /**
   * Runs `update` in a transaction, again on contention or a transient error, up to `maxAttempts`
   * times. Its first read begins the transaction, which saves a call.
   */
  async runTransaction<T>(update: (tx: Transaction) => Promise<T>, options: { maxAttempts?: number } = {}): Promise<T> {
    const attempts = options.maxAttempts ?? 5;
    let retrying: Uint8Array | undefined;
    for (let attempt = 1; ; attempt++) {
      const tx = new Transaction(this, retrying);
      try {
        const result = await update(tx);
        await tx.commit();
        return result;
      } catch (error) {
        retrying = (await tx.abandon()) ?? retrying;
        if (attempt >= attempts || !retryableInTransaction(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      }
    }
  }

  /** The document a full name (`projects/.../documents/a/b`) names, given the documents root. */
  documentNamed(root: string, name: string): DocumentReference {
    return new DocumentReference(this, name.slice(root.length + 1));
  }

  /** Turns a stored reference value back into a reference of this client (another database's stays a name). */
  referenceFrom(root: string): (name: string) => DocumentReference | string {
    return (name) => (name.startsWith(`${root}/`) ? this.documentNamed(root, name) : name);
  }
}

/**
 * gRPC statuses after which a transaction is tried again, as the Google client does; but not a
 * database that cannot be reached at all, which fails the request at once (503) instead of after
 * seconds of attempts.
 */
const TRANSACTION_RETRY_CODES = new Set<unknown>([1, 2, 4, 8, 10, 13, 14, 16]);
const retryableInTransaction = (error: unknown) => !(error instanceof ConnectionLost) && TRANSACTION_RETRY_CODES.has((error as { code?: unknown } | null)?.code);
/**
 * About 1 s, growing by half each attempt, jittered by half: the Google client's schedule. On the
 * emulator, contenders that retry within one lock timeout (2 s) of each other wait on each other's
 * locks until it; this spread lets most of a group through per round.
 */
const backoffMs = (attempt: number) => 1000 * 1.5 ** (attempt - 1) * (0.5 + Math.random());

export class DocumentReference {
  readonly id: string;

  constructor(
    readonly firestore: Firestore,
    /** Relative to the database: `collection/doc[/collection/doc...]`. */
    readonly path: string,
  ) {
    this.id = path.slice(path.lastIndexOf('/') + 1);
  }

  collection(id: string): CollectionReference {
    return new CollectionReference(this.firestore, this, id);
  }

  async get(): Promise<DocumentSnapshot> {
    return (await batchGet(this.firestore, [this], {}))[0];
  }

  set(data: DocumentData, options?: SetOptions): Promise<void> {
    return this.firestore.batch().set(this, data, options).commit();
  }

  create(data: DocumentData): Promise<void> {
    return this.firestore.batch().create(this, data).commit();
  }

  update(data: DocumentData): Promise<void> {
    return this.firestore.batch().update(this, data).commit();
  }

  delete(): Promise<void> {
    return this.firestore.batch().delete(this).commit();
  }

  async listCollections(): Promise<CollectionReference[]> {
    return (await collectionIds(this.firestore, this.path)).map((id) => this.collection(id));
  }
}

type Operator = '<' | '<=' | '==' | '!=' | '>=' | '>' | 'array-contains' | 'in' | 'not-in' | 'array-contains-any';
const OPERATORS: Record<Operator, string> = {
  '<': 'LESS_THAN',
  '<=': 'LESS_THAN_OR_EQUAL',
  '==': 'EQUAL',
  '!=': 'NOT_EQUAL',
  '>=': 'GREATER_THAN_OR_EQUAL',
  '>': 'GREATER_THAN',
  'array-contains': 'ARRAY_CONTAINS',
  in: 'IN',
  'not-in': 'NOT_IN',
  'array-contains-any': 'ARRAY_CONTAINS_ANY',
};

/** A condition on documents: one field's comparison, or several joined by `and`/`or`. */
export class Filter {
  private constructor(
    /** The message; `valueOf` encodes compared values (ids become document names). */
    readonly encoded: (valueOf: (field: FieldPath, value: unknown) => WireValue) => Record<string, unknown>,
  ) {}

  static where(field: string | FieldPath, op: Operator, value: unknown): Filter {
    const path = FieldPath.of(field);
    return new Filter((valueOf) => {
      if (op === '==' || op === '!=') {
        const unary = value === null ? 'NULL' : typeof value === 'number' && Number.isNaN(value) ? 'NAN' : undefined;
        if (unary) return { unaryFilter: { field: { fieldPath: path.encoded() }, op: `IS_${op === '==' ? '' : 'NOT_'}${unary}` } };
      }
      return { fieldFilter: { field: { fieldPath: path.encoded() }, op: OPERATORS[op], value: valueOf(path, value) } };
    });
  }

  static or(...filters: Filter[]): Filter {
    return Filter.joined('OR', filters);
  }

  static and(...filters: Filter[]): Filter {
    return Filter.joined('AND', filters);
  }

  private static joined(op: 'AND' | 'OR', filters: Filter[]): Filter {
    return new Filter((valueOf) => ({ compositeFilter: { op, filters: filters.map((filter) => filter.encoded(valueOf)) } }));
  }

}

interface QueryParts {
  readonly filters: readonly Filter[];
  readonly orderBy: readonly { field: FieldPath; direction: 'ASCENDING' | 'DESCENDING' }[];
  readonly select?: readonly FieldPath[];
  /** Values of the order's fields: the results start after them... */
  readonly startAfter?: readonly unknown[];
  /** ...and end at them, inclusive. */
  readonly endAt?: readonly unknown[];
  readonly limit?: number;
}

export class Query {
  constructor(
    readonly firestore: Firestore,
    /** The document the collection is under, or null at the root. */
    protected readonly parentDoc: DocumentReference | null,
    protected readonly collectionId: string,
    private readonly parts: QueryParts = { filters: [], orderBy: [] },
  ) {}

  private with(parts: Partial<QueryParts>): Query {
    return new Query(this.firestore, this.parentDoc, this.collectionId, { ...this.parts, ...parts });
  }

  where(field: string | FieldPath | Filter, op?: Operator, value?: unknown): Query {
    const filter = field instanceof Filter ? field : Filter.where(field, op as Operator, value);
    return this.with({ filters: [...this.parts.filters, filter] });
  }

  orderBy(field: string | FieldPath, direction: 'asc' | 'desc' = 'asc'): Query {
    return this.with({ orderBy: [...this.parts.orderBy, { field: FieldPath.of(field), direction: direction === 'asc' ? 'ASCENDING' : 'DESCENDING' }] });
  }

  select(...fields: (string | FieldPath)[]): Query {
    return this.with({ select: fields.length ? fields.map((field) => FieldPath.of(field)) : [FieldPath.documentId()] });
  }

  startAfter(...values: unknown[]): Query {
    return this.with({ startAfter: values });
  }

  endAt(...values: unknown[]): Query {
    return this.with({ endAt: values });
  }

  limit(limit: number): Query {
    return this.with({ limit });
  }

  count(): { get(): Promise<{ data(): { count: number } }> } {
    return {
      get: async () => {
        const { parent, structuredQuery } = await this.encoded();
        const answer = (await this.firestore.transport.call('RunAggregationQuery', {
          parent,
          structuredAggregationQuery: { structuredQuery, aggregations: [{ alias: 'count', count: {} }] },
        })) as { result?: { aggregateFields?: { count?: WireValue } } }[];
        const count = answer.find((item) => item.result)?.result?.aggregateFields?.count;
        return { data: () => ({ count: count ? Number(decodeValue(count, String)) : 0 }) };
      },
    };
  }

  async get(): Promise<QuerySnapshot> {
    return runQuery(this, {});
  }

  /** The matching documents as the answer arrives, never all of them held at once. */
  async *stream(): AsyncGenerator<QueryDocumentSnapshot> {
    const root = await this.firestore.documentsRoot();
    const { parent, structuredQuery } = await this.encoded();
    for await (const item of this.firestore.transport.stream('RunQuery', { parent, structuredQuery })) {
      if (item.document) yield snapshotOf(this.firestore, root, item.document as WireDocument, item.readTime as Timestamp);
    }
  }

  /** The `RunQuery` request's parent and structured query. */
  async encoded(): Promise<{ parent: string; structuredQuery: Record<string, unknown> }> {
    const root = await this.firestore.documentsRoot();
    const collectionName = `${root}/${this.parentDoc ? `${this.parentDoc.path}/` : ''}${this.collectionId}`;
    const valueOf = (field: FieldPath, value: unknown): WireValue => {
      if (field !== FieldPath.documentId()) return encodeValue(value, field.encoded());
      if (Array.isArray(value)) return { arrayValue: { values: value.map((id) => valueOf(field, id)) } };
      return { referenceValue: value instanceof DocumentReference ? `${root}/${value.path}` : `${collectionName}/${String(value)}` };
    };
    // `before: false`: a start cursor excludes its values, an end cursor includes them.
    const cursor = (values: readonly unknown[]) => ({
      values: values.map((value, i) => valueOf(this.parts.orderBy[i]?.field ?? FieldPath.documentId(), value)),
      before: false,
    });
    const { filters, orderBy, select, startAfter, endAt, limit } = this.parts;
    const where = filters.length === 1 ? filters[0].encoded(valueOf) : filters.length ? Filter.and(...filters).encoded(valueOf) : undefined;
    return {
      parent: this.parentDoc ? `${root}/${this.parentDoc.path}` : root,
      structuredQuery: {
        from: [{ collectionId: this.collectionId }],
        ...(where && { where }),
        ...(orderBy.length && { orderBy: orderBy.map(({ field, direction }) => ({ field: { fieldPath: field.encoded() }, direction })) }),
        ...(select && { select: { fields: select.map((field) => ({ fieldPath: field.encoded() })) } }),
        ...(startAfter && { startAt: cursor(startAfter) }),
        ...(endAt && { endAt: cursor(endAt) }),
        ...(limit !== undefined && { limit }),
      },
    };
  }
}

export class CollectionReference extends Query {
  constructor(firestore: Firestore, parentDoc: DocumentReference | null, id: string) {
    super(firestore, parentDoc, id);
  }

  get id(): string {
    return this.collectionId;
  }

  get path(): string {
    return this.parentDoc ? `${this.parentDoc.path}/${this.collectionId}` : this.collectionId;
  }

  doc(id?: string): DocumentReference {
    if (id !== undefined && (id === '' || id.includes('/'))) throw new Error(`"${id}" is not a document id`);
    return new DocumentReference(this.firestore, `${this.path}/${id ?? autoId()}`);
  }

  /** Every document of the collection, including those that only have subcollections. */
  async listDocuments(): Promise<DocumentReference[]> {
    const root = await this.firestore.documentsRoot();
    const parent = this.parentDoc ? `${root}/${this.parentDoc.path}` : root;
    const refs: DocumentReference[] = [];
    let pageToken = '';
    do {
      // An empty field mask: only the names are read.
      const [page] = (await this.firestore.transport.call('ListDocuments', { parent, collectionId: this.collectionId, pageSize: 1000, pageToken, mask: {}, showMissing: true })) as {
        documents?: { name: string }[];
        nextPageToken?: string;
      }[];
      for (const { name } of page.documents ?? []) refs.push(this.firestore.documentNamed(root, name));
      pageToken = page.nextPageToken ?? '';
    } while (pageToken);
    return refs;
  }
}

const AUTO_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const autoId = () => Array.from({ length: 20 }, () => AUTO_ID_ALPHABET[Math.floor(Math.random() * AUTO_ID_ALPHABET.length)]).join('');

interface WireDocument {
  name: string;
  fields?: WireFields;
  createTime?: Timestamp;
  updateTime?: Timestamp;
}

export class DocumentSnapshot {
  constructor(
    readonly ref: DocumentReference,
    private readonly fields: WireFields | undefined,
    private readonly reference: (name: string) => unknown,
    readonly readTime: Timestamp,
    readonly createTime?: Timestamp,
    readonly updateTime?: Timestamp,
  ) {}

  get id(): string {
    return this.ref.id;
  }

  get exists(): boolean {
    return this.fields !== undefined;
  }

  data(): DocumentData | undefined {
    return this.fields && decodeFields(this.fields, this.reference);
  }

  /** One field, decoded alone; a dotted string names a nested field. */
  get(field: string | FieldPath): unknown {
    let value: WireValue | undefined = { mapValue: { fields: this.fields } };
    for (const segment of FieldPath.of(field).segments) value = value && 'mapValue' in value ? value.mapValue.fields?.[segment] : undefined;
    return value && decodeValue(value, this.reference);
  }
}

export class QueryDocumentSnapshot extends DocumentSnapshot {
  override data(): DocumentData {
    return super.data() as DocumentData;
  }
}

export class QuerySnapshot {
  constructor(
    readonly docs: QueryDocumentSnapshot[],
    readonly readTime: Timestamp,
  ) {}

  get size(): number {
    return this.docs.length;
  }

  get empty(): boolean {
    return this.docs.length === 0;
  }
}

function snapshotOf(db: Firestore, root: string, doc: WireDocument, readTime: Timestamp): QueryDocumentSnapshot {
  return new QueryDocumentSnapshot(db.documentNamed(root, doc.name), doc.fields ?? {}, db.referenceFrom(root), readTime, doc.createTime, doc.updateTime);
}

/** `projects/P/databases/D`, the name the whole-database calls take. */
const databaseOf = (root: string) => root.slice(0, root.lastIndexOf('/documents'));

/** Where a read belongs: outside a transaction, in one, or as the read that begins one. */
type ReadConsistency = { transaction?: Uint8Array; newTransaction?: Record<string, unknown> };

async function batchGet(db: Firestore, refs: readonly DocumentReference[], consistency: ReadConsistency): Promise<DocumentSnapshot[]> {
  const root = await db.documentsRoot();
  const names = refs.map((ref) => `${root}/${ref.path}`);
  const answer = (await db.transport.call('BatchGetDocuments', { database: databaseOf(root), documents: [...new Set(names)], ...consistency })) as {
    found?: WireDocument;
    missing?: string;
    readTime: Timestamp;
    transaction?: Uint8Array;
  }[];
  const byName = new Map<string, DocumentSnapshot>();
  const reference = db.referenceFrom(root);
  for (const item of answer) {
    if (item.transaction) consistency.transaction = item.transaction;
    if (item.found) byName.set(item.found.name, snapshotOf(db, root, item.found, item.readTime));
    else if (item.missing) byName.set(item.missing, new DocumentSnapshot(db.documentNamed(root, item.missing), undefined, reference, item.readTime));
  }
  return names.map((name) => byName.get(name) as DocumentSnapshot);
}

async function runQuery(query: Query, consistency: ReadConsistency): Promise<QuerySnapshot> {
  const db = query.firestore;
  const root = await db.documentsRoot();
  const { parent, structuredQuery } = await query.encoded();
  const answer = (await db.transport.call('RunQuery', { parent, structuredQuery, ...consistency })) as {
    document?: WireDocument;
    readTime?: Timestamp;
    transaction?: Uint8Array;
  }[];
  const docs: QueryDocumentSnapshot[] = [];
  let readTime: Timestamp | undefined;
  for (const item of answer) {
    if (item.transaction) consistency.transaction = item.transaction;
    if (item.readTime) readTime = item.readTime;
    if (item.document) docs.push(snapshotOf(db, root, item.document, item.readTime as Timestamp));
  }
  return new QuerySnapshot(docs, readTime ?? Timestamp.fromMillis(Date.now()));
}

async function collectionIds(db: Firestore, docPath: string): Promise<string[]> {
  const root = await db.documentsRoot();
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const [page] = (await db.transport.call('ListCollectionIds', { parent: docPath ? `${root}/${docPath}` : root, pageSize: 1000, pageToken })) as {
      collectionIds?: string[];
      nextPageToken?: string;
    }[];
    ids.push(...(page.collectionIds ?? []));
    pageToken = page.nextPageToken || undefined;
  } while (pageToken);
  return ids;
}

export interface SetOptions {
  /** Only these top-level or dotted fields are written; the document's others stay. */
  readonly mergeFields?: readonly (string | FieldPath)[];
}

/**
 * Writes staged for one commit (of a batch or a transaction), encoded as they are staged so that
 * bad data fails at once.
 */
abstract class StagedWrites {
  protected readonly staged: ((root: string) => Write)[] = [];

  constructor(protected readonly db: Firestore) {}

  set(ref: DocumentReference, data: DocumentData, options?: SetOptions): this {
    if (!options?.mergeFields) {
      const { fields, transforms } = splitTransforms(data);
      return this.stage(ref, { fields, transforms });
    }
    const paths = options.mergeFields.map((field) => FieldPath.of(field));
    const picked: [FieldPath, unknown][] = paths.map((path) => [path, valueAt(data, path)]);
    const { fields, transforms } = nest(picked);
    return this.stage(ref, { fields, transforms, mask: paths.filter((path) => !(valueAt(data, path) instanceof FieldValue)) });
  }

  create(ref: DocumentReference, data: DocumentData): this {
    return this.stage(ref, { ...splitTransforms(data), precondition: { exists: false } });
  }

  update(ref: DocumentReference, dataOrField: DocumentData | string | FieldPath, value?: unknown): this {
    const pairs: [FieldPath, unknown][] =
      typeof dataOrField === 'string' || dataOrField instanceof FieldPath
        ? [[FieldPath.of(dataOrField), value]]
        : Object.entries(dataOrField).map(([key, inner]) => [FieldPath.of(key), inner]);
    const { fields, transforms } = nest(pairs);
    return this.stage(ref, { fields, transforms, mask: pairs.filter(([, inner]) => inner !== FieldValue.serverTimestamp()).map(([path]) => path), precondition: { exists: true } });
  }

  delete(ref: DocumentReference): this {
    this.staged.push((root) => ({ delete: `${root}/${ref.path}` }));
    return this;
  }

  private stage(
    ref: DocumentReference,
    { fields, transforms, mask, precondition }: { fields: DocumentData; transforms: FieldPath[]; mask?: FieldPath[]; precondition?: { exists: boolean } },
  ): this {
    const encoded = encodeFields(fields);
    this.staged.push((root) => ({
      update: { name: `${root}/${ref.path}`, fields: encoded },
      ...(mask && { updateMask: { fieldPaths: mask.map((path) => path.encoded()) } }),
      ...(transforms.length && { updateTransforms: transforms.map((path) => ({ fieldPath: path.encoded(), setToServerValue: 'REQUEST_TIME' })) }),
      ...(precondition && { currentDocument: precondition }),
    }));
    return this;
  }

  /** Applies every staged write, all or none, in the transaction if one is named. */
  protected async send(transaction?: Uint8Array): Promise<void> {
    if (this.staged.length === 0 && !transaction) return;
    const root = await this.db.documentsRoot();
    await this.db.transport.call('Commit', { database: databaseOf(root), writes: this.staged.map((write) => write(root)), transaction });
  }
}

function valueAt(data: DocumentData, path: FieldPath): unknown {
  let value: unknown = data;
  for (const segment of path.segments) value = value !== null && typeof value === 'object' ? (value as DocumentData)[segment] : undefined;
  if (value === undefined) throw new Error(`the data has no field ${path.encoded()} to merge`);
  return value;
}

/** Server timestamps become transforms at their paths; FieldValue.delete() only empties its path. */
function splitTransforms(data: DocumentData, prefix: string[] = [], transforms: FieldPath[] = []): { fields: DocumentData; transforms: FieldPath[] } {
  const fields: DocumentData = {};
  for (const [key, value] of Object.entries(data)) {
    if (value instanceof FieldValue) {
      if (value !== FieldValue.serverTimestamp()) throw new Error(`${[...prefix, key].join('.')}: FieldValue.delete() belongs in an update`);
      transforms.push(new FieldPath(...prefix, key));
    } else setField(fields, key, isPlainObject(value) ? splitTransforms(value, [...prefix, key], transforms).fields : value);
  }
  return { fields, transforms };
}

/** Places values at field paths in one nested object, and collects the paths of server timestamps. */
function nest(pairs: readonly [FieldPath, unknown][]): { fields: DocumentData; transforms: FieldPath[] } {
  const fields: DocumentData = {};
  const transforms: FieldPath[] = [];
  for (const [path, value] of pairs) {
    if (value === FieldValue.serverTimestamp()) {
      transforms.push(path);
      continue;
    }
    if (value === FieldValue.delete()) continue;
    let target = fields;
    for (const segment of path.segments.slice(0, -1)) target = (Object.hasOwn(target, segment) ? target[segment] : setField(target, segment, {})) as DocumentData;
    const last = path.segments[path.segments.length - 1];
    setField(target, last, isPlainObject(value) ? splitTransforms(value, [...path.segments], transforms).fields : value);
  }
  return { fields, transforms };
}

const isPlainObject = (value: unknown): value is DocumentData =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Timestamp) && !(value instanceof Date) && !(value instanceof Uint8Array) && !(value instanceof DocumentReference);

export class WriteBatch extends StagedWrites {
  /** Applies every staged write, all or none. */
  commit(): Promise<void> {
    return this.send();
  }
}

export class Transaction extends StagedWrites {
  /** The transaction's id once its first read began it. */
  private begun: Promise<ReadConsistency> | undefined;

  constructor(
    db: Firestore,
    /** The id of the attempt this one retries, which keeps its place in the database's lock queue. */
    private readonly retrying: Uint8Array | undefined,
  ) {
    super(db);
  }

  get(ref: DocumentReference): Promise<DocumentSnapshot>;
  get(query: Query): Promise<QuerySnapshot>;
  async get(target: DocumentReference | Query): Promise<DocumentSnapshot | QuerySnapshot> {
    return this.read((consistency) => (target instanceof DocumentReference ? batchGet(this.db, [target], consistency).then((snapshots) => snapshots[0]) : runQuery(target, consistency)));
  }

  getAll(...refs: DocumentReference[]): Promise<DocumentSnapshot[]> {
    return this.read((consistency) => batchGet(this.db, refs, consistency));
  }

  /** The first read carries `newTransaction` and yields the id; later reads wait for it. */
  private async read<T>(call: (consistency: ReadConsistency) => Promise<T>): Promise<T> {
    if (this.staged.length) throw new Error('a transaction must do all its reads before its writes');
    if (this.begun) return call({ transaction: (await this.begun).transaction });
    const consistency: ReadConsistency = { newTransaction: { readWrite: this.retrying ? { retryTransaction: this.retrying } : {} } };
    const result = call(consistency);
    this.begun = result.then(() => {
      if (!consistency.transaction) throw new Error('Firestore began no transaction');
      return { transaction: consistency.transaction };
    });
    // Its failure reaches the caller through `result`; later reads and the commit see it again.
    this.begun.catch(() => undefined);
    return result;
  }

  async commit(): Promise<void> {
    await this.send(this.begun && (await this.begun).transaction);
  }

  /** After a failed attempt: releases its locks, and returns its id for the next attempt. */
  async abandon(): Promise<Uint8Array | undefined> {
    const id = await this.begun?.then(
      (begun) => begun.transaction,
      () => undefined,
    );
    if (!id) return undefined;
    await this.db.transport.call('Rollback', { database: databaseOf(await this.db.documentsRoot()), transaction: id }).catch(() => undefined);
    return id;
  }
}
