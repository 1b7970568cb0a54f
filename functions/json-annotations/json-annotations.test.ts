import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { MAX_DECLARED_LENGTH } from '../../shared/http/handler';
import { parseJson } from '../../shared/json';
import { rawGet } from '../../shared/testing/raw-get';
import { DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';
import { freePort } from '../../emulator/firestore-emulator';
import { type Annotation, DvidTestServer } from './dvid-test-server';

const READ_TIMEOUT_MS = 1500;
const U64_MAX = '18446744073709551615';
/** 2^54 + 1: a JS number would round it to 18014398509481984. */
const BEYOND_2_53 = '18014398509481985';
const NO_DVID = 'no-dvid-ds';
const NO_UUID = 'no-uuid-ds';
const DOWN = 'down-ds';
const BASE = `/v2/json-annotations/${DS}/neurons`;
const PUBLIC_BASE = `/v2/json-annotations/${PUBLIC_DS}/neurons`;

let svc: TestService;
let dvid: DvidTestServer;
let closedPort: number;

beforeAll(async () => {
  dvid = await DvidTestServer.start();
  closedPort = await freePort();
  svc = await startTestService({ DVID_READ_TIMEOUT_MS: String(READ_TIMEOUT_MS), DVID_CONNECT_TIMEOUT_MS: '1000' });
  // Written once: the metadata document is cached for 120 s per instance (see the cache test).
  await svc.db
    .collection(COLLECTIONS.annotationsGlobal)
    .doc('metadata')
    .set({
      neurons: {
        [DS]: {
          tag_to_uuid: { 'v1.0': 'u0', 'v1.2': 'u1' },
          uuid_to_tag: { u0abc: 'v1.0', u1def: 'v1.2', u1dxx: 'v1.1' },
          head_tag: 'v1.2',
          head_uuid: 'u1',
        },
      },
    });
});
afterAll(async () => {
  await svc.close();
  await dvid.close();
});
beforeEach(async () => {
  await seedStandardData(svc.db);
  const datasets = svc.db.collection(COLLECTIONS.datasets);
  await Promise.all([
    datasets.doc(DS).set({ dvid: `${dvid.url}/` }, { merge: true }),
    datasets.doc(PUBLIC_DS).set({ dvid: dvid.url, uuid: 'pub' }, { merge: true }),
    datasets.doc(NO_DVID).set({ description: 'no dvid', uuid: 'u1' }),
    datasets.doc(NO_UUID).set({ description: 'no uuid', dvid: dvid.url, uuid: '' }),
    datasets.doc(DOWN).set({ description: 'dvid down', dvid: `http://127.0.0.1:${closedPort}`, uuid: 'u1' }),
  ]);
  await svc.ctx.datasets.refresh();
  for (const uuid of ['u1', 'pub']) dvid.addNode(uuid);
  dvid.addNode('u0', { locked: true });
  dvid.calls.length = 0;
  dvid.fault = undefined;
});

/** Seeds annotations written as JSON text, so that ids beyond 2^53 are exact. */
function seed(uuid: string, ...texts: string[]): void {
  dvid.seed(uuid, texts.map((text) => parseJson(text) as Annotation));
}

const storedText = (uuid: string, id: string) => JSON.stringify(dvid.stored(uuid).get(id), (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));

describe('who may do what', () => {
  const endpoints: { method: string; path: string; body?: string; write?: boolean }[] = [
    { method: 'GET', path: `${BASE}/fields` },
    { method: 'GET', path: `${BASE}/versions` },
    { method: 'GET', path: `${BASE}/head_tag` },
    { method: 'GET', path: `${BASE}/head_uuid` },
    { method: 'GET', path: `${BASE}/tag_to_uuid/v1.0` },
    { method: 'GET', path: `${BASE}/uuid_to_tag/u0` },
    { method: 'GET', path: `${BASE}/all` },
    { method: 'GET', path: `${BASE}/id-number/1,2` },
    { method: 'POST', path: `${BASE}/query`, body: '{"status":"Traced"}' },
    { method: 'POST', path: BASE, body: '{"bodyid":5,"status":"Traced"}', write: true },
    { method: 'PUT', path: BASE, body: '[{"bodyid":5,"status":"Traced"}]', write: true },
    { method: 'DELETE', path: `${BASE}/id-number/5`, write: true },
  ];
  const readers: Identity[] = ['reader', 'dsGeneral', 'dsWriter', 'general', 'writer'];
  const writers: Identity[] = ['dsWriter', 'writer'];
  const everyone = Object.keys(USERS).filter((who) => who !== 'disabled') as Identity[];

  it.each(endpoints)('$method $path answers exactly the identities it should', async ({ method, path, body, write }) => {
    for (const as of everyone) {
      dvid.calls.length = 0;
      const allowed = (write ? writers : readers).includes(as);
      const res = await svc.request(method, path, { as, rawBody: body });
      expect(res.status, `${as}: ${res.text}`).toBe(allowed ? 200 : 401);
      if (!allowed) {
        expect(res.json.detail).toMatch(write ? /clio_write/ : /permission to read/);
        expect(dvid.calls, as).toEqual([]);
      }
    }
    const anonymous = await svc.request(method, path, { rawBody: body });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect((await svc.request(method, path, { as: 'disabled', rawBody: body })).status).toBe(403);
  });

  it('lets every signed-in user read a public dataset but only clio_write holders change it', async () => {
    seed('pub', '{"bodyid":7,"status":"Traced"}');
    for (const as of ['unknown', 'admin', 'reader'] as Identity[]) {
      const res = await svc.request('GET', `${PUBLIC_BASE}/all`, { as });
      expect(res.status, as).toBe(200);
      expect(res.json).toEqual([{ bodyid: 7, status: 'Traced' }]);
    }
    const body = '{"bodyid":7,"status":"Orphan"}';
    expect((await svc.request('POST', PUBLIC_BASE, { as: 'unknown', rawBody: body })).status).toBe(401);
    // clio_write on another dataset does not count.
    expect((await svc.request('POST', PUBLIC_BASE, { as: 'dsWriter', rawBody: body })).status).toBe(401);
    expect(dvid.stored('pub').get('7')?.status).toBe('Traced');
    expect((await svc.request('POST', PUBLIC_BASE, { as: 'writer', rawBody: body })).status).toBe(200);
    expect(dvid.stored('pub').get('7')?.status).toBe('Orphan');
  });
});

describe('version metadata', () => {
  it('answers the versions, head tag and head uuid of the metadata document', async () => {
    expect((await svc.request('GET', `${BASE}/versions`, { as: 'reader' })).json).toEqual({ 'v1.0': 'u0', 'v1.2': 'u1' });
    const tag = await svc.request('GET', `${BASE}/head_tag`, { as: 'reader' });
    expect(tag.text).toBe('"v1.2"');
    expect(tag.headers.get('content-type')).toMatch(/application\/json/);
    expect((await svc.request('GET', `${BASE}/head_uuid`, { as: 'reader' })).text).toBe('"u1"');
    expect((await svc.request('GET', `${BASE}/tag_to_uuid/v1.0`, { as: 'reader' })).text).toBe('"u0"');
  });

  it('is 404 for a dataset without metadata and for an unknown tag', async () => {
    for (const path of ['versions', 'head_tag', 'head_uuid', 'tag_to_uuid/v1.0', 'uuid_to_tag/u0']) {
      const res = await svc.request('GET', `${PUBLIC_BASE}/${path}`, { as: 'unknown' });
      expect(res.status, path).toBe(404);
      expect(res.json.detail, path).toMatch(/not found|no versions/);
    }
    expect((await svc.request('GET', `${BASE}/tag_to_uuid/v9.9`, { as: 'reader' })).status).toBe(404);
  });

  it('matches uuids by prefix in both directions and refuses ambiguous ones', async () => {
    const tagOf = (uuid: string) => svc.request('GET', `${BASE}/uuid_to_tag/${uuid}`, { as: 'reader' });
    expect((await tagOf('u0')).json).toBe('v1.0');
    expect((await tagOf('u0abc0123456789')).json).toBe('v1.0');
    expect((await tagOf('u1de')).json).toBe('v1.2');
    const ambiguous = await tagOf('u1d');
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.json.detail).toMatch(/u1def.*u1dxx|u1dxx.*u1def/);
    expect((await tagOf('zz')).status).toBe(404);
  });

  it('keeps the metadata document for 120 s', async () => {
    const headTag = () => svc.request('GET', `/v2/json-annotations/${NO_DVID}/neurons/head_tag`, { as: 'writer' });
    expect((await headTag()).status).toBe(404);
    await svc.db
      .collection(COLLECTIONS.annotationsGlobal)
      .doc('metadata')
      .set({ neurons: { [NO_DVID]: { head_tag: 'v3.0' } } }, { merge: true });
    expect((await headTag()).status).toBe(404);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 121_000);
      expect((await headTag()).json).toBe('v3.0');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('GET all and fields', () => {
  beforeEach(() => {
    seed(
      'u1',
      `{"bodyid":${U64_MAX},"status":"Traced","status_user":"a@x.org","status_time":"2025-01-01T00:00:00Z","partner":${BEYOND_2_53}}`,
      '{"bodyid":12,"type":"LC4","type_user":"b@x.org","position":[1.5,2,3]}',
    );
  });

  it('streams every annotation from HEAD with uint64 ids byte-identical', async () => {
    const res = await svc.request('GET', `${BASE}/all`, { as: 'reader' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.text).toBe(`[{"bodyid":12,"type":"LC4","position":[1.5,2,3]},{"bodyid":${U64_MAX},"status":"Traced","partner":${BEYOND_2_53}}]`);
    expect(dvid.calls).toMatchObject([{ method: 'GET', uuid: 'u1', endpoint: 'all', query: {} }]);
  });

  it('forwards show=user|time|all, treats show=none as absent and ignores unknown parameters', async () => {
    const user = await svc.request('GET', `${BASE}/all?show=user`, { as: 'reader' });
    expect(user.json[0]).toEqual({ bodyid: 12, type: 'LC4', type_user: 'b@x.org', position: [1.5, 2, 3] });
    expect(user.text).toContain('"status_user":"a@x.org"');
    expect(user.text).not.toContain('status_time');
    const time = await svc.request('GET', `${BASE}/all?show=time`, { as: 'reader' });
    expect(time.text).toContain('"status_time":"2025-01-01T00:00:00Z"');
    expect(time.text).not.toContain('_user');
    const all = await svc.request('GET', `${BASE}/all?show=all`, { as: 'reader' });
    expect(all.text).toContain('"status_user":"a@x.org","status_time":"2025-01-01T00:00:00Z"');
    dvid.calls.length = 0;
    const none = await svc.request('GET', `${BASE}/all/?show=none&app=natverse&changes=false&id_field=bodyid&cursor=5&size=10`, { as: 'reader' });
    expect(none.status).toBe(200);
    expect(none.text).not.toContain('_user');
    expect(dvid.calls[0].query).toEqual({});
  });

  it('rejects an unknown show value with 422 and asks DVID nothing', async () => {
    const res = await svc.request('GET', `${BASE}/all?show=everything`, { as: 'reader' });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(['query', 'show']);
    expect(dvid.calls).toEqual([]);
  });

  it('lists the field names DVID reports', async () => {
    const res = await svc.request('GET', `${BASE}/fields?app=clio-py`, { as: 'reader' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(['bodyid', 'partner', 'position', 'status', 'type']);
  });

  it('is only mounted under /v2', async () => {
    expect((await svc.request('GET', `/test/json-annotations/${DS}/neurons/all`, { as: 'reader' })).status).toBe(404);
  });

  it('reaches the client incrementally through the local server, as through the load balancer: first bytes before DVID has finished', async () => {
    let release!: () => void;
    dvid.fault = { kind: 'hold', afterBytes: 20, until: new Promise<void>((done) => (release = done)) };
    const res = await fetch(`${svc.url}${BASE}/all`, { headers: { authorization: `Bearer ${svc.tokenFor(USERS.reader.email)}` } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let first = '';
    while (first.length < 20) first += Buffer.from((await reader.read()).value!).toString();
    // DVID is still holding the rest: these bytes can only have come through as a stream.
    expect(first).toBe('[{"bodyid":12,"type"');
    release();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString();
    expect(JSON.parse(`[{"bodyid":12,"type"${rest}`)).toHaveLength(2);
  });

  it('sends an answer over 32 MiB chunked, never with a Content-Length', async () => {
    const field = 'x'.repeat(1 << 20);
    seed('u1', ...Array.from({ length: 34 }, (_, i) => `{"bodyid":${i + 100},"notes":"${field}"}`));
    const res = await rawGet(svc.url, `${BASE}/all`, { authorization: `Bearer ${svc.tokenFor(USERS.reader.email)}` });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body.length).toBeGreaterThan(MAX_DECLARED_LENGTH);
    // The 34 seeded here and the two every test of this group starts with.
    expect(JSON.parse(res.body.toString())).toHaveLength(36);
  });
});

describe('GET id-number', () => {
  beforeEach(() => {
    seed('u1', `{"bodyid":${U64_MAX},"status":"Traced","status_user":"a@x.org"}`, `{"bodyid":${BEYOND_2_53},"status":"Orphan"}`, '{"bodyid":3,"status":"Anchor"}');
    seed('u0', '{"bodyid":3,"status":"Old"}');
  });

  it('answers an array in request order, leaving out ids without annotations, ids exact', async () => {
    const res = await svc.request('GET', `${BASE}/id-number/3,${U64_MAX},999,${BEYOND_2_53},3`, { as: 'reader' });
    expect(res.status).toBe(200);
    expect(res.text).toBe(`[{"bodyid":3,"status":"Anchor"},{"bodyid":${U64_MAX},"status":"Traced"},{"bodyid":${BEYOND_2_53},"status":"Orphan"}]`);
    expect(dvid.calls).toMatchObject([
      { method: 'GET', uuid: 'u1', endpoint: 'keyvalues', query: { json: 'true' }, body: `[3,${U64_MAX},999,${BEYOND_2_53}]` },
    ]);
  });

  it('answers an array for a single id, and an empty one for an id without annotation', async () => {
    expect((await svc.request('GET', `${BASE}/id-number/${BEYOND_2_53}`, { as: 'reader' })).text).toBe(`[{"bodyid":${BEYOND_2_53},"status":"Orphan"}]`);
    expect((await svc.request('GET', `${BASE}/id-number/404`, { as: 'reader' })).json).toEqual([]);
  });

  it('reads the version a tag or uuid names, with the companions show asks for', async () => {
    expect((await svc.request('GET', `${BASE}/id-number/3?version=v1.0`, { as: 'reader' })).json).toEqual([{ bodyid: 3, status: 'Old' }]);
    expect((await svc.request('GET', `${BASE}/id-number/3?version=u0`, { as: 'reader' })).json).toEqual([{ bodyid: 3, status: 'Old' }]);
    expect((await svc.request('GET', `${BASE}/id-number/3?version=v1.2`, { as: 'reader' })).json).toEqual([{ bodyid: 3, status: 'Anchor' }]);
    const shown = await svc.request('GET', `${BASE}/id-number/${U64_MAX}?show=user&changes=false&id_field=bodyid`, { as: 'reader' });
    expect(shown.text).toBe(`[{"bodyid":${U64_MAX},"status":"Traced","status_user":"a@x.org"}]`);
    expect(dvid.calls.map((call) => call.uuid)).toEqual(['u0', 'u0', 'u1', 'u1']);
  });

  it('refuses an unknown tag with 400 and malformed ids with 422, asking DVID nothing', async () => {
    const unknown = await svc.request('GET', `${BASE}/id-number/3?version=v7.7`, { as: 'reader' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.detail).toMatch(/v7\.7 is not a known tag/);
    for (const ids of ['abc', '1,x', '-1', '1.5', '18446744073709551616', '1,,2']) {
      const res = await svc.request('GET', `${BASE}/id-number/${ids}`, { as: 'reader' });
      expect(res.status, ids).toBe(422);
      expect(res.json.detail[0].loc.slice(0, 2), ids).toEqual(['path', 'ids']);
    }
    const badVersion = await svc.request('GET', `${BASE}/id-number/3?version=../../x`, { as: 'reader' });
    expect(badVersion.status).toBe(422);
    expect(dvid.calls).toEqual([]);
  });
});

describe('DELETE id-number', () => {
  it('deletes the annotation at HEAD, naming the caller to DVID', async () => {
    seed('u1', `{"bodyid":${U64_MAX},"status":"Traced"}`, '{"bodyid":4,"status":"Anchor"}');
    const res = await svc.request('DELETE', `${BASE}/id-number/${U64_MAX}`, { as: 'dsWriter' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('null');
    expect([...dvid.stored('u1').keys()]).toEqual(['4']);
    expect(dvid.calls).toMatchObject([{ method: 'DELETE', endpoint: `key/${U64_MAX}`, query: { u: USERS.dsWriter.email } }]);
    expect(svc.logs.some((line) => line.message === 'neuron annotation deleted' && line.caller === USERS.dsWriter.email)).toBe(true);
  });

  it('refuses a malformed id with 422', async () => {
    for (const id of ['x', '1,2']) expect((await svc.request('DELETE', `${BASE}/id-number/${id}`, { as: 'writer' })).status, id).toBe(422);
    expect(dvid.calls).toEqual([]);
  });
});

describe('POST query', () => {
  beforeEach(() => {
    seed(
      'u1',
      `{"bodyid":${U64_MAX},"status":"Traced","type":"LC4","tags":["a","b"],"status_user":"a@x.org"}`,
      `{"bodyid":${BEYOND_2_53},"status":"Orphan","type":"LC10","weight":5}`,
      '{"bodyid":3,"status":"Traced","type":"MBON01","weight":5.0}',
      '{"bodyid":4,"type":"LC4a"}',
    );
  });
  const query = (body: string, params = '') => svc.request('POST', `${BASE}/query${params}`, { as: 'reader', rawBody: body });
  const ids = (res: { json: { bodyid: number }[] }) => res.json.map((a) => a.bodyid);

  it('ANDs the fields of an object and passes uint64 ids through exactly', async () => {
    const res = await query(`{"status":"Traced","bodyid":[${U64_MAX},3,4]}`);
    expect(res.status).toBe(200);
    expect(res.text).toBe(`[{"bodyid":3,"status":"Traced","type":"MBON01","weight":5},{"bodyid":${U64_MAX},"status":"Traced","type":"LC4","tags":["a","b"]}]`);
    expect(dvid.calls).toMatchObject([{ method: 'POST', endpoint: 'query', body: `{"status":"Traced","bodyid":[${U64_MAX},3,4]}` }]);
  });

  it('ORs an array of objects, without duplicates, sorted by body id', async () => {
    expect(ids(await query('[{"type":"LC4"},{"status":"Traced"},{"bodyid":4}]'))).toEqual([3, 4, Number(U64_MAX)]);
  });

  it('supports re/ prefixes, exists/0|1, list fields and numbers across int and float', async () => {
    expect(ids(await query('{"type":"re/LC"}'))).toEqual([4, Number(BEYOND_2_53), Number(U64_MAX)]);
    // DVID searches, unanchored (reference/neuronjson.md §1.5); `^` anchors.
    expect(ids(await query('{"type":"re/C4"}'))).toEqual([4, Number(U64_MAX)]);
    expect(ids(await query('{"type":"re/^C4"}'))).toEqual([]);
    expect(ids(await query('{"status":"exists/0"}'))).toEqual([4]);
    expect(ids(await query('{"weight":"exists/1"}'))).toEqual([3, Number(BEYOND_2_53)]);
    expect(ids(await query('{"tags":"b"}'))).toEqual([Number(U64_MAX)]);
    expect(ids(await query('{"weight":5.0}'))).toEqual([3, Number(BEYOND_2_53)]);
    expect(ids(await query(`{"bodyid":${BEYOND_2_53}}`))).toEqual([Number(BEYOND_2_53)]);
  });

  it('answers only ids with onlyid=true and companions with show', async () => {
    const only = await query('{"status":"Traced"}', '?onlyid=true&app=clio-py');
    expect(only.text).toBe(`[3,${U64_MAX}]`);
    expect(dvid.calls[0].query).toEqual({ onlyid: 'true' });
    const shown = await query(`{"bodyid":${U64_MAX}}`, '?show=all');
    expect(shown.text).toContain('"status_user":"a@x.org"');
  });

  it('passes DVID refusing a query on a locked version through with its text', async () => {
    const res = await query('{"status":"Traced"}', '?version=v1.0');
    expect(res.status).toBe(400);
    expect(res.json.detail).toBe('node u0 is locked: no writes or queries allowed');
  });

  it('refuses malformed JSON and non-object queries with 422, asking DVID nothing', async () => {
    for (const body of ['{"status":', '42', '["a"]', '']) {
      const res = await query(body);
      expect(res.status, body).toBe(422);
      expect(res.json.detail[0].loc[0], body).toBe('body');
    }
    expect((await query('{}', '?onlyid=perhaps')).status).toBe(422);
    expect(dvid.calls).toEqual([]);
  });
});

describe('POST and PUT neurons', () => {
  const write = (body: string, params = '', as: Identity = 'dsWriter', method = 'POST') =>
    svc.request(method, `${BASE}${params}`, { as, rawBody: body, contentType: null });

  it('merges into the stored annotation and records the caller as editor', async () => {
    seed('u1', '{"bodyid":10,"status":"Traced","type":"LC4","type_user":"old@x.org"}');
    const res = await write('{"bodyid":10,"status":"Orphan","notes":"split"}');
    expect(res.status).toBe(200);
    expect(res.text).toBe('null');
    const stored = dvid.stored('u1').get('10')!;
    expect(stored).toMatchObject({ bodyid: 10, status: 'Orphan', notes: 'split', type: 'LC4', type_user: 'old@x.org' });
    expect(stored.status_user).toBe(USERS.dsWriter.email);
    expect(stored.notes_time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(dvid.calls).toMatchObject([{ method: 'POST', uuid: 'u1', endpoint: 'key/10', query: { u: USERS.dsWriter.email } }]);
  });

  it('replaces with replace=true and clears a field posted as null', async () => {
    seed('u1', '{"bodyid":10,"status":"Traced","type":"LC4","notes":"x"}');
    await write('{"bodyid":10,"notes":null}');
    // As DVID does, deleting a field records who deleted it and when.
    expect(dvid.stored('u1').get('10')).toEqual({
      bodyid: 10,
      status: 'Traced',
      type: 'LC4',
      notes_user: USERS.dsWriter.email,
      notes_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    await write('{"bodyid":10,"status":"Anchor"}', '?replace=true');
    expect(dvid.stored('u1').get('10')).toMatchObject({ bodyid: 10, status: 'Anchor' });
    expect(dvid.stored('u1').get('10')).not.toHaveProperty('type');
    expect(dvid.calls[1].query).toEqual({ u: USERS.dsWriter.email, replace: 'true' });
  });

  it('sends conditional as both conditional and conditionals, protecting fields that hold a value', async () => {
    seed('u1', '{"bodyid":10,"status":"Traced","type":""}');
    await write('{"bodyid":10,"status":"Orphan","type":"LC4","group":7}', '?conditional=status,type');
    expect(dvid.calls[0].query).toEqual({ u: USERS.dsWriter.email, conditional: 'status,type', conditionals: 'status,type' });
    expect(dvid.stored('u1').get('10')).toMatchObject({ status: 'Traced', type: 'LC4', group: 7 });
  });

  it('attributes edits to designated_user and logs the real caller', async () => {
    await write('{"bodyid":11,"status":"Traced"}', '?designated_user=proofreader@x.org', 'writer');
    expect(dvid.stored('u1').get('11')?.status_user).toBe('proofreader@x.org');
    expect(dvid.calls[0].query.u).toBe('proofreader@x.org');
    const line = svc.logs.findLast((entry) => entry.message === 'writing neuron annotations');
    expect(line).toMatchObject({ caller: USERS.writer.email, editor: 'proofreader@x.org', dataset: DS, count: 1 });
  });

  it('writes every object of an array, in order, with ids beyond 2^53 exact, by POST and PUT', async () => {
    const body = `[{"bodyid":${U64_MAX},"status":"Traced"},{"bodyid":${BEYOND_2_53},"status":"Orphan"}]`;
    for (const method of ['POST', 'PUT']) {
      dvid.calls.length = 0;
      expect((await write(body, '', 'dsWriter', method)).status, method).toBe(200);
      expect(dvid.calls.map((call) => call.endpoint)).toEqual([`key/${U64_MAX}`, `key/${BEYOND_2_53}`]);
      expect(dvid.calls[0].body).toBe(`{"bodyid":${U64_MAX},"status":"Traced"}`);
    }
    expect(storedText('u1', U64_MAX)).toContain(`"bodyid":"${U64_MAX}n"`);
    const back = await svc.request('GET', `${BASE}/all`, { as: 'reader' });
    expect(back.text).toBe(`[{"bodyid":${BEYOND_2_53},"status":"Orphan"},{"bodyid":${U64_MAX},"status":"Traced"}]`);
  });

  it('writes to the version named by a tag, and passes DVID refusing a locked one through', async () => {
    dvid.addNode('u0');
    expect((await write('{"bodyid":12,"status":"Traced"}', '?version=v1.0')).status).toBe(200);
    expect(dvid.stored('u0').has('12')).toBe(true);
    expect(dvid.stored('u1').has('12')).toBe(false);
    dvid.addNode('u0', { locked: true });
    const locked = await write('{"bodyid":12,"status":"Traced"}', '?version=v1.0');
    expect(locked.status).toBe(400);
    expect(locked.json.detail).toMatch(/locked/);
  });

  it('checks every object before sending any: a missing or malformed bodyid is 422 and nothing is written', async () => {
    const bodies = [
      '[{"bodyid":1,"status":"Traced"},{"status":"Orphan"}]',
      '{"status":"Orphan"}',
      '[{"bodyid":1},{"bodyid":"2"}]',
      '[{"bodyid":1},{"bodyid":-2}]',
      '[{"bodyid":1},{"bodyid":1.5}]',
      '{"bodyid":18446744073709551616}',
      '[{"bodyid":1},7]',
      '{"bodyid":1,',
      '"text"',
      '',
    ];
    for (const body of bodies) {
      const res = await write(body);
      expect(res.status, body).toBe(422);
      expect(res.json.detail[0].loc[0], body).toBe('body');
    }
    const missing = await write('[{"bodyid":1},{"status":"Orphan"}]');
    expect(missing.json.detail).toEqual([{ loc: ['body', 1, 'bodyid'], msg: 'field required', type: 'value_error.missing' }]);
    expect((await write('{"bodyid":1}', '?replace=maybe')).status).toBe(422);
    expect(dvid.calls).toEqual([]);
    expect(dvid.stored('u1').size).toBe(0);
  });

  it('stops at the first DVID failure and answers it', async () => {
    dvid.fault = { kind: 'respond', status: 400, text: 'no space left for you' };
    const res = await write('[{"bodyid":1},{"bodyid":2}]');
    expect(res.status).toBe(400);
    expect(res.json.detail).toBe('no space left for you');
    expect(dvid.calls).toHaveLength(1);
  });
});

describe('when the dataset or DVID is not usable', () => {
  it('is 404 for an unknown dataset, one without dvid and one without a HEAD uuid', async () => {
    const unknown = await svc.request('GET', '/v2/json-annotations/nope/neurons/all', { as: 'writer' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.detail).toBe('dataset nope not found');
    const noDvid = await svc.request('GET', `/v2/json-annotations/${NO_DVID}/neurons/all`, { as: 'writer' });
    expect(noDvid.status).toBe(404);
    expect(noDvid.json.detail).toMatch(/no DVID server/);
    const noUuid = await svc.request('GET', `/v2/json-annotations/${NO_UUID}/neurons/id-number/1`, { as: 'writer' });
    expect(noUuid.status).toBe(404);
    expect(noUuid.json.detail).toMatch(/no HEAD uuid; pass version=/);
    // With an explicit version the HEAD uuid is not needed.
    expect((await svc.request('GET', `/v2/json-annotations/${NO_UUID}/neurons/id-number/1?version=pub`, { as: 'writer' })).json).toEqual([]);
    expect(dvid.calls.map((call) => call.uuid)).toEqual(['pub']);
  });

  it('is 502 when DVID cannot be reached', async () => {
    const res = await svc.request('GET', `/v2/json-annotations/${DOWN}/neurons/all`, { as: 'writer' });
    expect(res.status).toBe(502);
    expect(res.json.detail).toMatch(/^DVID at http:\/\/127\.0\.0\.1:\d+ could not be reached \(ECONNREFUSED/);
    expect(res.json.error_id).toEqual(expect.any(String));
  });

  it('is 504 when DVID does not answer within the read timeout', async () => {
    dvid.fault = { kind: 'delay', ms: READ_TIMEOUT_MS * 3 };
    const started = Date.now();
    const res = await svc.request('GET', `${BASE}/id-number/1`, { as: 'reader' });
    expect(res.status).toBe(504);
    expect(res.json.detail).toMatch(new RegExp(`did not answer within ${READ_TIMEOUT_MS} ms`));
    expect(Date.now() - started).toBeLessThan(READ_TIMEOUT_MS * 3);
  });

  it('maps DVID 5xx to 502 (503 and 504 kept) and passes 4xx through with their text', async () => {
    const cases: [number, number, RegExp][] = [
      [500, 502, /^DVID answered 500 to GET \/api\/node\/u1\/segmentation_annotations\/all: disk on fire$/],
      [503, 503, /^DVID answered 503/],
      [404, 404, /^disk on fire$/],
    ];
    for (const [dvidStatus, status, detail] of cases) {
      dvid.fault = { kind: 'respond', status: dvidStatus, text: 'disk on fire' };
      const res = await svc.request('GET', `${BASE}/all`, { as: 'reader' });
      expect(res.status, String(dvidStatus)).toBe(status);
      expect(res.json.detail, String(dvidStatus)).toMatch(detail);
    }
    dvid.fault = { kind: 'respond', status: 500, text: 'bad' };
    expect((await svc.request('GET', `${BASE}/id-number/1`, { as: 'reader' })).status).toBe(502);
    expect((await svc.request('DELETE', `${BASE}/id-number/1`, { as: 'writer' })).status).toBe(502);
  });

  it('is 502 when DVID answers keyvalues with something that is not a JSON object', async () => {
    for (const payload of ['[]', '{"a":']) {
      dvid.fault = { kind: 'respond', status: 200, text: payload };
      const res = await svc.request('GET', `${BASE}/id-number/1`, { as: 'reader' });
      expect(res.status, payload).toBe(502);
      expect(res.json.detail, payload).toMatch(/keyvalues/);
    }
  });

  it('breaks the response visibly when the DVID stream breaks or stalls after the headers', async () => {
    seed('u1', ...Array.from({ length: 50 }, (_, i) => `{"bodyid":${i + 1},"notes":"${'n'.repeat(100)}"}`));
    for (const kind of ['break', 'stall'] as const) {
      dvid.fault = { kind, afterBytes: 1000 };
      await expect(svc.request('GET', `${BASE}/all`, { as: 'reader' }), kind).rejects.toThrow();
    }
    expect(svc.logs.filter((line) => line.message === 'response failed after headers were sent')).toHaveLength(2);
  });
});
