import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { entryOf } from '../../shared/located-entries';
import { DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  await seedStandardData(svc.db);
  await svc.ctx.datasets.refresh();
});
afterAll(() => svc.close());

const searches = () => svc.db.collection(COLLECTIONS.savedSearches).doc('USER').collection('searches');
const storedDocs = async () => (await searches().get()).docs.map(entryOf);
beforeEach(() => svc.db.recursiveDelete(searches()));

const ALLOWED: Identity[] = ['dsGeneral', 'general', 'writer'];
// clio_read and clio_write on the dataset do not grant clio_general; nor does global admin.
const REFUSED: Identity[] = ['reader', 'dsWriter', 'admin', 'owner', 'unknown'];

describe('POST /v2/savedsearches/{dataset}', () => {
  it('stores the body with the server fields and answers null', async () => {
    const before = Date.now() / 1000;
    const res = await svc.request('POST', `/v2/savedsearches/${DS}?x=50&y=-30&z=7`, { as: 'general', body: { note: 'saved', n: 3 } });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    const docs = await storedDocs();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({
      note: 'saved',
      n: 3,
      dataset: DS,
      location: [50, -30, 7],
      locationkey: '50_-30_7',
      email: USERS.general.email,
    });
    expect(docs[0].timestamp as number).toBeGreaterThanOrEqual(before);
    expect(docs[0].timestamp as number).toBeLessThanOrEqual(Date.now() / 1000);
    // The id is a Firestore auto id, as the original's.
    expect(docs[0].id).toMatch(/^[A-Za-z0-9]{20}$/);
  });

  it('keeps one entry per user, dataset and location: a second POST or PUT replaces the first', async () => {
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', body: { note: 'first', extra: true } });
    const [first] = await storedDocs();
    const put = await svc.request('PUT', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', body: { note: 'second' } });
    expect(put.status).toBe(200);
    const docs = await storedDocs();
    expect(docs).toHaveLength(1);
    expect(docs[0].id).toBe(first.id);
    expect(docs[0].note).toBe('second');
    expect(docs[0]).not.toHaveProperty('extra');
    // Another location, another dataset and another user each get their own entry.
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=4`, { as: 'general', body: { note: 'b' } });
    await svc.request('POST', `/v2/savedsearches/${PUBLIC_DS}?x=1&y=2&z=3`, { as: 'general', body: { note: 'c' } });
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'writer', body: { note: 'd' } });
    expect(await storedDocs()).toHaveLength(4);
  });

  it('keeps one entry under concurrent POSTs of the same location', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => svc.request('POST', `/v2/savedsearches/${DS}?x=9&y=9&z=9`, { as: 'general', body: { i } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(await storedDocs()).toHaveLength(1);
  });

  it('folds duplicates left by the original into the newest one', async () => {
    const old = { email: USERS.general.email, dataset: DS, location: [5, 5, 5], locationkey: '5_5_5' };
    await searches().doc('aaaaOldest').set({ ...old, note: 'oldest', timestamp: 100 });
    await searches().doc('bbbbNewest').set({ ...old, note: 'newest', timestamp: 300 });
    await searches().doc('ccccMiddle').set({ ...old, note: 'middle', timestamp: 200 });
    const listed = await svc.request('GET', `/v2/savedsearches/${DS}`, { as: 'general' });
    expect(listed.json['5_5_5']).toMatchObject({ id: 'bbbbNewest', note: 'newest' });

    await svc.request('POST', `/v2/savedsearches/${DS}?x=5&y=5&z=5`, { as: 'general', body: { note: 'replaced' } });
    const docs = await storedDocs();
    expect(docs.map((d) => [d.id, d.note])).toEqual([['bbbbNewest', 'replaced']]);
  });

  it.each(ALLOWED)('lets %s save on the private dataset', async (as) => {
    const res = await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=1&z=1`, { as, body: { note: as } });
    expect(res.status).toBe(200);
    expect(await storedDocs()).toHaveLength(1);
  });

  it.each(REFUSED)('refuses %s with 401 (not 500) and writes nothing', async (as) => {
    const res = await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=1&z=1`, { as, body: { note: 'x' } });
    expect(res.status).toBe(401);
    expect(res.json.detail).toMatch(/clio_general/);
    expect(await storedDocs()).toHaveLength(0);
  });

  it('lets anyone signed in save on a public dataset, but not without a token or when disabled', async () => {
    expect((await svc.request('POST', `/v2/savedsearches/${PUBLIC_DS}?x=1&y=1&z=1`, { as: 'unknown', body: {} })).status).toBe(200);
    expect((await svc.request('POST', `/v2/savedsearches/${PUBLIC_DS}?x=1&y=1&z=2`, { body: {} })).status).toBe(401);
    expect((await svc.request('POST', `/v2/savedsearches/${PUBLIC_DS}?x=1&y=1&z=3`, { as: 'disabled', body: {} })).status).toBe(403);
    expect(await storedDocs()).toHaveLength(1);
  });

  it.each([
    ['a missing coordinate', '?x=1&y=2', { note: 'x' }, ['query', 'z']],
    ['a fractional coordinate', '?x=1.5&y=2&z=3', { note: 'x' }, ['query', 'x']],
    ['an array body', '?x=1&y=2&z=3', [{ note: 'x' }], ['body']],
    ['a string body', '?x=1&y=2&z=3', 'note', ['body']],
  ])('rejects %s with 422 and writes nothing', async (_name, query, body, loc) => {
    const res = await svc.request('POST', `/v2/savedsearches/${DS}${query}`, { as: 'general', body });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(loc);
    expect(await storedDocs()).toHaveLength(0);
  });

  it('rejects malformed JSON (422) and fields Firestore cannot store (400), writing nothing', async () => {
    const bad = await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', rawBody: '{"note": ' });
    expect(bad.status).toBe(422);
    const emptyName = await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', body: { '': 1 } });
    expect(emptyName.status).toBe(400);
    expect(emptyName.json.detail).toMatch(/cannot be stored/);
    const reserved = await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', body: { __x__: 1 } });
    expect(reserved.status).toBe(400);
    expect(await storedDocs()).toHaveLength(0);
  });

  it('reads bodies sent without Content-Type or as text/plain, as the web app sends them', async () => {
    for (const [z, contentType] of [[1, null], [2, 'text/plain;charset=UTF-8']] as const) {
      const res = await svc.request('POST', `/v2/savedsearches/${DS}?x=0&y=0&z=${z}`, { as: 'general', rawBody: '{"note":"ct"}', contentType });
      expect(res.status).toBe(200);
    }
    expect((await storedDocs()).map((d) => d.note)).toEqual(['ct', 'ct']);
  });
});

describe('GET /v2/savedsearches/{dataset}', () => {
  it("answers the caller's own searches of that dataset keyed by x_y_z, with id", async () => {
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', body: { note: 'mine' } });
    await svc.request('POST', `/v2/savedsearches/${DS}?x=4&y=5&z=6`, { as: 'general', body: { note: 'mine too' } });
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'writer', body: { note: 'theirs' } });
    await svc.request('POST', `/v2/savedsearches/${PUBLIC_DS}?x=1&y=2&z=3`, { as: 'general', body: { note: 'elsewhere' } });
    const res = await svc.request('GET', `/v2/savedsearches/${DS}`, { as: 'general' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['1_2_3', '4_5_6']);
    const ids = new Map((await storedDocs()).map((d) => [d.note, d.id]));
    expect(res.json['1_2_3']).toMatchObject({ note: 'mine', id: ids.get('mine'), location: [1, 2, 3], dataset: DS, email: USERS.general.email });
    expect(typeof res.json['1_2_3'].timestamp).toBe('number');
  });

  it('answers an empty object when there is nothing', async () => {
    const res = await svc.request('GET', `/v2/savedsearches/${DS}`, { as: 'dsGeneral' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({});
  });

  it.each(REFUSED)('refuses %s with 401', async (as) => {
    expect((await svc.request('GET', `/v2/savedsearches/${DS}`, { as })).status).toBe(401);
  });

  it('answers on every alias, with and without a trailing slash', async () => {
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', body: { note: 'n' } });
    for (const path of ['/v2', '/test', '', '/clio_toplevel']) {
      for (const slash of ['', '/']) {
        const res = await svc.request('GET', `${path}/savedsearches/${DS}${slash}?app=clio-py`, { as: 'general' });
        expect(res.status, path + slash).toBe(200);
        expect(Object.keys(res.json), path).toEqual(['1_2_3']);
      }
    }
  });
});

describe('DELETE /v2/savedsearches/{dataset}', () => {
  it("deletes the caller's entries at that location only", async () => {
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', body: { note: 'gone' } });
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=4`, { as: 'general', body: { note: 'stays' } });
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'writer', body: { note: 'other user' } });
    const res = await svc.request('DELETE', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general' });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    expect((await storedDocs()).map((d) => d.note).sort()).toEqual(['other user', 'stays']);
    // Deleting what is not there succeeds.
    expect((await svc.request('DELETE', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general' })).status).toBe(200);
  });

  it('refuses callers without clio_general and rejects a missing coordinate, deleting nothing', async () => {
    await svc.request('POST', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as: 'general', body: { note: 'kept' } });
    for (const as of REFUSED) expect((await svc.request('DELETE', `/v2/savedsearches/${DS}?x=1&y=2&z=3`, { as })).status, as).toBe(401);
    expect((await svc.request('DELETE', `/v2/savedsearches/${DS}?x=1&y=2`, { as: 'general' })).status).toBe(422);
    expect(await storedDocs()).toHaveLength(1);
  });
});

describe("the original README's saved-search examples", () => {
  it('work verbatim at the bare paths without a token in TEST_USER mode', async () => {
    const readme = await startTestService({ TEST_USER: USERS.writer.email });
    try {
      await seedStandardData(readme.db);
      const post = await readme.request('POST', '/savedsearches/mb20?x=50&y=30&z=50', { rawBody: '{"foo": "bar"}' });
      expect(post.status).toBe(200);
      const again = await readme.request('POST', '/savedsearches/mb20?x=50&y=30&z=50', { rawBody: '{"foo": "baz"}' });
      expect(again.status).toBe(200);
      const get = await readme.request('GET', '/savedsearches/mb20', { contentType: 'application/json' });
      expect(get.status).toBe(200);
      expect(Object.keys(get.json)).toEqual(['50_30_50']);
      expect(get.json['50_30_50']).toMatchObject({ foo: 'baz', email: USERS.writer.email, dataset: 'mb20' });
      const del = await readme.request('DELETE', '/savedsearches/mb20?x=50&y=30&z=50');
      expect(del.status).toBe(200);
      expect((await readme.request('GET', '/savedsearches/mb20')).json).toEqual({});
    } finally {
      await readme.close();
    }
  });
});
