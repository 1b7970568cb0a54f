/**
 * Storage of dataset documents in `clio_datasets/{id}`.
 */
import type { Firestore } from '../../shared/firestore-client/client';
import { COLLECTIONS } from '../../shared/collections';
import { HttpError } from '../../shared/errors';
import { deleteDocuments, queuedTransaction, readCollection, readDocument } from '../../shared/firestore';
import { commitWrites, ensureDocumentFits, stageWrite } from '../../shared/stored-data';
import { compareTags } from './tags';

export type DatasetDoc = Record<string, unknown>;

export function readAllDatasets(db: Firestore): Promise<Map<string, DatasetDoc>> {
  return readCollection(db.collection(COLLECTIONS.datasets));
}

export function readDataset(db: Firestore, id: string): Promise<DatasetDoc | undefined> {
  return readDocument(db.collection(COLLECTIONS.datasets).doc(id));
}

/**
 * Creates or replaces every posted dataset in one transaction, after checking that none would
 * move its `tag` backwards; if any check fails nothing is written.
 */
export async function saveDatasets(db: Firestore, datasets: Record<string, DatasetDoc>): Promise<void> {
  const collection = db.collection(COLLECTIONS.datasets);
  const ids = Object.keys(datasets);
  if (ids.length === 0) return;
  const refs = ids.map((id) => collection.doc(id));
  await commitWrites(() => queuedTransaction(db, refs.map((ref) => ref.path), async (tx) => {
    const current = await tx.getAll(...refs);
    current.forEach((snapshot, i) => {
      if (!snapshot.exists) return;
      const storedTag = snapshot.get('tag');
      const postedTag = datasets[ids[i]].tag;
      if (typeof storedTag !== 'string') return;
      if (typeof postedTag !== 'string') {
        throw new HttpError(400, `dataset ${ids[i]} has tag ${storedTag}; an update must give a tag (${storedTag} or newer)`);
      }
      if (compareTags(storedTag, postedTag) > 0) {
        throw new HttpError(400, `dataset ${ids[i]} is at tag ${storedTag}; refusing to go back to older tag ${postedTag}`);
      }
    });
    refs.forEach((ref, i) => {
      ensureDocumentFits(ref.path, datasets[ids[i]]);
      stageWrite(() => tx.set(ref, datasets[ids[i]]));
    });
  }));
}

export function deleteDatasets(db: Firestore, ids: readonly string[]): Promise<void> {
  return deleteDocuments(db.collection(COLLECTIONS.datasets), ids);
}
