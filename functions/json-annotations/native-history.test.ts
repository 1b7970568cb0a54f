/**
 * Properties of the native store's history, over random write sequences from a seeded generator
 * (reproducible: a failure names its seed): folding a body's change records reproduces its HEAD,
 * and a read `as_of` a time equals the HEAD captured at that time. Checked on the pure functions
 * for many sequences and through the HTTP endpoints for fewer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { stringifyJson } from '../../shared/json';
import { DS, seedStandardData, startTestService, type TestService } from '../../shared/testing/harness';
import { type Annotation, applyWrite } from './neuronjson';
import { applyChange, diff } from './native-store';

/** mulberry32: a small seeded generator. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIELDS = ['status', 'type', 'group', 'notes', 'tags'];
const VALUES: unknown[] = ['Traced', 'Anchor', '', 7, 7.5, [], ['a', 'b'], 18446744073709551615n, null];

interface Op {
  readonly posted: Annotation;
  readonly user: string;
  readonly replace: boolean;
  readonly conditional: string[];
  readonly remove: boolean;
}

function randomOps(next: () => number, bodyid: number, count: number): Op[] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
  return Array.from({ length: count }, () => {
    const posted: Annotation = { bodyid };
    for (const field of FIELDS) if (next() < 0.4) posted[field] = pick(VALUES);
    if (next() < 0.15) posted[`${pick(FIELDS)}_user`] = pick(['explicit@x.org', null, 3]);
    return {
      posted,
      user: pick(['a@x.org', 'b@x.org']),
      replace: next() < 0.2,
      conditional: next() < 0.3 ? [pick(FIELDS)] : [],
      remove: next() < 0.1,
    };
  });
}

const canonical = (annotation: Annotation | undefined) =>
  annotation === undefined ? 'absent' : stringifyJson(Object.fromEntries(Object.entries(annotation).sort(([a], [b]) => (a < b ? -1 : 1))));

describe('the patch functions', () => {
  it.each(Array.from({ length: 200 }, (_, seed) => seed))('fold(diffs) reproduces every state (seed %i)', (seed) => {
    const next = random(seed);
    let head: Annotation | undefined;
    let folded: Annotation | undefined;
    for (const op of randomOps(next, 1, 12)) {
      const after = op.remove ? undefined : applyWrite(head, op.posted, op.user, '2026-01-01T00:00:00Z', op);
      folded = applyChange(folded, diff(head, after));
      head = after;
      expect(canonical(folded)).toBe(canonical(head));
    }
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

  it.each([1, 2, 3, 4])('folding history reproduces HEAD and as_of(t) equals HEAD at t (seed %i)', async (seed) => {
    const next = random(seed * 7919);
    const bodyid = 1000 + seed;
    const captured: { t: number; head: string }[] = [];
    const headNow = async () => {
      const res = await svc.request('GET', `${base}/id-number/${bodyid}?show=all`, { as: 'reader' });
      return res.text;
    };
    for (const op of randomOps(next, bodyid, 10)) {
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
  }, 60_000);
});
