/**
 * DVID's neuronjson test vectors (reference/neuronjson.md §1.10, re-expressed, plus the cases of
 * §1.2, §1.3 and §1.5), as one table run twice: against a dataset served by the DVID-protocol test
 * server and against a Firestore-native dataset, through the same endpoints. Each backend must
 * give the expected answer, so both give identical ones. `conditional` follows our documented rule
 * (DECISIONS section 10): an empty stored value is overwritten.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { seedStandardData, startTestService, type TestService } from '../../shared/testing/harness';
import { DvidTestServer } from './dvid-test-server';

const U64_MAX = '18446744073709551615';
const BEYOND_2_53 = '18014398509481985';
const DVID_DS = 'vectors-dvid';
const NATIVE_DS = 'vectors-native';
const HEAD = 'vhead';

/** A write, made by the global writer on behalf of `by` (stamped as the editor). */
interface Write {
  readonly by: string;
  readonly body: string;
  readonly params?: string;
  readonly method?: 'POST' | 'DELETE';
}

interface Vector {
  readonly name: string;
  readonly writes: readonly Write[];
  /** A GET path (below `neurons/`), or a query body for POST `query`. */
  readonly read: { readonly get: string } | { readonly query: string; readonly params?: string };
  readonly status?: number;
  /** The parsed answer, or its exact text (uint64 cases). */
  readonly expected: unknown;
}

const post = (by: string, body: string, params = ''): Write => ({ by, body, params });

const QUERY_SEED: readonly Write[] = [
  post('alice', '{"bodyid":2000,"a string":"foo","a number":1234,"class":"9A","tags":["mom","dad"]}'),
  post('alice', '{"bodyid":3000,"a string":"moo","a number":2345,"class":"9A"}'),
  post('alice', '{"bodyid":4000,"a string":"goo","a number":3456,"class":"9A"}'),
  post('alice', '{"bodyid":5000,"a string":"x","class":"9B","weight":1.5,"flag":true}'),
];

const CONDITIONAL_SEED = post('alice', '{"bodyid":1000,"status":"Traced","group":7,"note":"","comment":"orig"}');

const VECTORS: readonly Vector[] = [
  {
    name: 'conditional=status keeps a stored status and its editor; other fields change',
    writes: [CONDITIONAL_SEED, post('bob', '{"bodyid":1000,"status":"Anchor","comment":"changed"}', 'conditional=status')],
    read: { get: 'id-number/1000?show=user' },
    expected: [{ bodyid: 1000, status: 'Traced', status_user: 'alice', group: 7, group_user: 'alice', note: '', note_user: 'alice', comment: 'changed', comment_user: 'bob' }],
  },
  {
    name: 'conditionals= (DVID’s older spelling) protects the same way',
    writes: [CONDITIONAL_SEED, post('bob', '{"bodyid":1000,"status":"Anchor","comment":"changed"}', 'conditionals=status')],
    read: { get: 'id-number/1000?show=user&fields=status,comment' },
    expected: [{ bodyid: 1000, status: 'Traced', status_user: 'alice', comment: 'changed', comment_user: 'bob' }],
  },
  {
    name: 'conditional on an absent field writes it',
    writes: [CONDITIONAL_SEED, post('bob', '{"bodyid":1000,"new_field":"x"}', 'conditional=new_field')],
    read: { get: 'id-number/1000?show=user&fields=new_field' },
    expected: [{ bodyid: 1000, new_field: 'x', new_field_user: 'bob' }],
  },
  {
    name: 'conditional=status,group protects both',
    writes: [CONDITIONAL_SEED, post('bob', '{"bodyid":1000,"status":"Anchor","group":8}', 'conditional=status,group')],
    read: { get: 'id-number/1000?fields=status,group' },
    expected: [{ bodyid: 1000, status: 'Traced', group: 7 }],
  },
  {
    name: 'conditional overwrites an empty stored value (our rule; DVID would keep "")',
    writes: [CONDITIONAL_SEED, post('bob', '{"bodyid":1000,"note":"filled"}', 'conditional=note')],
    read: { get: 'id-number/1000?show=user&fields=note' },
    expected: [{ bodyid: 1000, note: 'filled', note_user: 'bob' }],
  },
  {
    name: 'replace=true ignores conditional and drops the fields not posted',
    writes: [CONDITIONAL_SEED, post('frank', '{"bodyid":1000,"status":"Anchor"}', 'replace=true&conditional=status')],
    read: { get: 'id-number/1000?show=user' },
    expected: [{ bodyid: 1000, status: 'Anchor', status_user: 'frank' }],
  },
  {
    name: 'replace=true keeps the editor of an unchanged value',
    writes: [CONDITIONAL_SEED, post('frank', '{"bodyid":1000,"status":"Traced","group":8}', 'replace=true')],
    read: { get: 'id-number/1000?show=user' },
    expected: [{ bodyid: 1000, status: 'Traced', status_user: 'alice', group: 8, group_user: 'frank' }],
  },
  {
    name: 'an explicit key1_user is stored as posted',
    writes: [post('admin', '{"bodyid":2000,"key1":"moo","key1_user":"frank"}')],
    read: { get: 'id-number/2000?show=user' },
    expected: [{ bodyid: 2000, key1: 'moo', key1_user: 'frank' }],
  },
  {
    name: 'posting key1 and key1_user null leaves only bodyid under show=user',
    writes: [post('admin', '{"bodyid":2000,"key1":"moo","key1_user":"frank"}'), post('admin', '{"bodyid":2000,"key1":null,"key1_user":null}')],
    read: { get: 'id-number/2000?show=user' },
    expected: [{ bodyid: 2000 }],
  },
  {
    name: 'posting key1 null alone records the deleter in key1_user',
    writes: [
      post('admin', '{"bodyid":2000,"key1":"moo","key1_user":"frank"}'),
      post('admin', '{"bodyid":2000,"key1":null,"key1_user":null}'),
      post('carol', '{"bodyid":2000,"key1":null}'),
    ],
    read: { get: 'id-number/2000?show=user' },
    expected: [{ bodyid: 2000, key1_user: 'carol' }],
  },
  {
    name: 'a value posted again unchanged keeps its editor',
    writes: [post('alice', '{"bodyid":3000,"a":1}'), post('bob', '{"bodyid":3000,"a":1,"b":[1,2]}')],
    read: { get: 'id-number/3000?show=user' },
    expected: [{ bodyid: 3000, a: 1, a_user: 'alice', b: [1, 2], b_user: 'bob' }],
  },
  {
    name: 'show=time shows only _time companions, in RFC 3339 UTC seconds',
    writes: [post('alice', '{"bodyid":3000,"a":1}')],
    read: { get: 'id-number/3000?show=time' },
    expected: [{ bodyid: 3000, a: 1, a_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) }],
  },
  {
    name: 'DELETE removes the body',
    writes: [post('alice', '{"bodyid":3000,"a":1}'), post('alice', '{"bodyid":4000,"a":2}'), { by: 'alice', body: '', method: 'DELETE', params: '3000' }],
    read: { get: 'id-number/3000,4000' },
    expected: [{ bodyid: 4000, a: 2 }],
  },
  { name: 're/ is a regular expression', writes: QUERY_SEED, read: { query: '{"a string":"re/^(f|m)oo"}', params: 'onlyid=true' }, expected: [2000, 3000] },
  { name: 're/ searches unanchored, any-of in a list, over list fields', writes: QUERY_SEED, read: { query: '{"tags":["re/.*x","re/om"]}', params: 'onlyid=true' }, expected: [2000] },
  {
    name: 'lists are any-of and fields are ANDed',
    writes: QUERY_SEED,
    read: { query: '{"a string":["moo","goo"],"a number":[2345,3456]}', params: 'onlyid=true' },
    expected: [3000, 4000],
  },
  { name: 'a field no record has matches nothing', writes: QUERY_SEED, read: { query: '{"nofield":"x"}' }, expected: [] },
  { name: 'onlyid answers ids in numeric order', writes: QUERY_SEED, read: { query: '{"class":"9A"}', params: 'onlyid=true' }, expected: [2000, 3000, 4000] },
  { name: 'exists/0 matches absent fields', writes: QUERY_SEED, read: { query: '{"weight":"exists/0"}', params: 'onlyid=true' }, expected: [2000, 3000, 4000] },
  { name: 'exists/1 matches present fields', writes: QUERY_SEED, read: { query: '{"weight":"exists/1"}', params: 'onlyid=true' }, expected: [5000] },
  { name: 'a scalar float never matches', writes: QUERY_SEED, read: { query: '{"weight":1.5}', params: 'onlyid=true' }, expected: [] },
  { name: 'a list of floats matches non-integral values', writes: QUERY_SEED, read: { query: '{"weight":[1.5]}', params: 'onlyid=true' }, expected: [5000] },
  { name: 'booleans never match', writes: QUERY_SEED, read: { query: '{"flag":true}', params: 'onlyid=true' }, expected: [] },
  { name: 'an array of objects is ORed', writes: QUERY_SEED, read: { query: '[{"class":"9B"},{"a number":1234}]', params: 'onlyid=true' }, expected: [2000, 5000] },
  {
    name: 'a bodyid-only query answers full objects in request order, repeats kept, onlyid ignored',
    writes: QUERY_SEED.slice(1, 3),
    read: { query: '[{"bodyid":4000},{"bodyid":[3000,4000,9]}]', params: 'onlyid=true' },
    expected: [
      { bodyid: 4000, 'a string': 'goo', 'a number': 3456, class: '9A' },
      { bodyid: 3000, 'a string': 'moo', 'a number': 2345, class: '9A' },
      { bodyid: 4000, 'a string': 'goo', 'a number': 3456, class: '9A' },
    ],
  },
  {
    name: 'fields shapes query answers',
    writes: QUERY_SEED,
    read: { query: '{"class":"9B"}', params: 'fields=weight' },
    expected: [{ bodyid: 5000, weight: 1.5 }],
  },
  { name: 'a list mixing value types is refused', writes: QUERY_SEED, read: { query: '{"class":[1,"9A"]}' }, status: 400, expected: { detail: 'the list for field class mixes value types' } },
  {
    name: 'all leaves out records that show only bodyid; fields=bodyid lists every id',
    writes: [post('alice', '{"bodyid":7,"a":1}'), post('alice', '{"bodyid":8,"b":1}')],
    read: { get: 'all?fields=a' },
    expected: [{ bodyid: 7, a: 1 }],
  },
  {
    name: 'all with fields=bodyid lists every id',
    writes: [post('alice', '{"bodyid":8,"b":1}'), post('alice', '{"bodyid":7,"a":1}')],
    read: { get: 'all?fields=bodyid' },
    expected: [{ bodyid: 7 }, { bodyid: 8 }],
  },
  {
    name: 'uint64 ids and values stay exact in writes, queries and reads',
    writes: [post('alice', `{"bodyid":${U64_MAX},"partner":${BEYOND_2_53}}`), post('alice', `{"bodyid":${BEYOND_2_53},"partner":${U64_MAX}}`)],
    read: { query: `{"partner":[${BEYOND_2_53},1]}` },
    expected: `[{"bodyid":${U64_MAX},"partner":${BEYOND_2_53}}]`,
  },
  {
    name: 'fields lists names in use without companions',
    writes: [post('alice', '{"bodyid":7,"zeta":1,"alpha":"x"}'), post('bob', '{"bodyid":8,"mid":[1]}')],
    read: { get: 'fields' },
    expected: ['alpha', 'bodyid', 'mid', 'zeta'],
  },
];

let svc: TestService;
let dvid: DvidTestServer;

beforeAll(async () => {
  dvid = await DvidTestServer.start();
  svc = await startTestService();
  await seedStandardData(svc.db);
  await svc.db.collection(COLLECTIONS.datasets).doc(DVID_DS).set({ dvid: dvid.url, uuid: HEAD });
  await svc.db.collection(COLLECTIONS.datasets).doc(NATIVE_DS).set({ neurons: { store: 'firestore' } });
  await svc.ctx.datasets.refresh();
});
afterAll(async () => {
  await svc.close();
  await dvid.close();
});

async function reset(): Promise<void> {
  dvid.addNode(HEAD);
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.neurons).doc(NATIVE_DS));
}

async function run(dataset: string, vector: Vector) {
  const base = `/v2/json-annotations/${dataset}/neurons`;
  for (const write of vector.writes) {
    const method = write.method ?? 'POST';
    const path = method === 'DELETE' ? `${base}/id-number/${write.params}` : `${base}?designated_user=${write.by}&${write.params ?? ''}`;
    const res = await svc.request(method, path, { as: 'writer', rawBody: method === 'DELETE' ? undefined : write.body });
    expect(res.status, `${method} ${write.body}: ${res.text}`).toBe(200);
  }
  const { read } = vector;
  return 'get' in read
    ? svc.request('GET', `${base}/${read.get}`, { as: 'writer' })
    : svc.request('POST', `${base}/query?${read.params ?? ''}`, { as: 'writer', rawBody: read.query });
}

describe.each([
  ['the DVID-protocol test server', DVID_DS],
  ['the Firestore-native store', NATIVE_DS],
])('DVID neuronjson test vectors against %s', (_backend, dataset) => {
  it.each(VECTORS)('$name', async (vector) => {
    await reset();
    const res = await run(dataset, vector);
    expect(res.status, res.text).toBe(vector.status ?? 200);
    if (typeof vector.expected === 'string') expect(res.text).toBe(vector.expected);
    else expect(res.json).toEqual(vector.expected);
  });

  it.each([
    ['{"bodyid":0,"a":1}', 'body id 0 is reserved'],
    ['{"bodyid":5,"bodyid_user":"x"}', 'bodyid_user and bodyid_time are reserved'],
  ])('refuses %s as DVID does, storing nothing', async (body, detail) => {
    await reset();
    const res = await svc.request('POST', `/v2/json-annotations/${dataset}/neurons`, { as: 'writer', rawBody: body });
    expect(res.status).toBe(400);
    expect(res.json.detail).toBe(detail);
    expect((await svc.request('GET', `/v2/json-annotations/${dataset}/neurons/all?fields=bodyid`, { as: 'writer' })).json).toEqual([]);
  });
});
