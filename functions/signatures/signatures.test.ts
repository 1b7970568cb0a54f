import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CloudStorage } from '../../shared/cloud-storage';
import { COLLECTIONS } from '../../shared/collections';
import { loadConfig } from '../../shared/config';
import { GcsTestServer, crc32c } from '../../shared/testing/gcs-test-server';
import { DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, statusByIdentity, type TestService } from '../../shared/testing/harness';
import { BigQueryTestServer } from './bigquery-test-server';
import { fmix64, partitions, SignatureFiles } from './search';

const BUCKET = 'sig-bucket';
const NEGATIVE = -1234567890123456789n;
const MAX = 2n ** 63n - 1n;

// Expected values computed once, independently, with Python's arbitrary-precision integers
// (the original's arithmetic):
//   def fmix64(h): h ^= h >> 33; h = (h * 0xff51afd7ed558ccd) & (2**64-1); h ^= h >> 33;
//                  h = (h * 0xc4ceb9fe1a85ec53) & (2**64-1); h ^= h >> 33; return h
//   [fmix64(m & s) % 4000 for m in MASKS]
const MASKS = [0x00000000ffffffffn, 0xffffffff00000000n, 0x5555555555555555n, 0xaaaaaaaaaaaaaaaan];
const PYTHON_FMIX64: [bigint, bigint][] = [
  [NEGATIVE, 8473845746284563810n],
  [-1n, 0n],
  [0n, 0n],
  [MAX, 12373989555017149930n],
  [-(2n ** 63n), 12373989555017149930n],
  [12345n, 1716623506685013753n],
];
const PYTHON_PARTITIONS: [bigint, number[]][] = [
  [NEGATIVE, [2608, 1468, 159, 2227]],
  [-1n, [2182, 3584, 3293, 2347]],
  [0n, [0, 0, 0, 0]],
  [MAX, [2182, 3666, 3293, 717]],
  [-(2n ** 63n), [0, 2707, 0, 2707]],
];

// Blocks of 20-byte records packed with Python: struct.pack('<IIIq', x, y, z, signature) per record.
//   (1500,2500,3500,-1234567890123456789), (1550,2500,3500,0), (1000,2000,3000,2**63-1)
const MB20_BLOCK = Buffer.from(
  'dc050000c4090000ac0d0000eb7e16820befddee0e060000c4090000ac0d00000000000000000000e8030000d0070000b80b0000ffffffffffffff7f',
  'hex',
);
//   (10,0,0,111), (0,10,0,222), (0,0,101,333), then 6 stray bytes that are not a whole record
const TIES_BLOCK = Buffer.concat([
  Buffer.from('0a00000000000000000000006f00000000000000000000000a00000000000000de000000000000000000000000000000650000004d01000000000000', 'hex'),
  Buffer.from('abcdef012345', 'hex'),
]);
//   (4000000000,5,5,-2): x beyond 2^31 must read as unsigned
const FAR_BLOCK = Buffer.from('00286bee0500000005000000feffffffffffffff', 'hex');

/** info.json with the masks above: two as decimal strings, two as bare JSON integers beyond 2^53. */
const infoJson = (blockSize: number) =>
  `{"block_size": ${blockSize}, "ham_0": "${MASKS[0]}", "ham_1": ${MASKS[1]}, "ham_2": "${MASKS[2]}", "ham_3": ${MASKS[3]}}`;

const MB_GENERAL = 'mb-general@test.org';
const MB_READER = 'mb-reader@test.org';

let gcs: GcsTestServer;
let bq: BigQueryTestServer;
let svc: TestService;
let fresh = 0;
/** A dataset name no earlier test used, so that the per-instance info.json cache starts empty. */
const freshDataset = () => `fresh${++fresh}`;

const as = (email: string) => ({ authorization: `Bearer ${svc.tokenFor(email)}` });

beforeAll(async () => {
  gcs = await new GcsTestServer().start();
  bq = await new BigQueryTestServer().start();
  svc = await startTestService({ SIG_BUCKET: BUCKET, STORAGE_API_URL: gcs.url, BIGQUERY_API_URL: bq.url });
  await seedStandardData(svc.db);
  await svc.db.collection(COLLECTIONS.users).doc(MB_GENERAL).set({ datasets: { MB20: ['clio_general'] } });
  await svc.db.collection(COLLECTIONS.users).doc(MB_READER).set({ datasets: { MB20: ['clio_read', 'clio_write'] } });
  await svc.ctx.datasets.refresh();
});
afterAll(async () => {
  await svc.close();
  await gcs.close();
  await bq.close();
});
beforeEach(() => {
  gcs.reset();
  bq.reset();
  gcs.put(BUCKET, 'mb20/info.json', infoJson(1000), { contentType: 'application/json' });
  gcs.put(BUCKET, 'mb20/blocks/1_2_3', MB20_BLOCK);
  gcs.put(BUCKET, `${DS}/info.json`, infoJson(1000), { contentType: 'application/json' });
  gcs.put(BUCKET, `${DS}/blocks/1_2_3`, MB20_BLOCK);
});

describe('signature hashing', () => {
  it.each(PYTHON_FMIX64)('fmix64(%s) matches Python', (input, expected) => {
    expect(fmix64(input)).toBe(expected);
  });

  it.each(PYTHON_PARTITIONS)('partitions of %s match Python', (signature, expected) => {
    expect(partitions({ blockSize: 1, masks: MASKS }, signature)).toEqual(expected);
  });

  it('the storage test server reports the standard CRC-32C check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});

describe('GET /v2/signatures/atlocation/{dataset}', () => {
  it.each([
    ['a negative signature', [1510, 2500, 3500], [1500, 2500, 3500], '-1234567890123456789'],
    ['a zero signature', [1545, 2500, 3500], [1550, 2500, 3500], '0'],
    ['2^63-1', [1000, 2000, 3010], [1000, 2000, 3000], '9223372036854775807'],
  ])('returns the nearest sample with %s as a decimal string', async (_name, query, point, signature) => {
    const [x, y, z] = query as number[];
    const res = await svc.request('GET', `/v2/signatures/atlocation/MB20?x=${x}&y=${y}&z=${z}`, as(MB_GENERAL));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ point, signature });
    // The dataset id is lower-cased for storage (info.json may come from the cache); no credentials go to a local storage server.
    expect(gcs.requests.at(-1)?.path).toBe(`/storage/v1/b/${BUCKET}/o/${encodeURIComponent('mb20/blocks/1_2_3')}`);
    expect(gcs.requests.every((r) => r.path.startsWith(`/storage/v1/b/${BUCKET}/o/mb20%2F`))).toBe(true);
    expect(gcs.requests.every((r) => r.authorization === undefined)).toBe(true);
  });

  it('picks the first of equally near samples, ignores samples beyond 100 and stray trailing bytes', async () => {
    const dataset = freshDataset();
    gcs.put(BUCKET, `${dataset}/info.json`, infoJson(1000));
    gcs.put(BUCKET, `${dataset}/blocks/0_0_0`, TIES_BLOCK);
    const tie = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=0&y=0&z=0`, { as: 'general' });
    expect(tie.json).toEqual({ point: [10, 0, 0], signature: '111' });
    const within = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=0&y=0&z=200`, { as: 'general' });
    expect(within.json).toEqual({ point: [0, 0, 101], signature: '333' });
    const exactly100 = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=0&y=0&z=201`, { as: 'general' });
    expect(exactly100.json).toEqual({ point: [0, 0, 101], signature: '333' });
    const beyond = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=0&y=0&z=202`, { as: 'general' });
    expect(beyond.json).toEqual({ messsage: 'point not found', message: 'point not found' });
  });

  it('reads coordinates as unsigned and finds the block by floor division', async () => {
    const dataset = freshDataset();
    gcs.put(BUCKET, `${dataset}/info.json`, infoJson(1000));
    gcs.put(BUCKET, `${dataset}/blocks/4000000_0_0`, FAR_BLOCK);
    const res = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=4000000040&y=5&z=5`, { as: 'general' });
    expect(res.json).toEqual({ point: [4000000000, 5, 5], signature: '-2' });
  });

  it('answers 200 with the original error body when the point or the dataset has no signature', async () => {
    const noBlock = await svc.request('GET', '/v2/signatures/atlocation/MB20?x=5000&y=5000&z=5000', as(MB_GENERAL));
    expect(noBlock.status).toBe(200);
    expect(noBlock.json).toEqual({ messsage: 'point not found', message: 'point not found' });
    const tooFar = await svc.request('GET', '/v2/signatures/atlocation/MB20?x=1800&y=2800&z=3800', as(MB_GENERAL));
    expect(tooFar.json).toEqual({ messsage: 'point not found', message: 'point not found' });
    const noDataset = await svc.request('GET', '/v2/signatures/atlocation/nothing-here?x=1&y=2&z=3', { as: 'general' });
    expect(noDataset.status).toBe(200);
    expect(noDataset.json).toEqual({ messsage: 'dataset not found', message: 'dataset not found' });
  });

  it('caches info.json per instance, but not its absence', async () => {
    const dataset = freshDataset();
    const missing = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=10&y=10&z=10`, { as: 'general' });
    expect(missing.json.messsage).toBe('dataset not found');
    gcs.put(BUCKET, `${dataset}/info.json`, infoJson(1000));
    gcs.put(BUCKET, `${dataset}/blocks/0_0_0`, TIES_BLOCK);
    const found = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=10&y=0&z=0`, { as: 'general' });
    expect(found.json.signature).toBe('111');
    // With block_size 1 the point would lie in block 10_0_0, which does not exist; the cached info still says 1000.
    gcs.put(BUCKET, `${dataset}/info.json`, infoJson(1));
    const cached = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=10&y=0&z=0`, { as: 'general' });
    expect(cached.json.signature).toBe('111');
    expect(gcs.requests.filter((r) => r.path.endsWith(encodeURIComponent(`${dataset}/info.json`)))).toHaveLength(2);
  });

  it('answers on every alias, with and without a trailing slash, ignoring unknown parameters', async () => {
    for (const path of [
      '/v2/signatures/atlocation/MB20/',
      '/test/signatures/atlocation/MB20',
      '/signatures/atlocation/MB20',
      '/clio_toplevel/signatures/atlocation/MB20/',
    ]) {
      const res = await svc.request('GET', `${path}?x=1510&y=2500&z=3500&app=clio-py`, as(MB_GENERAL));
      expect(res.status, path).toBe(200);
      expect(res.json.signature, path).toBe('-1234567890123456789');
    }
  });

  it.each([
    ['a missing coordinate', 'x=1&y=2', ['query', 'z']],
    ['a fractional coordinate', 'x=1.5&y=2&z=3', ['query', 'x']],
    ['a word', 'x=1&y=two&z=3', ['query', 'y']],
  ])('rejects %s with 422 before reading anything', async (_name, search, loc) => {
    const res = await svc.request('GET', `/v2/signatures/atlocation/MB20?${search}`, as(MB_GENERAL));
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(loc);
    expect(gcs.requests).toHaveLength(0);
  });
});

describe('signature permissions', () => {
  const ROUTES = ['atlocation', 'likelocation'];
  const allowed: Identity[] = ['dsGeneral', 'general', 'writer'];
  const refused: Identity[] = ['reader', 'dsWriter', 'admin', 'owner', 'unknown'];

  it.each(ROUTES.flatMap((r) => allowed.map((who) => [r, who] as const)))('%s lets %s (clio_general) search a private dataset', async (r, who) => {
    const res = await svc.request('GET', `/v2/signatures/${r}/${DS}?x=1510&y=2500&z=3500`, { as: who });
    expect(res.status).toBe(200);
    // private-ds has a block, but its name cannot be a BigQuery dataset, so the like-search stops there.
    expect(res.json).toEqual(
      r === 'atlocation'
        ? { point: [1500, 2500, 3500], signature: '-1234567890123456789' }
        : { messsage: `dataset ${DS} has no signature tables`, message: `dataset ${DS} has no signature tables` },
    );
  });

  it.each(ROUTES.flatMap((r) => refused.map((who) => [r, who] as const)))('%s refuses %s with 403, as the original, and reads nothing', async (r, who) => {
    const res = await svc.request('GET', `/v2/signatures/${r}/${DS}?x=1510&y=2500&z=3500`, { as: who });
    expect(res.status).toBe(403);
    expect(res.json.detail).toMatch(/clio_general/);
    expect(gcs.requests).toHaveLength(0);
  });

  it.each(ROUTES)('%s needs clio_general itself on the dataset (clio_read and clio_write are not enough)', async (r) => {
    expect((await svc.request('GET', `/v2/signatures/${r}/MB20?x=1&y=2&z=3`, as(MB_READER))).status).toBe(403);
    // The role check uses the dataset id as given: MB20's role does not cover mb20.
    expect((await svc.request('GET', `/v2/signatures/${r}/mb20?x=1&y=2&z=3`, as(MB_GENERAL))).status).toBe(403);
  });

  it.each(ROUTES)('%s lets anyone signed in search a public dataset, and refuses a disabled user or no token', async (r) => {
    const res = await svc.request('GET', `/v2/signatures/${r}/${PUBLIC_DS}?x=1&y=2&z=3`, { as: 'unknown' });
    expect(res.status).toBe(200);
    expect(res.json.messsage).toBe('dataset not found');
    expect((await svc.request('GET', `/v2/signatures/${r}/${PUBLIC_DS}?x=1&y=2&z=3`, { as: 'disabled' })).status).toBe(403);
    const anonymous = await svc.request('GET', `/v2/signatures/${r}/${PUBLIC_DS}?x=1&y=2&z=3`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
  });
});

/** Rows for the four hamming tables of mb20, around the signature at (1510, 2500, 3500). */
function seedHammingTables(): void {
  const [p0, p1, p2, p3] = PYTHON_PARTITIONS[0][1];
  const s = NEGATIVE;
  bq.tables.set('mb20_imgsearch.hamming0', [
    { signature: s, part: p0, x: 1500, y: 2500, z: 3500 }, // the sample itself: within 100 of the asked point
    { signature: s ^ 0b1n, part: p0, x: 5000, y: 5000, z: 5000 }, // 1 bit
    { signature: s ^ 0b11n, part: p0, x: 5050, y: 5000, z: 5000 }, // 2 bits, but within 100 of the one above
    { signature: s ^ 0xffn, part: p0, x: 9000, y: 9000, z: 9000 }, // 8 bits: not similar
    { signature: s, part: p0 + 1, x: 9100, y: 9000, z: 9000 }, // another partition
  ]);
  bq.tables.set('mb20_imgsearch.hamming1', [{ signature: s ^ 0b111n, part: p1, x: 7000, y: 7000, z: 7000 }]);
  bq.tables.set('mb20_imgsearch.hamming2', [{ signature: s, part: p2 + 1, x: 8000, y: 8000, z: 8000 }]);
  bq.tables.set('mb20_imgsearch.hamming3', [
    { signature: s ^ 0b1n, part: p3, x: 5000, y: 5000, z: 5000 }, // the same row again: union distinct
    { signature: s ^ 0b1111n, part: p3, x: 6000, y: 6000, z: 6000 },
  ]);
}

const EXPECTED_MATCHES = [
  { point: [5000, 5000, 5000], dist: 1, score: 0.875 },
  { point: [7000, 7000, 7000], dist: 3, score: 0.625 },
  { point: [6000, 6000, 6000], dist: 4, score: 0.5 },
];

describe('GET /v2/signatures/likelocation/{dataset}', () => {
  it('finds similar signatures in the partitions Python computes, spread at least 100 apart', async () => {
    seedHammingTables();
    const res = await svc.request('GET', '/v2/signatures/likelocation/MB20?x=1510&y=2500&z=3500', as(MB_GENERAL));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ matches: EXPECTED_MATCHES });
  });

  it('sends the signature and partitions as INT64 query parameters, never inside the SQL', async () => {
    seedHammingTables();
    await svc.request('GET', '/v2/signatures/likelocation/MB20?x=1510&y=2500&z=3500', as(MB_GENERAL));
    expect(bq.calls).toHaveLength(1);
    const [call] = bq.calls;
    expect(call.projectId).toBe(svc.projectId);
    // A local BigQuery endpoint is called without credentials.
    expect(call.authorization).toBeUndefined();
    expect(call.useLegacySql).toBe(false);
    expect(call.parameters).toEqual({
      signature: { type: 'INT64', value: '-1234567890123456789' },
      part0: { type: 'INT64', value: '2608' },
      part1: { type: 'INT64', value: '1468' },
      part2: { type: 'INT64', value: '159' },
      part3: { type: 'INT64', value: '2227' },
    });
    expect(call.query).not.toMatch(/1234567890123456789|2608|1468|2227/);
    for (const table of [0, 1, 2, 3]) expect(call.query).toContain(`\`mb20_imgsearch.hamming${table}\``);
  });

  it.each([
    ['zero', [1545, 2500, 3500], '0', [0, 0, 0, 0]],
    ['2^63-1', [1000, 2000, 3010], '9223372036854775807', [2182, 3666, 3293, 717]],
  ])('queries the partitions Python computes for a %s signature', async (_name, query, signature, parts) => {
    const [x, y, z] = query as number[];
    seedHammingTables();
    const res = await svc.request('GET', `/v2/signatures/likelocation/MB20?x=${x}&y=${y}&z=${z}`, as(MB_GENERAL));
    expect(res.json).toEqual({ matches: [], message: 'no matches' });
    const { parameters } = bq.calls[0];
    expect(parameters.signature.value).toBe(signature);
    expect([0, 1, 2, 3].map((i) => Number(parameters[`part${i}`].value))).toEqual(parts);
  });

  it('collects every page of a paged answer', async () => {
    seedHammingTables();
    bq.pageSize = 2;
    const res = await svc.request('GET', '/test/signatures/likelocation/MB20?x=1510&y=2500&z=3500', as(MB_GENERAL));
    expect(res.json).toEqual({ matches: EXPECTED_MATCHES });
    expect(bq.pageRequests).toBeGreaterThanOrEqual(2);
  });

  it('answers 200 with the original error body when there is no signature or no tables', async () => {
    const noPoint = await svc.request('GET', '/v2/signatures/likelocation/MB20?x=5000&y=5000&z=5000', as(MB_GENERAL));
    expect(noPoint.json).toEqual({ messsage: 'point not found', message: 'point not found' });
    expect(bq.calls).toHaveLength(0);
    const noTables = await svc.request('GET', '/signatures/likelocation/MB20?x=1510&y=2500&z=3500', as(MB_GENERAL));
    expect(noTables.status).toBe(200);
    expect(noTables.json).toEqual({ messsage: 'dataset mb20 has no signature tables', message: 'dataset mb20 has no signature tables' });
  });

  it('maps a BigQuery refusal to 502 and a query that does not finish in time to 504', async () => {
    bq.fault = { status: 403, reason: 'accessDenied' };
    const refused = await svc.request('GET', '/v2/signatures/likelocation/MB20?x=1510&y=2500&z=3500', as(MB_GENERAL));
    expect(refused.status).toBe(502);
    expect(refused.json.detail).toMatch(/BigQuery/);
    expect(refused.json.error_id).toEqual(expect.any(String));
    bq.fault = 'never-finishes';
    const slow = await svc.request('GET', '/v2/signatures/likelocation/MB20?x=1510&y=2500&z=3500', as(MB_GENERAL));
    expect(slow.status).toBe(504);
    expect(slow.json.detail).toMatch(/BigQuery did not answer within/);
  });

  it('rejects bad coordinates with 422', async () => {
    const res = await svc.request('GET', '/v2/signatures/likelocation/MB20?x=1&y=2&z=3.25', as(MB_GENERAL));
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(['query', 'z']);
  });
});

describe('signature storage failures', () => {
  it('maps a storage refusal to 502 and retries a transient failure once', async () => {
    const dataset = freshDataset();
    gcs.put(BUCKET, `${dataset}/info.json`, infoJson(1000));
    gcs.put(BUCKET, `${dataset}/blocks/0_0_0`, TIES_BLOCK);
    gcs.fail({ method: 'GET', status: 403 });
    const refused = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=10&y=0&z=0`, { as: 'general' });
    expect(refused.status).toBe(502);
    expect(refused.json.detail).toContain(`Cloud Storage (reading gs://${BUCKET}/${dataset}/info.json)`);
    gcs.reset();
    gcs.put(BUCKET, `${dataset}/info.json`, infoJson(1000));
    gcs.put(BUCKET, `${dataset}/blocks/0_0_0`, TIES_BLOCK);
    gcs.fail({ method: 'GET', status: 503, times: 1 });
    const retried = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=10&y=0&z=0`, { as: 'general' });
    expect(retried.json).toEqual({ point: [10, 0, 0], signature: '111' });
  });

  it('rejects malformed signature metadata with 502', async () => {
    const dataset = freshDataset();
    gcs.put(BUCKET, `${dataset}/info.json`, '{"block_size": 0, "ham_0": "1", "ham_1": "x", "ham_2": 3, "ham_3": 4}');
    const res = await svc.request('GET', `/v2/signatures/atlocation/${dataset}?x=10&y=0&z=0`, { as: 'general' });
    expect(res.status).toBe(502);
    expect(res.json.detail).toMatch(/not valid signature metadata/);
  });

  it('maps a storage server that does not answer to 504', async () => {
    const impatient = await startTestService({ SIG_BUCKET: BUCKET, STORAGE_API_URL: gcs.url, BIGQUERY_API_URL: bq.url, UPSTREAM_TIMEOUT_MS: '300' });
    try {
      await seedStandardData(impatient.db);
      gcs.fail({ method: 'GET', status: 'hang' });
      const res = await impatient.request('GET', '/v2/signatures/atlocation/mb20?x=1510&y=2500&z=3500', { as: 'general' });
      expect(res.status).toBe(504);
      expect(res.json.detail).toMatch(/Cloud Storage .* did not answer within 0.3 s/);
    } finally {
      await impatient.close();
    }
  });

  it('without SIG_BUCKET, answers 503 only to callers it authenticated, validated and authorized', async () => {
    const unconfigured = await startTestService({ STORAGE_API_URL: gcs.url });
    try {
      await seedStandardData(unconfigured.db);
      for (const r of ['atlocation', 'likelocation']) {
        expect(await statusByIdentity(unconfigured, 'GET', `/v2/signatures/${r}/${DS}?x=1&y=2&z=3`), r).toEqual({
          noToken: 401,
          badToken: 401,
          disabled: 403,
          reader: 403,
          dsWriter: 403,
          admin: 403,
          owner: 403,
          unknown: 403,
          dsGeneral: 503,
          general: 503,
          writer: 503,
        });
        const res = await unconfigured.request('GET', `/v2/signatures/${r}/${DS}?x=1&y=2&z=3`, { as: 'general' });
        expect(res.json.detail).toBe('image search is not available on this server (SIG_BUCKET is unset)');
        expect((await unconfigured.request('GET', `/v2/signatures/${r}/${DS}?x=1&y=2&z=3`, { as: 'reader' })).json.detail).not.toMatch(/SIG_BUCKET|available/);
        for (const as of ['general', 'reader'] as const) {
          expect((await unconfigured.request('GET', `/v2/signatures/${r}/a%2Fb?x=1&y=2&z=3`, { as })).status, `${r} ${as}`).toBe(422);
          expect((await unconfigured.request('GET', `/v2/signatures/${r}/${DS}?x=1&y=2`, { as })).status, `${r} ${as}`).toBe(422);
        }
      }
      expect(gcs.requests).toHaveLength(0);
    } finally {
      await unconfigured.close();
    }
  });
});

describe('SignatureFiles', () => {
  it('re-reads info.json once its time to live has passed', async () => {
    const files = new SignatureFiles(new CloudStorage(loadConfig({ STORAGE_API_URL: gcs.url })), BUCKET, 100);
    const dataset = freshDataset();
    gcs.put(BUCKET, `${dataset}/info.json`, infoJson(1000));
    expect((await files.info(dataset)).blockSize).toBe(1000);
    gcs.put(BUCKET, `${dataset}/info.json`, infoJson(64));
    expect((await files.info(dataset)).blockSize).toBe(1000);
    await new Promise((done) => setTimeout(done, 150));
    expect(await files.info(dataset)).toEqual({ blockSize: 64, masks: MASKS });
  });
});
