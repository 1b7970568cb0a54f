/**
 * Demo data for `npm start`: one public dataset, one private one, and the OWNER as a user with
 * admin, clio_general and clio_write. Seeded only into a database with no dataset and no user at
 * all, so that an imported export (or any data of the developer's) is never added to or changed.
 */
import type { Firestore } from '../shared/firestore-client/client';
import { COLLECTIONS } from '../shared/collections';

export const DEMO_DATASETS: Record<string, Record<string, unknown>> = {
  demo: {
    title: 'Demo dataset',
    description: 'A public demo dataset seeded by npm start',
    tag: 'v0.1',
    uuid: 'abc123',
    public: true,
    location: 'gs://demo-bucket/demo/jpeg',
    layers: [{ name: 'grayscale', location: 'precomputed://gs://demo-bucket/demo/{tag}/jpeg' }],
  },
  'demo-private': {
    title: 'Private demo dataset',
    description: 'Readable only with a role on it',
    tag: 'v1.0',
    public: false,
  },
};

export type SeedOutcome = { readonly seeded: true } | { readonly seeded: false; readonly datasets: number; readonly users: number };

export async function seedDemo(db: Firestore, owner: string): Promise<SeedOutcome> {
  const [datasets, users] = await Promise.all(
    [COLLECTIONS.datasets, COLLECTIONS.users].map(async (name) => Number((await db.collection(name).count().get()).data().count)),
  );
  if (datasets > 0 || users > 0) return { seeded: false, datasets, users };
  const writes = [
    ...Object.entries(DEMO_DATASETS).map(([id, doc]) => ({ ref: db.collection(COLLECTIONS.datasets).doc(id), doc })),
    {
      ref: db.collection(COLLECTIONS.users).doc(owner),
      doc: { name: 'Demo owner', global_roles: ['admin', 'clio_general', 'clio_write'], datasets: {} },
    },
  ];
  await Promise.all(
    writes.map(({ ref, doc }) =>
      ref.create(doc).catch((error: { code?: number }) => {
        // 6 = ALREADY_EXISTS: written meanwhile by someone else, whose version is kept.
        if (error.code !== 6) throw error;
      }),
    ),
  );
  return { seeded: true };
}
