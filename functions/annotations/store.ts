/**
 * Storage of spatial annotations, `clio_annotations_v2/{dataset}/{owner}/{key}` (one collection per
 * owner; the dataset and owner documents themselves have no fields), and of the original README's
 * v1 annotations in `clio_annotations/USER/annotations`.
 */
import type { CollectionReference, DocumentData, Firestore, QueryDocumentSnapshot } from '../../shared/firestore-client/client';
import { COLLECTIONS } from '../../shared/collections';
import { docData, queuedTransaction } from '../../shared/firestore';
import type { LocatedCollection } from '../../shared/located-entries';
import { commitWrites, stageWrite } from '../../shared/stored-data';
import type { Annotation, Kind } from './schemas';

const KEY_PREFIX: Record<Kind, string> = { point: 'Pt', lineseg: 'Ln', sphere: 'Sp' };

/** `Pt{x}_{y}_{z}`, `Ln{x1}_..._{z2}` or `Sp{...}`: the annotation's document id. */
export function annotationKey({ kind, pos }: Pick<Annotation, 'kind' | 'pos'>): string {
  return `${KEY_PREFIX[kind]}${pos.join('_')}`;
}

const ownerAnnotations = (db: Firestore, dataset: string, owner: string) =>
  db.collection(COLLECTIONS.annotationsV2).doc(dataset).collection(owner);

/** What GET answers for each annotation: exactly these fields, absent ones null. */
export interface ListedAnnotation {
  user: string;
  key: string;
  kind: unknown;
  pos: unknown;
  prop: unknown;
  tags: unknown;
  title: unknown;
  description: unknown;
}

function listed(owner: string, doc: QueryDocumentSnapshot): ListedAnnotation {
  const data = docData(doc);
  return {
    user: owner,
    key: doc.id,
    kind: data.kind ?? null,
    pos: data.pos ?? null,
    prop: data.prop ?? null,
    tags: data.tags ?? null,
    title: data.title ?? null,
    description: data.description ?? null,
  };
}

/** Every annotation of each owner, owner by owner, in key order: one collection read per owner. */
export async function readAnnotations(db: Firestore, dataset: string, owners: readonly string[]): Promise<ListedAnnotation[]> {
  const snapshots = await Promise.all(owners.map((owner) => ownerAnnotations(db, dataset, owner).get()));
  return snapshots.flatMap((snapshot, i) => snapshot.docs.map((doc) => listed(owners[i], doc)));
}

export interface AnnotationWrite {
  readonly owner: string;
  readonly key: string;
  /** The stored fields: those the client sent, plus `user`. */
  readonly fields: Record<string, unknown>;
}

export interface WriteMode {
  /** Replace each document (true) or merge the new top-level fields into it. */
  readonly replace: boolean;
  /** When merging, fields that keep a stored value that is already set. */
  readonly conditional: readonly string[];
  /** Where the (single) annotation moved from: deleted in the same commit; never one of the written keys. */
  readonly moveFrom?: { owner: string; key: string };
}

/**
 * Writes every annotation of one request atomically: one batch when replacing, one transaction
 * (reading the current documents) when merging. Items are applied in order, so a later item for
 * the same key wins.
 */
export async function writeAnnotations(db: Firestore, dataset: string, writes: readonly AnnotationWrite[], mode: WriteMode): Promise<void> {
  if (writes.length === 0) return;
  const collections = new Map<string, CollectionReference>();
  const refOf = (owner: string, key: string) => {
    let collection = collections.get(owner);
    if (!collection) collections.set(owner, (collection = ownerAnnotations(db, dataset, owner)));
    return collection.doc(key);
  };
  // Owners and keys are document ids (no "/"), so `owner/key` names a document uniquely.
  const targets = new Map(writes.map(({ owner, key }) => [`${owner}/${key}`, refOf(owner, key)]));
  const moved = mode.moveFrom ? refOf(mode.moveFrom.owner, mode.moveFrom.key) : undefined;
  /** The documents to write, by `owner/key`, given the stored ones. */
  const finalState = (stored: ReadonlyMap<string, DocumentData>) => {
    const docs = new Map<string, DocumentData>();
    for (const { owner, key, fields } of writes) {
      const id = `${owner}/${key}`;
      if (mode.replace) {
        docs.set(id, fields);
      } else {
        const base = docs.get(id) ?? stored.get(id) ?? {};
        docs.set(id, { ...base, ...unprotected(fields, base, mode.conditional) });
      }
    }
    return docs;
  };

  if (mode.replace) {
    const batch = db.batch();
    for (const [id, data] of finalState(new Map())) stageWrite(() => batch.set(targets.get(id)!, data));
    if (moved) batch.delete(moved);
    await commitWrites(() => batch.commit());
    return;
  }
  const paths = [...targets.values(), ...(moved ? [moved] : [])].map((ref) => ref.path);
  await commitWrites(() =>
    queuedTransaction(db, paths, async (tx) => {
      const ids = [...targets.keys()];
      const snapshots = await tx.getAll(...targets.values());
      const stored = new Map(snapshots.flatMap((snapshot, i) => (snapshot.exists ? [[ids[i], snapshot.data()!] as const] : [])));
      for (const [id, data] of finalState(stored)) stageWrite(() => tx.set(targets.get(id)!, data));
      if (moved) tx.delete(moved);
    }),
  );
}

/** The new fields minus the conditional ones whose stored value is already set. */
function unprotected(fields: Record<string, unknown>, stored: DocumentData, conditional: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => !(conditional.includes(name) && isSet(stored[name]))));
}

/** "Set" as the original (Python) judged it: not null, false, 0, "", [] or {}. */
function isSet(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.keys(value).length > 0;
  return Boolean(value);
}

export async function deleteAnnotation(db: Firestore, dataset: string, owner: string, key: string): Promise<void> {
  await ownerAnnotations(db, dataset, owner).doc(key).delete();
}

/** The original README's v1 annotations: `email`-owned entries keyed by location. */
export function v1Annotations(db: Firestore): LocatedCollection {
  return { ref: db.collection(COLLECTIONS.annotations).doc('USER').collection('annotations'), ownerField: 'email' };
}
