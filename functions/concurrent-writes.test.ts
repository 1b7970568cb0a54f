/**
 * Fifty concurrent, conflicting writes to one thing (an annotation key, an atlas location, a
 * saved search, a kv key, a user, a dataset with and without the tag guard), from one instance
 * and from two instances on the same database. Each write carries its number in two fields; the
 * final state must be exactly one of the writes (both fields from the same one), with nothing
 * duplicated and no request answered 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../shared/collections';
import { toPlain } from '../shared/firestore';
import { DS, seedStandardData, startTestService, type TestService, type TestResponse, USERS } from '../shared/testing/harness';

const WRITES = 50;
const WRITER = USERS.writer.email;
const ADMIN = USERS.admin.email;

let first: TestService;
let second: TestService;
beforeAll(async () => {
  first = await startTestService();
  second = await startTestService({}, { sameDatabaseAs: first });
  await seedStandardData(first.db);
  await first.ctx.datasets.refresh();
  await second.ctx.datasets.refresh();
});
afterAll(async () => {
  await second.close();
  await first.close();
});

interface Target {
  readonly name: string;
  /** Write number `n`, as `email`. */
  readonly write: (n: number) => { method: string; path: string; body: unknown; as: string };
  /** The stored documents of the one thing written. */
  readonly stored: () => Promise<Record<string, unknown>[]>;
  /** The write number each of two fields of a stored document holds. */
  readonly numbers: (doc: Record<string, unknown>) => [unknown, unknown];
}

const plain = (docs: { data(): Record<string, unknown> | undefined }[]) => docs.map((doc) => (toPlain(doc.data() ?? {}) as Record<string, unknown>));
const located = (collection: string, parent: string, child: string, field: string, owner: string) => async () =>
  plain((await first.db.collection(collection).doc(parent).collection(child).where(field, '==', owner).get()).docs).filter(
    (doc) => doc.dataset === DS && doc.locationkey === '1_2_3',
  );

const TARGETS: Target[] = [
  {
    name: 'an annotation key',
    write: (n) => ({ method: 'POST', path: `/v2/annotations/${DS}`, body: { kind: 'point', pos: [1, 2, 3], title: `t${n}`, description: `d${n}` }, as: WRITER }),
    stored: async () => plain((await first.db.collection(COLLECTIONS.annotationsV2).doc(DS).collection(WRITER).get()).docs),
    numbers: (doc) => [String(doc.title).slice(1), String(doc.description).slice(1)],
  },
  {
    name: 'an atlas location',
    write: (n) => ({ method: 'POST', path: `/v2/atlas/${DS}?x=1&y=2&z=3`, body: { title: `t${n}`, note: `n${n}`, user: WRITER }, as: WRITER }),
    stored: located(COLLECTIONS.annotations, 'ATLAS', 'annotations', 'user', WRITER),
    numbers: (doc) => [String(doc.title).slice(1), String(doc.note).slice(1)],
  },
  {
    name: 'a saved search',
    write: (n) => ({ method: 'POST', path: `/v2/savedsearches/${DS}?x=1&y=2&z=3`, body: { a: n, b: n }, as: WRITER }),
    stored: located(COLLECTIONS.savedSearches, 'USER', 'searches', 'email', WRITER),
    numbers: (doc) => [doc.a, doc.b],
  },
  {
    name: 'a kv key',
    write: (n) => ({ method: 'POST', path: '/v2/kv/contended/key', body: { a: n, b: n }, as: WRITER }),
    stored: async () => plain((await first.db.collection(COLLECTIONS.keyValues).doc(WRITER).collection('contended').get()).docs),
    numbers: (doc) => [doc.a, doc.b],
  },
  {
    name: 'a user',
    write: (n) => ({ method: 'POST', path: '/v2/users', body: { 'contended@test.org': { global_roles: [`r${n}`], name: `n${n}` } }, as: ADMIN }),
    stored: async () => plain([await first.db.collection(COLLECTIONS.users).doc('contended@test.org').get()]),
    numbers: (doc) => [String((doc.global_roles as string[])[0]).slice(1), String(doc.name).slice(1)],
  },
  {
    name: 'a dataset without a tag',
    write: (n) => ({ method: 'POST', path: '/v2/datasets', body: { 'contended-ds': { description: `d${n}`, title: `t${n}` } }, as: ADMIN }),
    stored: async () => plain([await first.db.collection(COLLECTIONS.datasets).doc('contended-ds').get()]),
    numbers: (doc) => [String(doc.description).slice(1), String(doc.title).slice(1)],
  },
];

const send = (via: TestService, { method, path, body, as }: ReturnType<Target['write']>) =>
  via.request(method, path, { authorization: `Bearer ${via.tokenFor(as)}`, body });

/** Sends the writes all at once, alternating between the instances given. */
const sendAll = (instances: TestService[], write: (n: number) => ReturnType<Target['write']>): Promise<TestResponse[]> =>
  Promise.all(Array.from({ length: WRITES }, (_, n) => send(instances[n % instances.length], write(n))));

describe.each([
  ['one instance', () => [first]],
  ['two instances', () => [first, second]],
] as const)('50 conflicting writes from %s', (_label, instances) => {
  it.each(TARGETS.map((target) => [target.name, target] as const))('to %s leave exactly one of the writes', async (_name, target) => {
    const answers = await sendAll(instances(), target.write);
    expect(answers.map((res) => res.status)).toEqual(Array(WRITES).fill(200));
    const docs = (await target.stored()).filter((doc) => Object.keys(doc).length > 0);
    expect(docs, 'one document, not duplicates').toHaveLength(1);
    const [a, b] = target.numbers(docs[0]);
    expect(String(a), 'both fields from the same write').toBe(String(b));
    expect(Number(a)).toBeGreaterThanOrEqual(0);
    expect(Number(a)).toBeLessThan(WRITES);
  });

  it('to a dataset under the tag guard leave the newest tag, refusing only writes that would go back', async () => {
    const id = `tagged-${instances().length}`;
    const answers = await sendAll(instances(), (n) => ({ method: 'POST', path: '/v2/datasets', body: { [id]: { description: `d${n}`, tag: `v1.${n}` } }, as: ADMIN }));
    for (const res of answers) {
      expect([200, 400], res.text).toContain(res.status);
      if (res.status === 400) expect(res.json.detail).toMatch(/tag/);
    }
    const stored = toPlain((await first.db.collection(COLLECTIONS.datasets).doc(id).get()).data()) as Record<string, string>;
    expect(stored.tag).toBe(`v1.${WRITES - 1}`);
    expect(stored.description).toBe(`d${WRITES - 1}`);
    expect(answers[WRITES - 1].status).toBe(200);
  });
});
