/**
 * The json-annotations calls of the real clients (reference/clients.md: clio-py/neuclease, malevnc,
 * coda, the web app), exactly as they send them, against a Firestore-native dataset: through the
 * local server in this process, and through `npm start` itself, spawned as its own process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawnNpmStart, type StartedServer } from '../../emulator/spawn-start';
import { COLLECTIONS } from '../../shared/collections';
import { DS, FLYEM_SECRET, OWNER, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';

const BIG = '18446744073709551615';
const NEURONS = `/v2/json-annotations/${DS}/neurons`;

/** The flows run twice: through the local server in this process, and through `npm start` in its own. */
describe.each(['the local server', 'npm start'] as const)('the clients on a native dataset, through %s', (target) => {
  let svc: TestService;
  let local: TestService;
  let started: StartedServer | undefined;
  let dataDir: string | undefined;

  beforeAll(async () => {
    local = await startTestService();
    await seedStandardData(local.db);
    await local.db.collection(COLLECTIONS.datasets).doc(DS).set({ neurons: { store: 'firestore' } }, { merge: true });
    await local.ctx.datasets.refresh();
    svc = local;
    if (target === 'npm start') {
      dataDir = mkdtempSync(join(tmpdir(), 'clio-clients-'));
      started = await spawnNpmStart({
        FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'),
        GOOGLE_CLOUD_PROJECT: local.projectId,
        FLYEM_SECRET,
        OWNER,
        TEST_USER: '',
        CLIO_DATA_DIR: dataDir,
      });
      svc = local.at(started.url);
    }
    const tag = await svc.request('POST', `${NEURONS}/versions`, { as: 'admin', body: { tag: 'v1.0', head: true } });
    expect(tag.status).toBe(200);
  }, 180_000);
  afterAll(async () => {
    await started?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await local.close();
  });

  it('clio-py / neuclease: metadata, then set_annotations in chunks of 50 without Content-Type, then fetch_annotations', async () => {
    const as = 'dsWriter';
    expect((await svc.request('GET', '/v2/datasets?app=clio-py', { as })).json).toHaveProperty(DS);
    const headUuid = (await svc.request('GET', `${NEURONS}/head_uuid?app=clio-py`, { as })).json;
    expect(headUuid).toMatch(/^[0-9a-f]{32}$/);
    expect((await svc.request('GET', `${NEURONS}/head_tag?app=clio-py`, { as })).json).toBe('v1.0');
    expect((await svc.request('GET', `${NEURONS}/uuid_to_tag/${headUuid}?app=clio-py`, { as })).json).toBe('v1.0');
    const records = Array.from({ length: 50 }, (_, i) => ({ bodyid: i + 1, status: i % 2 ? 'Traced' : 'Anchor', type: null }));
    const posted = await svc.request('POST', `${NEURONS}?app=clio-py`, { as, rawBody: JSON.stringify(records), contentType: null });
    expect(posted.status, posted.text).toBe(200);
    // set_fields: None clears a field.
    await svc.request('POST', `${NEURONS}?app=clio-py`, { as, rawBody: '[{"bodyid":1,"status":null,"notes":"split"}]', contentType: null });
    const fetched = await svc.request('POST', `${NEURONS}/query?show=user&app=clio-py`, { as, rawBody: '{"status":["Traced"],"bodyid":[1,2,3,4]}' });
    // `type: null` (clio-py's "clear") leaves, as in DVID, a record of who cleared it.
    const stamped = { status: 'Traced', status_user: USERS.dsWriter.email, type_user: USERS.dsWriter.email };
    expect(fetched.json).toEqual([
      { bodyid: 2, ...stamped },
      { bodyid: 4, ...stamped },
    ]);
    expect((await svc.request('POST', `${NEURONS}/query?app=clio-py`, { as, rawBody: '{"bodyid":[1]}' })).json).toEqual([{ bodyid: 1, notes: 'split' }]);
    expect((await svc.request('GET', `${NEURONS}/fields?app=clio-py`, { as })).json).toEqual(['bodyid', 'notes', 'status']);
  });

  it('malevnc: annotate with version, conditional and designated_user, then read all, id-number and query with its extra parameters', async () => {
    const as = 'writer';
    const body = `{"bodyid":${BIG},"user":"alice@x.org","type":"DNa01"}`;
    const annotate = (params: string, text: string) =>
      svc.request('POST', `${NEURONS}?app=natverse&${params}`, { as, rawBody: text, contentType: 'application/json' });
    expect((await annotate('version=v1.0&conditional=user&designated_user=alice@x.org', body)).status).toBe(200);
    // protect=c("user"): a second annotation keeps the stored user.
    await annotate('version=v1.0&conditional=user&designated_user=bob@x.org', `{"bodyid":${BIG},"user":"bob@x.org","type":"DNa02"}`);
    const ids = await svc.request('GET', `${NEURONS}/id-number/${BIG}?changes=false&id_field=bodyid&show=none&app=natverse`, { as });
    expect(ids.text).toBe(`[{"bodyid":${BIG},"type":"DNa02","user":"alice@x.org"}]`);
    const shown = await svc.request('POST', `${NEURONS}/query?changes=false&id_field=bodyid&show=user&app=natverse`, { as, rawBody: '{"type":"DNa02"}' });
    expect(shown.text).toBe(`[{"bodyid":${BIG},"type":"DNa02","type_user":"bob@x.org","user":"alice@x.org"}]`);
    expect((await svc.request('GET', `${NEURONS}/all?app=natverse`, { as })).text).toContain(`{"bodyid":${BIG},"type":"DNa02","user":"alice@x.org"}`);
  });

  it('coda and the web app: fields, bodyid queries with uint64 ids, lists of 50, text/plain bodies', async () => {
    const as = 'writer';
    const list = JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ bodyid: 5000 + i, class: 'LC' })));
    expect((await svc.request('POST', `${NEURONS}?app=coda`, { as, rawBody: list })).status).toBe(200);
    expect((await svc.request('GET', `${NEURONS}/fields?app=coda`, { as })).json).toContain('class');
    const byId = await svc.request('POST', `${NEURONS}/query?app=coda`, { as, rawBody: `{"bodyid":[${BIG},5049]}` });
    expect(byId.text).toBe(`[{"bodyid":${BIG},"type":"DNa02","user":"alice@x.org"},{"bodyid":5049,"class":"LC"}]`);
    const web = await svc.request('POST', NEURONS, { as, rawBody: '{"bodyid":5000,"class":"LC4"}', contentType: 'text/plain;charset=UTF-8' });
    expect(web.status).toBe(200);
    expect((await svc.request('GET', `${NEURONS}/id-number/5000,5001`, { as })).json).toEqual([
      { bodyid: 5000, class: 'LC4' },
      { bodyid: 5001, class: 'LC' },
    ]);
  });
});
