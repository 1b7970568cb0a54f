/**
 * The instance-local copy of a native dataset's HEAD (`head-cache.ts`): made by a full read,
 * answering `all`, `fields` and queries as Firestore would, seeing at once what another
 * instance writes or deletes, dropped when the dataset is deleted, too old, or over budget; and
 * the text test that spares parsing bodies that cannot match.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { parseJson, stringifyJson } from '../../shared/json';
import { DS, seedStandardData, startTestService, type TestService } from '../../shared/testing/harness';
import { HeadCache } from './head-cache';
import { bodies, StoredHead } from './native-store';
import { type Annotation, compileQuery, matchesAny, textTest } from './neuronjson';

const BASE = `/v2/json-annotations/${DS}/neurons`;

let first: TestService;
let second: TestService;

beforeAll(async () => {
  first = await startTestService();
  second = await startTestService({}, { sameDatabaseAs: first });
});
afterAll(async () => {
  await second.close();
  await first.close();
});
beforeEach(async () => {
  await first.db.recursiveDelete(first.db.collection(COLLECTIONS.neurons));
  await seedStandardData(first.db);
  await first.db.collection(COLLECTIONS.datasets).doc(DS).set({ neurons: { store: 'firestore' } }, { merge: true });
  await first.ctx.datasets.refresh();
  await second.ctx.datasets.refresh();
});

async function ok(svc: TestService, method: string, path: string, body?: string) {
  const res = await svc.request(method, `${BASE}${path}`, { as: 'dsWriter', rawBody: body });
  expect(res.status, res.text).toBe(200);
  return res;
}
const lastPlan = (svc: TestService) => svc.logs.findLast((line) => line.message === 'neuron query');

describe('a copy of HEAD on each instance', () => {
  it('answers all, fields and queries from the copy, and sees at once what another instance writes and deletes', async () => {
    await ok(first, 'POST', '', '[{"bodyid":1,"status":"Traced"},{"bodyid":2,"status":"Anchor"},{"bodyid":3,"status":"Anchor"},{"bodyid":18446744073709551615,"status":"Anchor"}]');
    // The full read makes the copy; the next query reads it.
    expect((await ok(first, 'GET', '/all')).text).toBe('[{"bodyid":1,"status":"Traced"},{"bodyid":2,"status":"Anchor"},{"bodyid":3,"status":"Anchor"},{"bodyid":18446744073709551615,"status":"Anchor"}]');
    expect((await ok(first, 'POST', '/query?onlyid=true', '{"status":"re/^A"}')).text).toBe('[2,3,18446744073709551615]');
    expect(lastPlan(first)).toMatchObject({ plan: 'cache', matched: 3 });

    await ok(second, 'POST', '', '[{"bodyid":2,"status":"Traced","notes":"seen"},{"bodyid":5,"status":"Anchor"}]');
    await ok(second, 'DELETE', '/id-number/3');
    await ok(second, 'POST', '?replace=true', '{"bodyid":1,"type":"T1"}');

    const expected = '[{"bodyid":1,"type":"T1"},{"bodyid":2,"notes":"seen","status":"Traced"},{"bodyid":5,"status":"Anchor"},{"bodyid":18446744073709551615,"status":"Anchor"}]';
    expect((await ok(first, 'GET', '/all')).text).toBe(expected);
    // The second instance read Firestore for its first full read: the same answer, shown every way.
    for (const params of ['', '?show=all', '?show=user', '?fields=status', '?size=2']) {
      expect((await ok(first, 'GET', `/all${params}`)).text, params).toBe((await ok(second, 'GET', `/all${params}`)).text);
    }
    expect((await ok(first, 'POST', '/query?onlyid=true', '{"status":"Traced"}')).text).toBe('[2]');
    expect(lastPlan(first)).toMatchObject({ plan: 'cache', bodies_examined: 1, matched: 1 });
    // The copy's index of `status`, made by that query, follows later changes.
    await ok(second, 'POST', '', '[{"bodyid":5,"status":"Traced"},{"bodyid":6,"status":"Traced"}]');
    await ok(second, 'DELETE', '/id-number/2');
    expect((await ok(first, 'POST', '/query?onlyid=true', '{"status":["Traced","Anchor"]}')).text).toBe('[5,6,18446744073709551615]');
    expect(lastPlan(first)).toMatchObject({ plan: 'cache', bodies_examined: 3, matched: 3 });
    await ok(second, 'POST', '', '[{"bodyid":2,"status":"Traced","notes":"seen"},{"bodyid":5,"status":"Anchor"}]');
    await ok(second, 'DELETE', '/id-number/6');
    expect((await ok(first, 'POST', '/query?onlyid=true', '{"status":"exists/0"}')).text).toBe('[1]');
    expect((await ok(first, 'GET', '/fields')).json).toEqual(['bodyid', 'notes', 'status', 'type']);

    // Pages from the copy, with the cursors Firestore reads hand out.
    const page = parseJson((await ok(first, 'GET', '/all?size=2&fields=status')).text) as { items: unknown[]; next_cursor: string };
    expect(page.items).toEqual([
      { bodyid: 2, status: 'Traced' },
      { bodyid: 5, status: 'Anchor' },
    ]);
    expect((await ok(second, 'GET', `/all?size=2&fields=status&cursor=${page.next_cursor}`)).text).toBe('{"items":[{"bodyid":18446744073709551615,"status":"Anchor"}],"next_cursor":null}');
    const cursor = (await ok(second, 'GET', '/all?size=1')).json.next_cursor;
    expect((await ok(first, 'GET', `/all?size=1&cursor=${cursor}`)).text).toBe((await ok(second, 'GET', `/all?size=1&cursor=${cursor}`)).text);
  });

  it('sees every write of 50 concurrent writers of different bodies on two instances, each stamping one clock', async () => {
    await ok(first, 'POST', '', '{"bodyid":1000,"n":0}');
    await ok(first, 'GET', '/all');
    await ok(second, 'GET', '/all');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? first : second).request('POST', BASE, { as: 'dsWriter', rawBody: `{"bodyid":${i + 1},"n":${i + 1}}` })),
    );
    expect(answers.map((res) => res.status)).toEqual(Array(50).fill(200));
    const everyBody = [...Array.from({ length: 50 }, (_, i) => i + 1), 1000];
    for (const svc of [first, second]) {
      expect((await ok(svc, 'POST', '/query?onlyid=true', '{"n":"exists/1"}')).json).toEqual(everyBody);
      expect(lastPlan(svc)).toMatchObject({ plan: 'cache' });
    }
    const clocks = await first.db.collection(COLLECTIONS.neurons).doc(DS).collection('clock').get();
    expect(clocks.size).toBeGreaterThan(1);
  });

  it('drops the copy when the dataset is deleted, and copies what was written since', async () => {
    await ok(first, 'POST', '', '[{"bodyid":1,"a":1},{"bodyid":2,"a":2}]');
    await ok(first, 'GET', '/all');
    await first.db.recursiveDelete(first.db.collection(COLLECTIONS.neurons).doc(DS));
    await ok(second, 'POST', '', '{"bodyid":7,"a":7}');
    expect((await ok(first, 'GET', '/all')).json).toEqual([{ bodyid: 7, a: 7 }]);
    await ok(second, 'POST', '', '{"bodyid":8,"a":8}');
    expect((await ok(first, 'GET', '/all')).json).toEqual([
      { bodyid: 7, a: 7 },
      { bodyid: 8, a: 8 },
    ]);
    expect((await ok(first, 'POST', '/query?onlyid=true', '{"a":"exists/1"}')).json).toEqual([7, 8]);
    expect(lastPlan(first)).toMatchObject({ plan: 'cache' });
  });

  it('keeps no copy past its budget or its age, and a paged or abandoned read makes none', async () => {
    await ok(first, 'POST', '', `[${Array.from({ length: 20 }, (_, i) => `{"bodyid":${i + 1},"text":"${'x'.repeat(100)}"}`).join(',')}]`);
    const heads = async () => (await bodies(first.ctx.db(), DS).orderBy('__name__').get()).docs.map((doc) => new StoredHead(doc.id, doc.get('json') as string));
    let now = 0;
    const copyOf = async (cache: HeadCache, count = Infinity) => {
      const copying = await cache.begin(first.ctx.db(), DS);
      if (!copying) return undefined;
      for (const [i, head] of (await heads()).entries()) if (i < count) copying.add(head);
      if (count === Infinity) copying.done();
      return cache.fresh(first.ctx.db(), DS);
    };

    const roomy = new HeadCache(20 * 600, () => now);
    const copy = await copyOf(roomy);
    expect(copy?.size).toBe(20);
    const text = roomy.heldBytes;
    expect(text).toBeGreaterThan(20 * 100);
    const matches = (from: NonNullable<typeof copy>) => [...from.matching(compileQuery({ text: 're/^x' }), undefined)].length;
    // A query's column is kept while the budget has room...
    expect(matches(copy!)).toBe(20);
    expect(roomy.heldBytes).toBeGreaterThan(text + 20 * 100);
    // ...and otherwise only answers that query, leaving the copy as it was.
    const snug = new HeadCache(text + 200, () => now);
    const snugCopy = await copyOf(snug);
    expect(matches(snugCopy!)).toBe(20);
    expect(snug.heldBytes).toBe(text);
    expect(await snug.fresh(first.ctx.db(), DS)).toBe(snugCopy);
    now += 10 * 60_000 + 1;
    expect(await roomy.fresh(first.ctx.db(), DS)).toBeUndefined();
    expect(roomy.heldBytes).toBe(0);

    const tight = new HeadCache(20 * 100, () => now);
    expect(await copyOf(tight)).toBeUndefined();
    expect(tight.heldBytes).toBe(0);
    // The dataset did not fit: no copy is tried again for ten minutes.
    expect(await tight.begin(first.ctx.db(), DS)).toBeUndefined();
    now += 10 * 60_000 + 1;
    expect(await tight.begin(first.ctx.db(), DS)).toBeDefined();

    // A read that stops before the end leaves no copy.
    expect(await copyOf(new HeadCache(1 << 20, () => now), 5)).toBeUndefined();
    expect(await new HeadCache(0).begin(first.ctx.db(), DS)).toBeUndefined();
    await ok(first, 'GET', '/all?size=5');
    await ok(first, 'POST', '/query?onlyid=true', '{"text":"re/^x"}');
    expect(lastPlan(first)).toMatchObject({ plan: 'scan', bodies_examined: 20 });
  });
});

describe('the text test before parsing', () => {
  const scalar = fc.oneof(fc.string({ maxLength: 4 }), fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, -1.25, 1e-7, 2 ** 60), fc.boolean(), fc.constant(null));
  const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));
  const field = fc.constantFrom('a', 'b', 'a"b', 'é');
  const annotation = fc.dictionary(field, value, { maxKeys: 4 });
  const condition = fc.oneof(value, fc.constantFrom('exists/0', 'exists/1', 're/^a', 're/x$'));
  const query = fc.oneof(fc.dictionary(field, condition, { minKeys: 1, maxKeys: 3 }), fc.array(fc.dictionary(field, condition, { minKeys: 1, maxKeys: 2 }), { minLength: 1, maxLength: 3 }));

  it('passes every body that matches (it only spares parsing those that cannot)', () => {
    fc.assert(
      fc.property(annotation, query, (body, asked) => {
        let compiled;
        try {
          compiled = compileQuery(asked as Annotation);
        } catch {
          return;
        }
        const stored = { bodyid: 1, ...body } as Annotation;
        if (matchesAny(stored, compiled)) expect(textTest(compiled)(stringifyJson(stored))).toBe(true);
      }),
      { seed: 20261201, numRuns: 5000 },
    );
  });

  it('turns away bodies without the wanted values', () => {
    const text = stringifyJson({ bodyid: 1, status: 'Traced', n: 12 });
    expect(textTest(compileQuery({ status: 'Anchor' }))(text)).toBe(false);
    expect(textTest(compileQuery({ status: ['Anchor', 'Traced'] }))(text)).toBe(true);
    expect(textTest(compileQuery({ type: 'exists/1' }))(text)).toBe(false);
    expect(textTest(compileQuery({ status: 're/^Z' }))(text)).toBe(true);
    expect(textTest(compileQuery({ n: 13 }))(text)).toBe(false);
    expect(textTest(compileQuery([{ n: 13 }, { status: 'Traced' }]))(text)).toBe(true);
  });
});
