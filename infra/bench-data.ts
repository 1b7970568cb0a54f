/**
 * The data the function benchmarks (cold start, warm, load) ask about, written straight to the
 * emulator: users allowed to write, the dataset `bench`, a kv key per user and 100 annotations of
 * the first user. `infra/bench-functions/bare-client` reads the same names.
 */
import type { Firestore } from '@google-cloud/firestore';
import { COLLECTIONS } from '../shared/collections';
import { annotationKey } from '../functions/annotations/store';

export const BENCH_DATASET = 'bench';
export const BENCH_USER = 'bench@example.org';

export const benchAnnotation = (i: number) => ({ kind: 'point' as const, pos: [i, 2 * i, 3 * i], prop: { comment: `point ${i}` }, tags: ['bench'] });

/** Seeds `users` (the first also owns the annotations) and the dataset, whose extra fields are `dataset`. */
export async function seedBenchData(db: Firestore, users: readonly string[], dataset: Record<string, unknown> = {}): Promise<void> {
  const batch = db.batch();
  for (const email of users) {
    batch.set(db.collection(COLLECTIONS.users).doc(email), { global_roles: ['clio_general', 'clio_write'] });
    batch.set(db.collection(COLLECTIONS.keyValues).doc(email).collection('bench').doc('key'), { value: 'v' });
  }
  batch.set(db.collection(COLLECTIONS.datasets).doc(BENCH_DATASET), { description: 'benchmarks', ...dataset });
  const owner = db.collection(COLLECTIONS.annotationsV2).doc(BENCH_DATASET).collection(users[0]);
  for (let i = 0; i < 100; i++) batch.set(owner.doc(annotationKey(benchAnnotation(i))), { ...benchAnnotation(i), user: users[0] });
  await batch.commit();
}
