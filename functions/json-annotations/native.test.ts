/**
 * json-annotations on Firestore-native datasets (`"neurons": {"store": "firestore"}`): who may do
 * what on every route, the storage layout, history written with HEAD, points in time, revert,
 * version tags, paging, concurrency and bad input. DVID semantics themselves are covered by
 * neuronjson-vectors.test.ts against both backends.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { parseJson } from '../../shared/json';
import { databaseState, DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, statusByIdentity, type TestService, USERS } from '../../shared/testing/harness';
import { DvidTestServer } from './dvid-test-server';
import { inIdOrder } from './native-store';

const U64_MAX = '18446744073709551615';
const BEYOND_2_53 = '18014398509481985';
const BASE = `/v2/json-annotations/${DS}/neurons`;
const DVID_DS = 'on-dvid';

let svc: TestService;
let dvid: DvidTestServer;

beforeAll(async () => {
  dvid = await DvidTestServer.start();
  svc = await startTestService();
});
afterAll(async () => {
  await svc.close();
  await dvid.close();
});
beforeEach(async () => {
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.neurons));
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.annotationsGlobal));
  await seedStandardData(svc.db);
  const datasets = svc.db.collection(COLLECTIONS.datasets);
  await datasets.doc(DS).set({ neurons: { store: 'firestore' } }, { merge: true });
  await datasets.doc(PUBLIC_DS).set({ neurons: { store: 'firestore' } }, { merge: true });
  await datasets.doc(DVID_DS).set({ dvid: dvid.url, uuid: 'h' });
  await svc.ctx.datasets.refresh();
  dvid.addNode('h');
});

const write = (body: string, params = '', as: Identity = 'dsWriter') => svc.request('POST', `${BASE}${params}`, { as, rawBody: body });
const get = (path: string, as: Identity = 'reader') => svc.request('GET', `${BASE}/${path}`, { as });
const query = (body: string, params = '') => svc.request('POST', `${BASE}/query${params}`, { as: 'reader', rawBody: body });
const changeDocs = async (dataset = DS) => (await svc.db.collection(COLLECTIONS.neurons).doc(dataset).collection('changes').get()).docs;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function ok<T extends { status: number; text: string }>(res: Promise<T>): Promise<T> {
  const done = await res;
  expect(done.status, done.text).toBe(200);
  return done;
}

describe('who may do what on a native dataset', () => {
  const READ = { noToken: 401, badToken: 401, reader: 200, dsGeneral: 200, dsWriter: 200, general: 200, writer: 200, admin: 401, disabled: 403, unknown: 401, owner: 401 };
  const WRITE = { ...READ, reader: 401, dsGeneral: 401, general: 401 };
  const ADMIN = { ...WRITE, dsWriter: 401, writer: 401, admin: 200, owner: 200 };
  const routes: { method: string; path: string; body?: string; expected: Record<string, number> }[] = [
    { method: 'GET', path: 'fields', expected: READ },
    { method: 'GET', path: 'versions', expected: READ },
    { method: 'GET', path: 'head_tag', expected: READ },
    { method: 'GET', path: 'head_uuid', expected: READ },
    { method: 'GET', path: 'tag_to_uuid/v1', expected: READ },
    { method: 'GET', path: 'uuid_to_tag/{uuid}', expected: READ },
    { method: 'GET', path: 'all', expected: READ },
    { method: 'GET', path: 'all?size=1', expected: READ },
    { method: 'GET', path: 'id-number/5,6', expected: READ },
    { method: 'GET', path: 'history/5', expected: READ },
    { method: 'POST', path: 'query', body: '{"status":"Traced"}', expected: READ },
    { method: 'POST', path: '', body: '{"bodyid":5,"status":"Traced"}', expected: WRITE },
    { method: 'PUT', path: '', body: '[{"bodyid":5,"status":"Traced"}]', expected: WRITE },
    { method: 'DELETE', path: 'id-number/6', expected: WRITE },
    { method: 'POST', path: 'revert', body: '{"bodyids":[5],"to":"0"}', expected: WRITE },
    { method: 'POST', path: 'versions', body: '{"tag":"v0"}', expected: ADMIN },
  ];

  it.each(routes)('$method neurons/$path', async ({ method, path, body, expected }) => {
    const { head_uuid: uuid } = (await ok(svc.request('POST', `${BASE}/versions`, { as: 'admin', body: { tag: 'v1', head: true } }))).json;
    await ok(write('{"bodyid":5,"status":"Traced"}'));
    await ok(write('{"bodyid":6,"status":"Anchor"}'));
    const full = path === '' ? BASE : `${BASE}/${path.replace('{uuid}', uuid)}`;
    expect(await statusByIdentity(svc, method, full, { rawBody: body })).toEqual(expected);
  });

  it('refuses without writing anything', async () => {
    await ok(write('{"bodyid":5,"status":"Traced"}'));
    const before = await databaseState(svc);
    for (const [method, path, body] of [
      ['POST', BASE, '{"bodyid":5,"status":"Orphan"}'],
      ['DELETE', `${BASE}/id-number/5`, undefined],
      ['POST', `${BASE}/revert`, '{"bodyids":[5],"to":"0"}'],
      ['POST', `${BASE}/versions`, '{"tag":"v9"}'],
    ] as const) {
      expect((await svc.request(method, path, { as: 'reader', rawBody: body })).status, path).toBe(401);
    }
    expect(await databaseState(svc)).toEqual(before);
  });

  it('lets every signed-in user read a public native dataset but only clio_write holders change it', async () => {
    const base = `/v2/json-annotations/${PUBLIC_DS}/neurons`;
    await ok(svc.request('POST', base, { as: 'writer', rawBody: '{"bodyid":7,"status":"Traced"}' }));
    expect((await svc.request('GET', `${base}/all`, { as: 'unknown' })).json).toEqual([{ bodyid: 7, status: 'Traced' }]);
    expect((await svc.request('POST', base, { as: 'unknown', rawBody: '{"bodyid":7,"status":"Orphan"}' })).status).toBe(401);
  });
});

describe('storage', () => {
  it('keeps one HEAD document per body under a 20-digit id, uint64 exact, and one change record per change', async () => {
    await ok(write(`[{"bodyid":7,"status":"Traced"},{"bodyid":${U64_MAX},"partner":${BEYOND_2_53}}]`, '?designated_user=pr@x.org'));
    const bodies = await svc.db.collection(COLLECTIONS.neurons).doc(DS).collection('bodies').get();
    expect(bodies.docs.map((doc) => doc.id)).toEqual(['00000000000000000007', U64_MAX]);
    const head = bodies.docs[1].data();
    expect(head).toMatchObject({ bodyid: U64_MAX, deleted: false });
    expect(head.json).toMatch(new RegExp(`^\\{"bodyid":${U64_MAX},"partner":${BEYOND_2_53},"partner_time":"[^"]+","partner_user":"pr@x.org"\\}$`));
    const records = await changeDocs();
    expect(records.map((doc) => doc.id)).toEqual(['00000000000000000007.0000000001', `${U64_MAX}.0000000001`]);
    const record = records[1].data();
    expect(record).toMatchObject({ bodyid: U64_MAX, op: 'write', unset: [], deleted: false, actor: USERS.dsWriter.email, on_behalf_of: 'pr@x.org' });
    expect(record.request_id).toEqual(records[0].data().request_id);
    expect(record.set).toBe(head.json);
    const text = (await get(`id-number/${U64_MAX},7?show=user`)).text;
    expect(text).toBe(`[{"bodyid":${U64_MAX},"partner":${BEYOND_2_53},"partner_user":"pr@x.org"},{"bodyid":7,"status":"Traced","status_user":"pr@x.org"}]`);
  });

  it('records nothing for a write that changes nothing, and answers keys in alphabetical order', async () => {
    await ok(write('{"bodyid":7,"zeta":1,"alpha":2}'));
    await ok(write('{"bodyid":7,"zeta":1}'));
    expect(await changeDocs()).toHaveLength(1);
    expect((await get('all')).text).toBe('[{"alpha":2,"bodyid":7,"zeta":1}]');
  });

  it('streams all without a Content-Length', async () => {
    await ok(write(Array.from({ length: 30 }, (_, i) => `{"bodyid":${i + 1},"n":"${'x'.repeat(5000)}"}`).join(',').replace(/^/, '[').replace(/$/, ']')));
    const res = await get('all');
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.json.map((a: { bodyid: number }) => a.bodyid)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('writes an array of more bodies than one transaction holds', async () => {
    const body = `[${Array.from({ length: 450 }, (_, i) => `{"bodyid":${i + 1},"k":${i}}`).join(',')}]`;
    await ok(write(body));
    expect((await query('{"k":"exists/1"}', '?onlyid=true')).json).toHaveLength(450);
    expect(await changeDocs()).toHaveLength(450);
  });
});

describe('history', () => {
  it('lists every change of a body with its patch and provenance, paged', async () => {
    await ok(write('{"bodyid":9,"status":"Traced","type":"LC4"}'));
    await ok(write('{"bodyid":9,"status":"Anchor"}', '?designated_user=pr@x.org', 'writer'));
    await ok(write('{"bodyid":9,"type":null}'));
    await ok(svc.request('DELETE', `${BASE}/id-number/9`, { as: 'dsWriter' }));
    await ok(write('{"bodyid":10,"other":1}'));
    const all = await get('history/9');
    expect(all.json.next_cursor).toBeNull();
    expect(all.json.changes.map((c: { change: string; op: string }) => [c.change, c.op])).toEqual([
      ['9@1', 'write'],
      ['9@2', 'write'],
      ['9@3', 'write'],
      ['9@4', 'delete'],
    ]);
    const [first, second, third, fourth] = all.json.changes;
    expect(first).toMatchObject({ bodyid: 9, seq: 1, actor: USERS.dsWriter.email, on_behalf_of: null, deleted: false, unset: [] });
    expect(first.set).toMatchObject({ bodyid: 9, status: 'Traced', type: 'LC4', status_user: USERS.dsWriter.email });
    expect(second).toMatchObject({ actor: USERS.writer.email, on_behalf_of: 'pr@x.org', set: { status: 'Anchor', status_user: 'pr@x.org' } });
    // Only what changed: status_time too unless both writes fell in the same second (its resolution).
    expect(Object.keys(second.set).filter((name) => name !== 'status_time').sort()).toEqual(['status', 'status_user']);
    expect(third.unset).toEqual(['type']);
    expect(fourth).toMatchObject({ deleted: true, set: {} });
    expect(second.time).toBeGreaterThan(first.time);
    expect(typeof first.request_id).toBe('string');

    const page1 = await get('history/9?size=3');
    expect(page1.json.changes).toHaveLength(3);
    const page2 = await get(`history/9?size=3&cursor=${page1.json.next_cursor}`);
    expect(page2.json).toEqual({ changes: [fourth], next_cursor: null });
    expect((await get('history/404')).json).toEqual({ changes: [], next_cursor: null });
  });

  it('refuses bad paging with 4xx', async () => {
    expect((await get('history/9?size=0')).status).toBe(422);
    expect((await get('history/9?size=1001')).status).toBe(422);
    const res = await get('history/9?cursor=abc');
    expect(res.status).toBe(400);
    expect(res.json.detail).toMatch(/cursor/);
    expect((await get('history/x')).status).toBe(422);
  });

  it('keeps all 50 changes of 50 concurrent writers on one body', async () => {
    const writers = Array.from({ length: 50 }, (_, i) => write(`{"bodyid":77,"f${i}":${i}}`, '', i % 2 ? 'writer' : 'dsWriter'));
    for (const res of await Promise.all(writers)) expect(res.status, res.text).toBe(200);
    const [head] = (await get('id-number/77')).json;
    for (let i = 0; i < 50; i++) expect(head[`f${i}`], `f${i}`).toBe(i);
    const history = (await get('history/77?size=100')).json.changes;
    expect(history.map((c: { seq: number }) => c.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  }, 60_000);
});

describe('points in time', () => {
  /** Writes three states of body 9 (and body 10 in between), answering the times between them. */
  async function threeStates() {
    await ok(write('{"bodyid":9,"status":"Traced"}'));
    await sleep(5);
    const t1 = Date.now() / 1000;
    await sleep(5);
    await ok(write('{"bodyid":9,"status":"Anchor"}'));
    await ok(write('{"bodyid":10,"status":"Orphan"}'));
    await sleep(5);
    const t2 = Date.now() / 1000;
    await sleep(5);
    await ok(svc.request('DELETE', `${BASE}/id-number/9`, { as: 'dsWriter' }));
    return { t1, t2 };
  }

  it('reads id-number, all and query as of a time, an ISO time or a change', async () => {
    const { t1, t2 } = await threeStates();
    expect((await get(`id-number/9,10?as_of=${t1}`)).json).toEqual([{ bodyid: 9, status: 'Traced' }]);
    expect((await get(`id-number/9,10?as_of=${new Date(t2 * 1000).toISOString()}`)).json).toEqual([
      { bodyid: 9, status: 'Anchor' },
      { bodyid: 10, status: 'Orphan' },
    ]);
    expect((await get('id-number/9,10?as_of=9@1')).json).toEqual([{ bodyid: 9, status: 'Traced' }]);
    expect((await get('id-number/9,10')).json).toEqual([{ bodyid: 10, status: 'Orphan' }]);
    expect((await get(`all?as_of=${t1}`)).json).toEqual([{ bodyid: 9, status: 'Traced' }]);
    expect((await get(`all?as_of=${t2}&show=user`)).json).toEqual([
      { bodyid: 9, status: 'Anchor', status_user: USERS.dsWriter.email },
      { bodyid: 10, status: 'Orphan', status_user: USERS.dsWriter.email },
    ]);
    expect((await query('{"status":"re/^(Traced|Anchor)$"}', `?onlyid=true&as_of=${t2}`)).json).toEqual([9]);
    expect((await query('{"bodyid":9}', `?as_of=${t1}`)).json).toEqual([{ bodyid: 9, status: 'Traced' }]);
    expect((await get('all?as_of=0')).json).toEqual([]);
  });

  it('answers changes=true with each body\'s earlier states too, newest first, as of a point if given', async () => {
    const { t2 } = await threeStates();
    expect((await get('id-number/10,9?changes=true')).json).toEqual([
      { bodyid: 10, status: 'Orphan' },
    ]);
    expect((await get(`id-number/9,10?changes=true&as_of=${t2}`)).json).toEqual([
      { bodyid: 9, status: 'Anchor' },
      { bodyid: 9, status: 'Traced' },
      { bodyid: 10, status: 'Orphan' },
    ]);
    expect((await get('id-number/9?changes=false')).json).toEqual([]);
  });

  it('refuses a bad point in time with 400 and a DVID dataset with a clear detail', async () => {
    for (const asOf of ['yesterday', '9@7', 'x@1']) {
      const res = await get(`id-number/9?as_of=${asOf}`);
      expect(res.status, asOf).toBe(400);
      expect(res.json.detail, asOf).toMatch(/not a time|no change/);
    }
    const both = await get('id-number/9?as_of=0&version=v1');
    expect(both.json.detail).toBe('give version or as_of, not both');
    const onDvid = await svc.request('GET', `/v2/json-annotations/${DVID_DS}/neurons/all?as_of=0`, { as: 'writer' });
    expect(onDvid.status).toBe(400);
    expect(onDvid.json.detail).toMatch(/as_of needs a Firestore-native dataset/);
    const history = await svc.request('GET', `/v2/json-annotations/${DVID_DS}/neurons/history/1`, { as: 'writer' });
    expect(history.status).toBe(404);
    expect(history.json.detail).toMatch(/keeps its neuron annotations in DVID/);
    expect(dvid.calls).toEqual([]);
  });

  it('reverts bodies to a time or change as new changes, never erasing history', async () => {
    const { t1 } = await threeStates();
    await ok(write('{"bodyid":10,"status":"Roughly traced","status_user":"someone"}'));
    const before = (await get('history/10')).json.changes.length;
    const res = await svc.request('POST', `${BASE}/revert`, { as: 'writer', body: { bodyids: [9, 10, 10], to: String(t1) } });
    expect(res.json).toEqual({ changes: 2 });
    // 9 comes back exactly, companions included; 10 did not exist then, so it is deleted now.
    expect((await get('id-number/9,10?show=all')).json).toEqual([
      (await get(`id-number/9?show=all&as_of=${t1}`)).json[0],
    ]);
    const history10 = (await get('history/10')).json.changes;
    expect(history10).toHaveLength(before + 1);
    expect(history10.at(-1)).toMatchObject({ op: 'revert', deleted: true, actor: USERS.writer.email });
    expect((await get('history/9')).json.changes.at(-1)).toMatchObject({ op: 'revert', seq: 4 });
    // Back to the state right after change 10@1.
    await ok(svc.request('POST', `${BASE}/revert`, { as: 'writer', body: { bodyids: [10], to: '10@1' } }));
    expect((await get('id-number/10')).json).toEqual([{ bodyid: 10, status: 'Orphan' }]);
  });

  it('refuses a bad revert with 4xx, writing nothing', async () => {
    await ok(write('{"bodyid":9,"status":"Traced"}'));
    const before = await databaseState(svc);
    for (const body of ['{"bodyids":[],"to":"0"}', '{"bodyids":[9]}', '{"bodyids":["9"],"to":"0"}', '{"bodyids":[9],"to":""}']) {
      const res = await svc.request('POST', `${BASE}/revert`, { as: 'writer', rawBody: body });
      expect(res.status, body).toBe(422);
    }
    const res = await svc.request('POST', `${BASE}/revert`, { as: 'writer', body: { bodyids: [9], to: '9@5' } });
    expect(res.status).toBe(400);
    expect(res.json.detail).toBe(`dataset ${DS} has no change 9@5`);
    expect(await databaseState(svc)).toEqual(before);
  });
});

describe('version tags', () => {
  const setTag = (body: unknown, as: Identity = 'admin') => svc.request('POST', `${BASE}/versions`, { as, body });

  it('sets tags and the head tag, filling versions, head_tag, head_uuid, tag_to_uuid and uuid_to_tag; reads at a tag', async () => {
    const first = await setTag({ tag: 'v1.0', head: true });
    expect(first.status, first.text).toBe(200);
    expect(first.json).toMatchObject({ head_tag: 'v1.0', head_uuid: expect.stringMatching(/^[0-9a-f]{32}$/) });
    await ok(write('{"bodyid":9,"status":"Traced"}', '?version=v1.0'));
    await sleep(5);
    await ok(setTag({ tag: 'v1.1', head: true }));
    await ok(write('{"bodyid":9,"status":"Anchor"}'));

    const versions = (await get('versions')).json;
    expect(Object.keys(versions)).toEqual(['v1.0', 'v1.1']);
    expect((await get('head_tag')).json).toBe('v1.1');
    expect((await get('head_uuid')).json).toBe(versions['v1.1']);
    expect((await get('tag_to_uuid/v1.0')).json).toBe(versions['v1.0']);
    expect((await get(`uuid_to_tag/${versions['v1.0'].slice(0, 8)}`)).json).toBe('v1.0');

    expect((await get('id-number/9?version=v1.0')).json).toEqual([{ bodyid: 9, status: 'Traced' }]);
    expect((await get(`id-number/9?version=${versions['v1.0']}`)).json).toEqual([{ bodyid: 9, status: 'Traced' }]);
    expect((await get('id-number/9?version=v1.1')).json).toEqual([{ bodyid: 9, status: 'Anchor' }]);
    expect((await query('{"status":"Traced"}', '?version=v1.0&onlyid=true')).json).toEqual([9]);
    expect((await get('all?version=v1.0')).json).toEqual([{ bodyid: 9, status: 'Traced' }]);

    const locked = await write('{"bodyid":9,"status":"Orphan"}', '?version=v1.0');
    expect(locked.status).toBe(400);
    expect(locked.json.detail).toMatch(/is not HEAD/);
    await ok(write('{"bodyid":9,"status":"Orphan"}', `?version=${versions['v1.1']}`));
  });

  it('fixes a tag at a change, keeps its uuid when set again, and refuses bad tags', async () => {
    await ok(write('{"bodyid":9,"status":"Traced"}'));
    await ok(write('{"bodyid":9,"status":"Anchor"}'));
    const tagged = await setTag({ tag: 'v0.9', at: '9@1' });
    expect(tagged.status, tagged.text).toBe(200);
    expect((await get('id-number/9?version=v0.9')).json).toEqual([{ bodyid: 9, status: 'Traced' }]);
    const again = await setTag({ tag: 'v0.9', at: '9@2' });
    expect(again.json.tag_to_uuid['v0.9']).toBe(tagged.json.tag_to_uuid['v0.9']);
    expect((await get('id-number/9?version=v0.9')).json).toEqual([{ bodyid: 9, status: 'Anchor' }]);
    expect((await get('id-number/9?version=v7')).status).toBe(400);

    const before = await databaseState(svc);
    for (const body of [{ tag: '../x' }, { tag: '' }, { tag: 'v1', at: '0', head: true }, { tag: 'v1', head: 'yes' }]) {
      expect((await setTag(body)).status, JSON.stringify(body)).toBe(422);
    }
    expect((await setTag({ tag: 'v1', at: 'never' })).status).toBe(400);
    const onDvid = await svc.request('POST', `/v2/json-annotations/${DVID_DS}/neurons/versions`, { as: 'admin', body: { tag: 'v1' } });
    expect(onDvid.status).toBe(404);
    expect(await databaseState(svc)).toEqual(before);
  });
});

const lastPlan = () => svc.logs.findLast((line) => line.message === 'neuron query');

describe('queries answered from the index', () => {

  it('reads only the candidates of one field for equality, lists and exists/1, and scans for re/ and exists/0', async () => {
    const rows = [1, 2, 3, 4, 5, 6].map((id) => `{"bodyid":${id},"status":"${id <= 2 ? 'Traced' : 'Anchor'}","type":"T${id % 3}"${id === 6 ? ',"tags":["x","Traced"]' : ''}}`);
    await ok(write(`[${rows.join(',')}]`));
    const cases: [string, number[], number][] = [
      ['{"status":"Traced"}', [1, 2], 2],
      ['{"status":["Traced","Nope"],"type":"T1"}', [1], 2],
      ['{"tags":"Traced"}', [6], 1],
      // Two fields: the candidates of the one with the fewest values, checked against both.
      ['{"status":"Anchor","type":"T0"}', [3, 6], 4],
      ['[{"status":"Traced"},{"type":"T0"}]', [1, 2, 3, 6], 4],
      ['{"tags":"exists/1"}', [6], 1],
      ['{"status":true}', [], 0],
    ];
    for (const [body, ids, examined] of cases) {
      expect((await query(body, '?onlyid=true')).json, body).toEqual(ids);
      expect(lastPlan(), body).toMatchObject({ plan: 'index', bodies_examined: examined, matched: ids.length });
    }
    // The index follows writes and deletes.
    await ok(write('{"bodyid":3,"status":"Traced"}'));
    await ok(svc.request('DELETE', `${BASE}/id-number/1`, { as: 'dsWriter' }));
    expect((await query('{"status":"Traced"}', '?onlyid=true')).json).toEqual([2, 3]);
    expect(lastPlan()).toMatchObject({ plan: 'index', bodies_examined: 2 });
    // No index serves these: the first reads every live body (and leaves this instance a copy of HEAD), the next reads the copy.
    expect((await query('{"status":"re/^Tr"}', '?onlyid=true')).json).toEqual([2, 3]);
    expect(lastPlan()).toMatchObject({ plan: 'scan', bodies_examined: 5, matched: 2 });
    expect((await query('{"tags":"exists/0"}', '?onlyid=true')).json).toEqual([2, 3, 4, 5]);
    expect(lastPlan()).toMatchObject({ plan: 'cache', matched: 4 });
  });

  it('answers ORed objects with more values than one Firestore query takes, in id order, from the index', async () => {
    await ok(write(`[${[35, 3, 34, 1, 2, ...Array.from({ length: 30 }, (_, i) => i + 4)].map((id) => `{"bodyid":${id},"n":${id}}`).join(',')}]`));
    const wanted = Array.from({ length: 31 }, (_, i) => 31 - i);
    const body = JSON.stringify(wanted.map((n) => ({ n })));
    expect((await query(body, '?onlyid=true')).json).toEqual([...wanted].reverse());
    expect(lastPlan()).toMatchObject({ plan: 'index', bodies_examined: 31, matched: 31 });
    const page = (await query(body, '?onlyid=true&size=30')).json;
    expect(page.items).toEqual(wanted.slice(1).reverse());
    expect((await query(body, `?onlyid=true&size=30&cursor=${page.next_cursor}`)).json).toEqual({ items: [31], next_cursor: null });
  });
});

describe('paging', () => {
  it('pages all and query in body-id order with opaque cursors; without size the shape is unchanged', async () => {
    await ok(write(`[${[5, 1, 4, 2, 3].map((id) => `{"bodyid":${id},"odd":${id % 2}}`).join(',')}]`));
    const page1 = (await get('all?size=2')).json;
    expect(page1.items).toEqual([
      { bodyid: 1, odd: 1 },
      { bodyid: 2, odd: 0 },
    ]);
    // A write behind the cursor and one ahead of it, between pages: no body skipped or repeated.
    await ok(write('[{"bodyid":1,"odd":7},{"bodyid":3,"odd":9}]'));
    const page2 = (await get(`all?size=2&cursor=${page1.next_cursor}`)).json;
    expect(page2.items).toEqual([
      { bodyid: 3, odd: 9 },
      { bodyid: 4, odd: 0 },
    ]);
    const page3 = (await get(`all?size=2&cursor=${page2.next_cursor}`)).json;
    expect(page3).toEqual({ items: [{ bodyid: 5, odd: 1 }], next_cursor: null });

    const q1 = (await query('{"odd":0}', '?size=1&onlyid=true')).json;
    expect(q1.items).toEqual([2]);
    const q2 = (await query('{"odd":0}', `?size=1&onlyid=true&cursor=${q1.next_cursor}`)).json;
    expect(q2).toEqual({ items: [4], next_cursor: null });
    expect(Array.isArray((await get('all')).json)).toBe(true);
  });

  it('streams in queries that follow on without a gap or a repeat, also around writes between them', async () => {
    // The service's own client, as the store reads with it; Google's client clears the collection.
    const collection = svc.ctx.db().collection('native-chunks-test');
    await svc.db.recursiveDelete(svc.db.collection('native-chunks-test'));
    const ids = Array.from({ length: 10 }, (_, i) => String(i).padStart(3, '0'));
    await Promise.all(ids.map((id) => collection.doc(id).set({ n: Number(id) })));
    // A stream that may stay open for 0 ms: each document is read by a query of its own.
    const read: string[] = [];
    for await (const doc of inIdOrder(collection, undefined, undefined, 0)) {
      read.push(doc.id);
      // Behind the reader and ahead of it, between two of its queries.
      if (doc.id === '004') await Promise.all([collection.doc('001a').set({ n: -1 }), collection.doc('008a').set({ n: -1 })]);
    }
    expect(read).toEqual([...ids.slice(0, 9), '008a', '009']);
    const after: string[] = [];
    for await (const doc of inIdOrder(collection, '006', undefined, 0)) after.push(doc.id);
    expect(after).toEqual(['007', '008', '008a', '009']);
    const paged: string[] = [];
    for await (const doc of inIdOrder(collection, undefined, 4)) paged.push(doc.id);
    expect(paged).toEqual([...ids, '001a', '008a'].sort());
    await svc.db.recursiveDelete(svc.db.collection('native-chunks-test'));
  });

  it('pages a scan whose matches are sparse, reading on until a page is full', async () => {
    await ok(write(`[${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((id) => `{"bodyid":${id},"kind":"${id >= 8 ? 'rare' : 'common'}"}`).join(',')}]`));
    const first = (await query('{"kind":"re/^rare$"}', '?size=1&onlyid=true')).json;
    expect(first.items).toEqual([8]);
    expect(lastPlan()).toMatchObject({ plan: 'scan', matched: 2 });
    expect((await query('{"kind":"re/^rare$"}', `?size=1&onlyid=true&cursor=${first.next_cursor}`)).json).toEqual({ items: [9], next_cursor: null });
    const listed = (await get('all?size=1&fields=kind')).json;
    expect(listed.items).toEqual([{ bodyid: 1, kind: 'common' }]);
  });

  it('refuses a bad cursor or size', async () => {
    const bad = await get('all?size=2&cursor=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toBe('cursor is not one this service handed out');
    for (const size of ['0', '-1', 'x', '10001']) expect((await get(`all?size=${size}`)).status, size).toBe(422);
  });
});

describe('bad input on a native dataset', () => {
  it('refuses malformed writes and queries, writing nothing', async () => {
    await ok(write('{"bodyid":9,"status":"Traced"}'));
    const before = await databaseState(svc);
    for (const body of ['{"status":"x"}', '{"bodyid":"9"}', '[{"bodyid":1},{"bodyid":-1}]', '{"bodyid":1,']) {
      expect((await write(body)).status, body).toBe(422);
    }
    expect((await query('{"a":[1,"x"]}')).status).toBe(400);
    const regex = await query('{"a":"re/("}');
    expect(regex.status).toBe(400);
    expect(regex.json.detail).toMatch(/regular expression of field a/);
    expect((await query('42')).status).toBe(422);
    expect(await databaseState(svc)).toEqual(before);
    expect(parseJson((await get('id-number/9')).text)).toEqual([{ bodyid: 9, status: 'Traced' }]);
  });
});
