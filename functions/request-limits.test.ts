/**
 * How many ids one request may name (docs/reliability.md, "Request limits"): deletes name at most
 * 500 (one atomic batch), a revert at most 10,000 bodies, and an `id-number` list is bounded by the
 * URL, which must fit Node's 16 KiB of headers. At each limit the request is served; one more id
 * is a 4xx with a `detail` that names the limit, and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../shared/collections';
import { MAX_IDS_PER_DELETE, MAX_IDS_PER_REQUEST } from '../shared/ids';
import { databaseState, seedStandardData, startTestService, type TestService } from '../shared/testing/harness';

const NATIVE = 'native-limits';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  await seedStandardData(svc.db);
  await svc.db.collection(COLLECTIONS.datasets).doc(NATIVE).set({ description: 'native neurons', neurons: { store: 'firestore' } });
});
afterAll(() => svc.close());

const ids = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

const DELETES = [
  { path: '/v2/datasets', collection: COLLECTIONS.datasets, id: (i: string) => `limit-ds-${i}`, record: { description: 'to delete' }, what: 'dataset ids' },
  { path: '/v2/users', collection: COLLECTIONS.users, id: (i: string) => `limit-${i}@test.org`, record: { global_roles: [] }, what: 'e-mails' },
  { path: '/v2/volumes', collection: COLLECTIONS.volumes, id: (i: string) => `limit-vol-${i}`, record: { name: 'to delete' }, what: 'volume ids' },
];

describe.each(DELETES)('DELETE $path', ({ path, collection, id, record, what }) => {
  it(`deletes ${MAX_IDS_PER_DELETE} ids in one request`, async () => {
    const names = ids(MAX_IDS_PER_DELETE, '').map(id);
    await svc.db.collection(collection).doc(names[0]).set(record);
    await svc.db.collection(collection).doc(names.at(-1)!).set(record);
    const res = await svc.request('DELETE', path, { as: 'admin', body: names });
    expect(res.status, res.text).toBe(200);
    expect((await svc.db.collection(collection).doc(names[0]).get()).exists).toBe(false);
    expect((await svc.db.collection(collection).doc(names.at(-1)!).get()).exists).toBe(false);
  });

  it(`refuses ${MAX_IDS_PER_DELETE + 1} ids with a 422 naming the limit, deleting none`, async () => {
    const names = ids(MAX_IDS_PER_DELETE + 1, 'over').map(id);
    await svc.db.collection(collection).doc(names[0]).set(record);
    const before = await databaseState(svc);
    const res = await svc.request('DELETE', path, { as: 'admin', body: names });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.json.detail)).toContain(`at most 500 ${what} per request`);
    expect(await databaseState(svc)).toEqual(before);
  });
});

describe('POST neurons/revert', () => {
  const revert = (bodyids: number[]) =>
    svc.request('POST', `/v2/json-annotations/${NATIVE}/neurons/revert`, { as: 'writer', body: { bodyids, to: '1' } });

  it(`reverts ${MAX_IDS_PER_REQUEST.toLocaleString('en')} bodies in one request`, async () => {
    const res = await revert(Array.from({ length: MAX_IDS_PER_REQUEST }, (_, i) => i + 1));
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ changes: 0 });
  });

  it('refuses one body more with a 422 naming the limit', async () => {
    const before = await databaseState(svc);
    const res = await revert(Array.from({ length: MAX_IDS_PER_REQUEST + 1 }, (_, i) => i + 1));
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.json.detail)).toContain('at most 10,000 body ids per request');
    expect(await databaseState(svc)).toEqual(before);
  });
});

describe('GET neurons/id-number/{ids}', () => {
  const list = (count: number, digits: number) => Array.from({ length: count }, (_, i) => String(10 ** (digits - 1) + i)).join(',');
  const get = (idList: string) => svc.request('GET', `/v2/json-annotations/${NATIVE}/neurons/id-number/${idList}`, { as: 'writer' });

  it('serves the longest list of uint64-size ids that fits in 16 KiB of headers (700 of 20 digits)', async () => {
    const written = await svc.request('POST', `/v2/json-annotations/${NATIVE}/neurons`, { as: 'writer', rawBody: '{"bodyid": 10000000000000000000, "type": "big"}' });
    expect(written.status, written.text).toBe(200);
    const res = await get(list(700, 20));
    expect(res.status, res.text).toBe(200);
    expect(res.json).toHaveLength(1);
  });

  it('answers 431 when the list no longer fits in the headers, before any of our code', async () => {
    expect((await get(list(800, 20))).status).toBe(431);
  });
});
