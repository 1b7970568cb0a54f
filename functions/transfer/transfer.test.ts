import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { GcsTestServer } from '../../shared/testing/gcs-test-server';
import { type Identity, seedStandardData, startTestService, statusByIdentity, type TestService } from '../../shared/testing/harness';
import { MetadataTestServer, TransferTestServer } from './transfer-test-servers';

const DEST = 'transfer-out';
const MODEL = 'vnc2hemi:synfocal_3000';
const SOURCE = 'gs://source-bucket/jpeg';
/** The original README's example body. */
const README_BODY = { dataset: 'oldalign_VNC', model_name: MODEL, center: [20135, 27130, 40622] };
/** center - 128, plus 0 or 128 on each axis. */
const GLBSTART = [20007, 27002, 40494];
const STARTS = [
  [20007, 27002, 40494],
  [20135, 27002, 40494],
  [20007, 27130, 40494],
  [20135, 27130, 40494],
  [20007, 27002, 40622],
  [20135, 27002, 40622],
  [20007, 27130, 40622],
  [20135, 27130, 40622],
];
const EXPECTED_INFO = {
  '@type': 'neuroglancer_multiscale_volume',
  data_type: 'uint8',
  num_channels: 1,
  scales: [{ chunk_sizes: [[64, 64, 64]], encoding: 'raw', key: '8.0x8.0x8.0', resolution: [8, 8, 8], size: [256, 256, 256], offset: [0, 0, 0] }],
  type: 'image',
};
/** The link exactly as the original's code spelled it, with the bucket and directory left open. */
const ORIGINAL_LINK =
  'https://neuroglancer-demo.appspot.com/#!%7B%22layers%22%3A%5B%7B%22type%22%3A%22image%22%2C%22source%22%3A%7B%22url%22%3A%22' +
  'precomputed%3A%2F%2Fgs%3A%2F%2F{DEST}%2F{DIR}%22%7D%2C%22tab%22%3A%22source%22%2C%22name%22%3A%22jpeg%22%7D%5D%2C%22' +
  'selectedLayer%22%3A%7B%22layer%22%3A%22jpeg%22%2C%22visible%22%3Atrue%7D%7D';

let gcs: GcsTestServer;
let metadata: MetadataTestServer;
let transferService: TransferTestServer;
let svc: TestService;
const savedEnv = { host: process.env.GCE_METADATA_HOST, detection: process.env.METADATA_SERVER_DETECTION };

const serviceEnv = (overrides: Record<string, string> = {}) => ({
  TRANSFER_FUNC: transferService.url,
  TRANSFER_DEST: DEST,
  STORAGE_API_URL: gcs.url,
  TRANSFER_RETRY_DELAY_MS: '10',
  ...overrides,
});

beforeAll(async () => {
  gcs = await new GcsTestServer().start();
  metadata = await new MetadataTestServer().start();
  transferService = await new TransferTestServer().start();
  // google-auth-library's ID-token client asks the metadata server named by GCE_METADATA_HOST (here: the local one).
  process.env.GCE_METADATA_HOST = metadata.host;
  process.env.METADATA_SERVER_DETECTION = 'assume-present';
  svc = await startTestService(serviceEnv());
  await seedStandardData(svc.db);
  const datasets = svc.db.collection(COLLECTIONS.datasets);
  await datasets.doc('oldalign_VNC').set({ description: 'VNC', location: SOURCE, transfer: [MODEL, 'other:1'] });
  await datasets.doc('keyed').set({ description: 'models as a map', location: SOURCE, transfer: { [MODEL]: { note: 'x' } } });
  await datasets.doc('no-transfer').set({ description: 'no models', location: SOURCE });
  await datasets.doc('no-location').set({ description: 'no source', transfer: [MODEL] });
  await svc.ctx.datasets.refresh();
});
afterAll(async () => {
  await svc.close();
  await Promise.all([gcs.close(), metadata.close(), transferService.close()]);
  for (const [name, value] of [['GCE_METADATA_HOST', savedEnv.host], ['METADATA_SERVER_DETECTION', savedEnv.detection]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});
beforeEach(() => {
  gcs.reset();
  transferService.reset();
  metadata.failWith = undefined;
});

/** The output directory named by a link (and checks the link is the original's, byte for byte). */
function directoryOf(addr: string): string {
  const directory = /%2Fgs%3A%2F%2Ftransfer-out%2F([a-z]+)%22/.exec(addr)?.[1] ?? '';
  expect(directory).toMatch(/^[a-z]{20}$/);
  expect(addr).toBe(ORIGINAL_LINK.replace('{DEST}', DEST).replace('{DIR}', directory));
  return directory;
}

const nothingDone = () => {
  expect(gcs.names(DEST)).toEqual([]);
  expect(transferService.received).toEqual([]);
};

describe('POST /v2/transfer', () => {
  it("runs the README's example: info file, eight authorized octant jobs, neuroglancer link", async () => {
    const res = await svc.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json)).toEqual(['addr']);
    const directory = directoryOf(res.json.addr);
    const state = JSON.parse(decodeURIComponent(res.json.addr.split('#!')[1]));
    expect(state.layers[0].source.url).toBe(`precomputed://gs://${DEST}/${directory}`);

    const info = gcs.get(DEST, `${directory}/info`);
    expect(info?.contentType).toBe('application/json');
    expect(JSON.parse(info!.data.toString('utf8'))).toEqual(EXPECTED_INFO);
    expect(gcs.names(DEST)).toEqual([`${directory}/info`]);
    // Created only if absent (so a retried upload is safe), without credentials against a local storage server.
    expect(gcs.requests.find((r) => r.method === 'POST')?.query.get('ifGenerationMatch')).toBe('0');
    expect(gcs.requests.every((r) => r.authorization === undefined)).toBe(true);

    const jobs = transferService.completed;
    expect(jobs).toHaveLength(8);
    expect(jobs.map((job) => job.start)).toEqual(expect.arrayContaining(STARTS));
    for (const job of jobs) {
      expect(job).toEqual({
        location: SOURCE,
        glbstart: GLBSTART,
        start: job.start,
        size: [128, 128, 128],
        model_name: MODEL,
        dest: `${DEST}/${directory}/8.0x8.0x8.0`,
      });
    }
    expect(metadata.audiences.at(-1)).toBe(transferService.url);
  });

  it('reuses the identity token until it nears expiry, and uses a fresh directory each time', async () => {
    const first = await svc.request('POST', '/v2/transfer', { as: 'writer', body: README_BODY });
    const tokensAfterFirst = metadata.audiences.length;
    const second = await svc.request('POST', '/v2/transfer', { as: 'writer', body: { ...README_BODY, dataset: 'keyed' } });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(metadata.audiences.length).toBe(tokensAfterFirst);
    expect(directoryOf(first.json.addr)).not.toBe(directoryOf(second.json.addr));
    expect(transferService.completed).toHaveLength(16);
  });

  it('answers on every alias, with and without a trailing slash, whatever the Content-Type', async () => {
    const cases: [string, string | null][] = [
      ['/v2/transfer/', 'application/json'],
      ['/test/transfer', null],
      ['/transfer', 'application/json'],
      ['/clio_toplevel/transfer/', 'text/plain;charset=UTF-8'],
    ];
    for (const [path, contentType] of cases) {
      const res = await svc.request('POST', path, { as: 'general', rawBody: JSON.stringify(README_BODY), contentType });
      expect(res.status, path).toBe(200);
      directoryOf(res.json.addr);
    }
    expect(transferService.completed).toHaveLength(8 * cases.length);
  });

  it('retries a job that fails twice and then succeeds', async () => {
    transferService.script(STARTS[5], { status: 503, times: 2 });
    const res = await svc.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
    expect(res.status).toBe(200);
    expect(transferService.attemptsFor(STARTS[5])).toBe(3);
    expect(transferService.attemptsFor(STARTS[0])).toBe(1);
    expect(transferService.completed).toHaveLength(8);
  });

  it('gives up on a job that never succeeds after four tries with a clear 502, after the others finish', async () => {
    transferService.script(STARTS[2], { status: 500 });
    const res = await svc.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
    expect(res.status).toBe(502);
    expect(res.json.detail).toBe(
      `1 of 8 transfer jobs failed; job 3 (start ${JSON.stringify(STARTS[2])}): the transfer service answered 500: job failed with 500 (after 4 attempts)`,
    );
    expect(res.json.error_id).toEqual(expect.any(String));
    expect(transferService.attemptsFor(STARTS[2])).toBe(4);
    expect(transferService.completed).toHaveLength(7);
  });

  it('does not retry a job the service rejects as malformed', async () => {
    transferService.script(STARTS[7], { status: 400 });
    const res = await svc.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
    expect(res.status).toBe(502);
    expect(res.json.detail).toMatch(/answered 400/);
    expect(transferService.attemptsFor(STARTS[7])).toBe(1);
  });

  it('answers 503 when no identity token can be had, and sends no job', async () => {
    const other = await startTestService(serviceEnv({ TRANSFER_FUNC: `${transferService.url}/other-audience` }));
    try {
      await seedStandardData(other.db);
      await other.db.collection(COLLECTIONS.datasets).doc('oldalign_VNC').set({ description: 'VNC', location: SOURCE, transfer: [MODEL] });
      metadata.failWith = 500;
      const res = await other.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
      expect(res.status).toBe(503);
      expect(res.json.detail).toMatch(/no identity token for the transfer service/);
      expect(transferService.received).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('maps a transfer service that does not answer in time to 504, and one that cannot be reached to 502', async () => {
    const impatient = await startTestService(serviceEnv({ UPSTREAM_TIMEOUT_MS: '300' }));
    try {
      await seedStandardData(impatient.db);
      await impatient.db.collection(COLLECTIONS.datasets).doc('oldalign_VNC').set({ description: 'VNC', location: SOURCE, transfer: [MODEL] });
      transferService.script(STARTS[4], { status: 'hang' });
      const slow = await impatient.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
      expect(slow.status).toBe(504);
      expect(slow.json.detail).toMatch(/job 5 .*the transfer service did not answer within 0.3 s/);
      expect(transferService.attemptsFor(STARTS[4])).toBe(1);
    } finally {
      await impatient.close();
    }
    const closed = new TransferTestServer();
    await closed.start();
    await closed.close();
    const unreachable = await startTestService(serviceEnv({ TRANSFER_FUNC: closed.url }));
    try {
      await seedStandardData(unreachable.db);
      await unreachable.db.collection(COLLECTIONS.datasets).doc('oldalign_VNC').set({ description: 'VNC', location: SOURCE, transfer: [MODEL] });
      const res = await unreachable.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
      expect(res.status).toBe(502);
      expect(res.json.detail).toMatch(/8 of 8 transfer jobs failed.*could not be reached.*after 4 attempts/);
    } finally {
      await unreachable.close();
    }
  });

  it('answers 502 and sends no job when the info file cannot be written', async () => {
    gcs.fail({ method: 'POST', status: 403 });
    const res = await svc.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
    expect(res.status).toBe(502);
    expect(res.json.detail).toMatch(new RegExp(`Cloud Storage \\(writing gs://${DEST}/[a-z]{20}/info\\)`));
    nothingDone();
  });

  it.each(['reader', 'dsGeneral', 'dsWriter', 'admin', 'owner', 'unknown'] as Identity[])(
    'refuses %s (no global clio_general) with 403, as the original, and does nothing',
    async (as) => {
      const res = await svc.request('POST', '/v2/transfer', { as, body: README_BODY });
      expect(res.status).toBe(403);
      expect(res.json.detail).toMatch(/global clio_general/);
      nothingDone();
    },
  );

  it('refuses a disabled user (403) and a missing token (401)', async () => {
    expect((await svc.request('POST', '/v2/transfer', { as: 'disabled', body: README_BODY })).status).toBe(403);
    const res = await svc.request('POST', '/v2/transfer', { body: README_BODY });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    nothingDone();
  });

  it.each([
    ['a missing model_name', { dataset: 'oldalign_VNC', center: [1, 2, 3] }, ['body', 'model_name']],
    ['a center of two numbers', { ...README_BODY, center: [1, 2] }, ['body', 'center', 2]],
    ['a center of four numbers', { ...README_BODY, center: [1, 2, 3, 4] }, ['body', 'center', 3]],
    ['a center that is not a list', { ...README_BODY, center: '1,2,3' }, ['body', 'center']],
    ['a fractional center', { ...README_BODY, center: [1, 2.5, 3] }, ['body', 'center', 1]],
    ['a dataset that is not a string', { ...README_BODY, dataset: 7 }, ['body', 'dataset']],
    ['an array body', [README_BODY], ['body']],
  ])('rejects %s with 422 and does nothing', async (_name, body, loc) => {
    const res = await svc.request('POST', '/v2/transfer', { as: 'general', body });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(loc);
    nothingDone();
  });

  it('rejects an empty or malformed body with 422', async () => {
    const empty = await svc.request('POST', '/v2/transfer', { as: 'general' });
    expect(empty.status).toBe(422);
    expect(empty.json.detail[0]).toMatchObject({ loc: ['body'], type: 'value_error.missing' });
    const broken = await svc.request('POST', '/v2/transfer', { as: 'general', rawBody: '{"dataset": ' });
    expect(broken.status).toBe(422);
    nothingDone();
  });

  it.each([
    ['an unknown dataset', { ...README_BODY, dataset: 'nope' }, /dataset nope not found/],
    ['a dataset without transfer models', { ...README_BODY, dataset: 'no-transfer' }, /does not offer the transfer model/],
    ['a model the dataset does not offer', { ...README_BODY, model_name: 'vnc2hemi' }, /does not offer the transfer model vnc2hemi/],
    ['a dataset without a location', { ...README_BODY, dataset: 'no-location' }, /has no location/],
  ])('rejects %s with 400 and does nothing', async (_name, body, detail) => {
    const res = await svc.request('POST', '/v2/transfer', { as: 'general', body });
    expect(res.status).toBe(400);
    expect(res.json.detail).toMatch(detail);
    nothingDone();
  });

  it('unless both TRANSFER_FUNC and TRANSFER_DEST are set, answers 503 only to callers it authenticated, validated and authorized', async () => {
    for (const missing of ['TRANSFER_FUNC', 'TRANSFER_DEST']) {
      const env = serviceEnv();
      delete (env as Record<string, string>)[missing];
      const unconfigured = await startTestService(env);
      try {
        await seedStandardData(unconfigured.db);
        expect(await statusByIdentity(unconfigured, 'POST', '/v2/transfer', { body: README_BODY }), missing).toEqual({
          noToken: 401,
          badToken: 401,
          disabled: 403,
          reader: 403,
          dsGeneral: 403,
          dsWriter: 403,
          admin: 403,
          owner: 403,
          unknown: 403,
          general: 503,
          writer: 503,
        });
        const res = await unconfigured.request('POST', '/v2/transfer', { as: 'general', body: README_BODY });
        expect(res.json.detail).toBe('image transfer is not available on this server (TRANSFER_FUNC and TRANSFER_DEST must both be set)');
        expect((await unconfigured.request('POST', '/v2/transfer', { as: 'reader', body: README_BODY })).json.detail).not.toMatch(/TRANSFER|available/);
        for (const as of ['general', 'reader'] as const) {
          const badId = await unconfigured.request('POST', '/v2/transfer', { as, body: { ...README_BODY, dataset: '..' } });
          expect(badId.status, `${missing} ${as}`).toBe(422);
          expect(badId.json.detail[0].loc).toEqual(['body', 'dataset']);
        }
      } finally {
        await unconfigured.close();
      }
    }
    nothingDone();
  });
});
