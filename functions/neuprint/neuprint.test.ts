import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, statusByIdentity, type TestService } from '../../shared/testing/harness';
import { startDsgService } from '../../shared/testing/dsg-service';
import { dsgKey } from '../../shared/testing/dsg-identities';
import { BIG_BODY_ID, NeuprintTestServer } from './neuprint-test-server';

const TOKEN = 'neuprint-service-token';
const CYPHER = 'MATCH (n :Neuron) WHERE n.bodyId = 1 RETURN n.bodyId AS id, n.type AS type';
const QUERY = { cypher: CYPHER, dataset: 'hemibrain:v1.2' };

let neuprint: NeuprintTestServer;
let svc: TestService;

const serviceEnv = (overrides: Record<string, string> = {}) => ({ NEUPRINT_APPLICATION_CREDENTIALS: TOKEN, NEUPRINT_SCHEME: 'http', ...overrides });

/** Seeds the standard data, with both standard datasets served by `server`. */
async function seed(target: TestService, server: string): Promise<void> {
  await seedStandardData(target.db);
  const datasets = target.db.collection(COLLECTIONS.datasets);
  await datasets.doc(DS).set({ neuprintHTTP: { server, dataset: 'hemibrain:v1.2' } }, { merge: true });
  await datasets.doc(PUBLIC_DS).set({ neuprintHTTP: { server, dataset: 'manc' } }, { merge: true });
  await datasets.doc('no-neuprint').set({ description: 'without neuPrint', public: true });
  await datasets.doc('bad-neuprint').set({ description: 'bad server', public: true, neuprintHTTP: { server: 'https://x.org/path', dataset: 'a' } });
  await target.ctx.datasets.refresh();
}

beforeAll(async () => {
  neuprint = await new NeuprintTestServer(TOKEN, ['hemibrain:v1.2', 'manc:v1.0']).start();
  svc = await startTestService(serviceEnv());
  await seed(svc, neuprint.host);
});
afterAll(async () => {
  await svc.close();
  await neuprint.close();
});
beforeEach(() => neuprint.reset());

describe('POST /v2/neuprint/{dataset}', () => {
  it("forwards the query to the dataset's neuPrint server with the service token and passes the answer through exactly", async () => {
    const res = await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'dsGeneral', body: QUERY });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    // The body id beyond 2^53 arrives digit for digit.
    expect(res.text).toBe(
      `{"columns":["id","type","dataset","cypher"],"data":[[${BIG_BODY_ID},"MBON01","hemibrain:v1.2",${JSON.stringify(CYPHER)}]]}`,
    );
    expect(neuprint.calls).toEqual([{ authorization: `Bearer ${TOKEN}`, contentType: 'application/json', body: JSON.stringify(QUERY) }]);
  });

  it("accepts the dataset's own neuPrint name with or without a version, and passes neuPrint's refusal through", async () => {
    const bare = await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'general', body: { cypher: CYPHER, dataset: 'hemibrain' } });
    expect(bare.status).toBe(200);
    expect(bare.json.data[0][2]).toBe('hemibrain');
    const otherVersion = await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'general', body: { cypher: CYPHER, dataset: 'hemibrain:v0.9' } });
    expect(otherVersion.status).toBe(400);
    expect(otherVersion.json).toEqual({ error: 'dataset hemibrain:v0.9 not found' });
    expect(neuprint.calls).toHaveLength(2);
  });

  it("refuses a query for another neuPrint dataset with 400 and does not forward it", async () => {
    for (const dataset of ['manc', 'manc:v1.0', 'hemibrainx', '']) {
      const res = await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'general', body: { cypher: CYPHER, dataset } });
      expect(res.status, dataset).toBe(dataset === '' ? 422 : 400);
      if (dataset !== '') expect(res.json.detail).toMatch(/may only query its own neuPrint dataset hemibrain:v1\.2/);
    }
    expect(neuprint.calls).toEqual([]);
  });

  it.each(['dsGeneral', 'general', 'writer'] as Identity[])('lets %s (clio_general) query a private dataset', async (as) => {
    expect((await svc.request('POST', `/v2/neuprint/${DS}`, { as, body: QUERY })).status).toBe(200);
  });

  it.each(['reader', 'dsWriter', 'admin', 'owner', 'unknown'] as Identity[])('refuses %s with 403, as the original, and forwards nothing', async (as) => {
    const res = await svc.request('POST', `/v2/neuprint/${DS}`, { as, body: QUERY });
    expect(res.status).toBe(403);
    expect(res.json.detail).toMatch(/clio_general/);
    expect(neuprint.calls).toEqual([]);
  });

  it('lets anyone signed in query a public dataset, and refuses a disabled user or no token', async () => {
    const res = await svc.request('POST', `/v2/neuprint/${PUBLIC_DS}`, { as: 'unknown', body: { cypher: CYPHER, dataset: 'manc:v1.0' } });
    expect(res.status).toBe(200);
    expect((await svc.request('POST', `/v2/neuprint/${PUBLIC_DS}`, { as: 'disabled', body: QUERY })).status).toBe(403);
    const anonymous = await svc.request('POST', `/v2/neuprint/${PUBLIC_DS}`, { body: QUERY });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(neuprint.calls).toHaveLength(1);
  });

  it('answers under /v2 and /test, with and without a trailing slash, whatever the Content-Type; not at the bare path', async () => {
    const cases: [string, string | null][] = [
      [`/v2/neuprint/${DS}/`, 'application/json'],
      [`/test/neuprint/${DS}`, null],
      [`/test/neuprint/${DS}/`, 'text/plain;charset=UTF-8'],
    ];
    for (const [path, contentType] of cases) {
      const res = await svc.request('POST', path, { as: 'general', rawBody: JSON.stringify(QUERY), contentType });
      expect(res.status, path).toBe(200);
    }
    expect((await svc.request('POST', `/neuprint/${DS}`, { as: 'general', body: QUERY })).status).toBe(404);
    expect(neuprint.calls).toHaveLength(cases.length);
  });

  it.each([
    ['a missing cypher', { dataset: 'hemibrain' }, ['body', 'cypher']],
    ['a cypher that is not a string', { cypher: 7, dataset: 'hemibrain' }, ['body', 'cypher']],
    ['a missing dataset', { cypher: CYPHER }, ['body', 'dataset']],
    ['an array body', [QUERY], ['body']],
  ])('rejects %s with 422 and forwards nothing', async (_name, body, loc) => {
    const res = await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'general', body });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(loc);
    expect(neuprint.calls).toEqual([]);
  });

  it('rejects an empty or malformed body with 422', async () => {
    expect((await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'general' })).status).toBe(422);
    expect((await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'general', rawBody: '{"cypher"' })).status).toBe(422);
    expect(neuprint.calls).toEqual([]);
  });

  it('answers 404 for an unknown dataset and 400 for one without a usable neuPrint server', async () => {
    const missing = await svc.request('POST', '/v2/neuprint/nope', { as: 'general', body: QUERY });
    expect(missing.status).toBe(404);
    expect(missing.json.detail).toBe('dataset nope not found');
    const none = await svc.request('POST', '/v2/neuprint/no-neuprint', { as: 'general', body: QUERY });
    expect(none.status).toBe(400);
    expect(none.json.detail).toMatch(/no-neuprint has no usable neuPrint server/);
    const bad = await svc.request('POST', '/v2/neuprint/bad-neuprint', { as: 'general', body: QUERY });
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toMatch(/server must be a host name/);
    expect(neuprint.calls).toEqual([]);
  });

  it("passes neuPrint's JSON errors through with their status, and turns a non-JSON answer into 502", async () => {
    neuprint.fault = { status: 500, contentType: 'application/json', body: '{"error":"database unavailable"}' };
    const failed = await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'general', body: QUERY });
    expect(failed.status).toBe(500);
    expect(failed.json).toEqual({ error: 'database unavailable' });
    neuprint.fault = { status: 200, contentType: 'text/html', body: '<html>maintenance</html>' };
    const html = await svc.request('POST', `/v2/neuprint/${DS}`, { as: 'general', body: QUERY });
    expect(html.status).toBe(502);
    expect(html.json.detail).toBe(`neuPrint at ${neuprint.host} answered 200 with a body that is not JSON`);
    expect(html.json.error_id).toEqual(expect.any(String));
  });

  it('answers 502 when neuPrint cannot be reached and 504 when it does not answer in time', async () => {
    const closed = new NeuprintTestServer(TOKEN, []);
    await closed.start();
    await closed.close();
    await svc.db.collection(COLLECTIONS.datasets).doc('gone').set({ description: 'gone', public: true, neuprintHTTP: { server: closed.host, dataset: 'x' } });
    await svc.ctx.datasets.refresh();
    const unreachable = await svc.request('POST', '/v2/neuprint/gone', { as: 'general', body: { cypher: CYPHER, dataset: 'x' } });
    expect(unreachable.status).toBe(502);
    expect(unreachable.json.detail).toMatch(new RegExp(`neuPrint at ${closed.host} could not be reached`));

    const impatient = await startTestService(serviceEnv({ UPSTREAM_TIMEOUT_MS: '300' }));
    try {
      await seed(impatient, neuprint.host);
      neuprint.fault = 'hang';
      const slow = await impatient.request('POST', `/v2/neuprint/${DS}`, { as: 'general', body: QUERY });
      expect(slow.status).toBe(504);
      expect(slow.json.detail).toBe(`neuPrint at ${neuprint.host} did not answer within 0.3 s`);
    } finally {
      await impatient.close();
    }
  });

  it('without NEUPRINT_APPLICATION_CREDENTIALS, answers 503 only to callers it authenticated, validated and authorized', async () => {
    const unconfigured = await startTestService({ NEUPRINT_SCHEME: 'http' });
    try {
      await seed(unconfigured, neuprint.host);
      expect(await statusByIdentity(unconfigured, 'POST', `/v2/neuprint/${DS}`, { body: QUERY })).toEqual({
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
      const res = await unconfigured.request('POST', `/v2/neuprint/${DS}`, { as: 'general', body: QUERY });
      expect(res.json.detail).toBe('neuPrint is not available on this server (NEUPRINT_APPLICATION_CREDENTIALS is unset)');
      // A refusal says nothing about the configuration.
      const refused = await unconfigured.request('POST', `/v2/neuprint/${DS}`, { as: 'reader', body: QUERY });
      expect(refused.json.detail).not.toMatch(/NEUPRINT|available/);
      // Invalid input is 422 for every signed-in caller, allowed or not.
      for (const as of ['general', 'reader'] as const) {
        expect((await unconfigured.request('POST', '/v2/neuprint/__x__', { as, body: QUERY })).status, as).toBe(422);
        expect((await unconfigured.request('POST', `/v2/neuprint/${DS}`, { as, body: { dataset: 'hemibrain' } })).status, as).toBe(422);
      }
      expect(neuprint.calls).toEqual([]);
    } finally {
      await unconfigured.close();
    }
  });
});

describe('14. POST /v2/neuprint/{dataset} in DSG mode', () => {
  it("forwards the caller's own DSG key, not the server's credentials (which DSG mode ignores)", async () => {
    const key = dsgKey('dsGeneral');
    const ownKey = await new NeuprintTestServer(key, ['hemibrain:v1.2', 'manc:v1.0']).start();
    const d = await startDsgService(serviceEnv());
    try {
      await seed(d.svc, ownKey.host);
      const res = await d.svc.request('POST', `/v2/neuprint/${DS}`, { as: 'dsGeneral', body: QUERY });
      expect(res.status).toBe(200);
      expect(ownKey.calls.map((call) => call.authorization)).toEqual([`Bearer ${key}`]);
      // Another caller's key is its own, which this neuPrint refuses; the refusal is passed through.
      const other = await d.svc.request('POST', `/v2/neuprint/${DS}`, { as: 'dsWriter', body: QUERY });
      expect(other.status).toBe(401);
      expect(ownKey.calls.at(-1)!.authorization).toBe(`Bearer ${dsgKey('dsWriter')}`);
      // TOS-gated and grant-less callers are refused before neuPrint is asked.
      expect((await d.svc.request('POST', `/v2/neuprint/${DS}`, { as: 'reader', body: QUERY })).status).toBe(403);
      expect(ownKey.calls).toHaveLength(2);
    } finally {
      await d.close();
      await ownKey.close();
    }
  });
});
