/**
 * Properties of the native store's history over random write sequences (fast-check, fixed seed, so a
 * failure is reproducible and shrunk to a small sequence): folding a body's change records
 * reproduces its HEAD, and a read `as_of` a time equals the HEAD captured at that time. Checked on
 * the pure functions for many sequences and through the HTTP endpoints for fewer.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { stringifyJson } from '../../shared/json';
import { DS, seedStandardData, startTestService, type TestService } from '../../shared/testing/harness';
import { type Annotation, applyWrite } from './neuronjson';
import { applyChange, diff } from './native-store';

const SEED = 20261201;
const FIELDS = ['status', 'type', 'group', 'notes', 'tags'];
const VALUES: unknown[] = ['Traced', 'Anchor', '', 7, 7.5, [], ['a', 'b'], 18446744073709551615n, null];

interface Op {
  readonly posted: Annotation;
  readonly user: string;
  readonly replace: boolean;
  readonly conditional: string[];
  readonly remove: boolean;
}

/** One write or delete of `bodyid`: some fields set (null deletes), sometimes a companion written by hand. */
const op = (bodyid: number): fc.Arbitrary<Op> =>
  fc.record({
    fields: fc.dictionary(fc.constantFrom(...FIELDS), fc.constantFrom(...VALUES), { maxKeys: FIELDS.length }),
    companion: fc.option(fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom<unknown>('explicit@x.org', null, 3)), { freq: 6 }),
    user: fc.constantFrom('a@x.org', 'b@x.org'),
    replace: fc.boolean(),
    conditional: fc.subarray(FIELDS, { maxLength: 1 }),
    remove: fc.boolean(),
  }).map(({ fields, companion, user, replace, conditional, remove }) => {
    const posted: Annotation = { bodyid, ...fields };
    if (companion) posted[`${companion[0]}_user`] = companion[1];
    return { posted, user, replace, conditional, remove };
  });

const canonical = (annotation: Annotation | undefined) =>
  annotation === undefined ? 'absent' : stringifyJson(Object.fromEntries(Object.entries(annotation).sort(([a], [b]) => (a < b ? -1 : 1))));

describe('the patch functions', () => {
  it('fold(diffs) reproduces every state of 500 random sequences', () => {
    fc.assert(
      fc.property(fc.array(op(1), { minLength: 1, maxLength: 12 }), (ops) => {
        let head: Annotation | undefined;
        let folded: Annotation | undefined;
        for (const step of ops) {
          const after = step.remove ? undefined : applyWrite(head, step.posted, step.user, '2026-01-01T00:00:00Z', step);
          folded = applyChange(folded, diff(head, after));
          head = after;
          expect(canonical(folded)).toBe(canonical(head));
        }
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});

describe('through the endpoints', () => {
  let svc: TestService;
  const base = `/v2/json-annotations/${DS}/neurons`;

  beforeAll(async () => {
    svc = await startTestService();
    await seedStandardData(svc.db);
    await svc.db.collection(COLLECTIONS.datasets).doc(DS).set({ neurons: { store: 'firestore' } }, { merge: true });
    await svc.ctx.datasets.refresh();
  });
  afterAll(() => svc.close());

  let nextBody = 1000;
  it('folding history reproduces HEAD and as_of(t) equals HEAD at t, over 4 random sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op(0), { minLength: 1, maxLength: 10 }), async (ops) => {
        const bodyid = nextBody++;
        await sequenceKeepsHistory(bodyid, ops.map((one) => ({ ...one, posted: { ...one.posted, bodyid } })));
      }),
      { numRuns: 4, seed: SEED },
    );
  }, 120_000);

  async function sequenceKeepsHistory(bodyid: number, ops: Op[]): Promise<void> {
    const captured: { t: number; head: string }[] = [];
    const headNow = async () => {
      const res = await svc.request('GET', `${base}/id-number/${bodyid}?show=all`, { as: 'reader' });
      return res.text;
    };
    for (const op of ops) {
      const params = `?replace=${op.replace}&conditional=${op.conditional.join(',')}&designated_user=${op.user}`;
      const res = op.remove
        ? await svc.request('DELETE', `${base}/id-number/${bodyid}`, { as: 'writer' })
        : await svc.request('POST', `${base}${params}`, { as: 'writer', rawBody: stringifyJson(op.posted) });
      expect(res.status, res.text).toBe(200);
      const t = Date.now();
      captured.push({ t, head: await headNow() });
      // The next change must come strictly after t.
      await new Promise((done) => setTimeout(done, 3));
    }
    const history = await svc.request('GET', `${base}/history/${bodyid}?size=1000`, { as: 'reader' });
    let folded: Annotation | undefined;
    for (const change of history.json.changes) folded = applyChange(folded, change);
    const [head] = (await svc.request('GET', `${base}/id-number/${bodyid}?show=all`, { as: 'reader' })).json;
    expect(canonical(folded)).toBe(canonical(head));
    for (const { t, head: then } of captured) {
      const past = await svc.request('GET', `${base}/id-number/${bodyid}?show=all&as_of=${t / 1000}`, { as: 'reader' });
      expect(past.text, `as_of ${t}`).toBe(then);
    }
  }
});
