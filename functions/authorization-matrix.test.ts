/**
 * The authorization matrix, generated from the route table: every route against every identity,
 * on a private and on a public dataset, with the expected outcome declared once below (the
 * policy of each route, and who each policy lets in). A route without a declared policy fails,
 * so a new route cannot ship unchecked; so does a policy that leaves an identity unclassified.
 * Refusals write nothing, checked against the emulator. The full matrix runs on each route's
 * canonical path; every other path it is mounted at is checked with one allowed and one refused
 * identity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../shared/collections';
import { mountedPaths, type Route } from '../shared/http/routes';
import { GcsTestServer } from '../shared/testing/gcs-test-server';
import { databaseState, startTestService, type TestService } from '../shared/testing/harness';
import { fillPath, type InputContext, requestInput, routeKey } from '../shared/testing/route-inputs';
import { DvidTestServer } from './json-annotations/dvid-test-server';
import { FAMILIES } from './registry';

const OWNER = 'owner@test.org';

/** Every identity the matrix asks as, with the user document that makes it (none: no document). */
const IDENTITIES = {
  noToken: undefined,
  badToken: undefined,
  unknown: undefined,
  owner: undefined,
  disabled: { global_roles: ['admin', 'clio_general', 'clio_write'], disabled: true },
  dsRead: { datasets: { 'matrix-private': ['clio_read'] } },
  dsGeneral: { datasets: { 'matrix-private': ['clio_general'] } },
  dsWrite: { datasets: { 'matrix-private': ['clio_write'] } },
  dsAdmin: { datasets: { 'matrix-private': ['dataset_admin'] } },
  globalRead: { global_roles: ['clio_read'] },
  globalGeneral: { global_roles: ['clio_general'] },
  globalWrite: { global_roles: ['clio_write'] },
  admin: { global_roles: ['admin'] },
} as const satisfies Record<string, Record<string, unknown> | undefined>;
type Identity = keyof typeof IDENTITIES;
const EVERY_IDENTITY = Object.keys(IDENTITIES) as Identity[];
const SIGNED_IN = EVERY_IDENTITY.filter((who) => who !== 'noToken' && who !== 'badToken' && who !== 'disabled');

const PRIVATE = 'matrix-private';
const PUBLIC = 'matrix-public';
type DatasetKind = 'private' | 'public';

/** Who a policy lets in, on a private and on a public dataset; everyone else is refused. */
type Policy = Readonly<Record<DatasetKind, readonly Identity[]>>;
const both = (who: readonly Identity[]): Policy => ({ private: who, public: who });

const POLICIES = {
  /** No token needed; a bad one is ignored. */
  public: both(EVERY_IDENTITY),
  signedIn: both(SIGNED_IN),
  /** Global admin (OWNER is one). */
  admin: both(['admin', 'owner']),
  /** can_read: global clio_general, a public dataset, or clio_read/clio_general/clio_write on it. */
  read: { private: ['dsRead', 'dsGeneral', 'dsWrite', 'globalGeneral'], public: SIGNED_IN },
  /** can_write_own: global clio_general, a public dataset, or clio_general/clio_write on it. */
  writeOwn: { private: ['dsGeneral', 'dsWrite', 'globalGeneral'], public: SIGNED_IN },
  /** can_write_others: clio_write, globally or on the dataset (a public dataset does not grant it). */
  writeOthers: { private: ['dsWrite', 'globalWrite'], public: ['globalWrite'] },
  /** has_role(clio_general, ds): narrower than read. */
  general: { private: ['dsGeneral', 'globalGeneral'], public: SIGNED_IN },
  /** is_dataset_admin: global admin (OWNER is one) or dataset_admin on the dataset. */
  datasetAdmin: { private: ['dsAdmin', 'admin', 'owner'], public: ['admin', 'owner'] },
  /** has_role(clio_general) with no dataset: the global role only. */
  globalGeneral: both(['globalGeneral']),
} as const satisfies Record<string, Policy>;
type PolicyName = keyof typeof POLICIES;

/** Each route's policy, its refusal status, and whether it is about a dataset (then asked on both kinds). */
interface Expectation {
  readonly policy: PolicyName;
  readonly refusal?: 401 | 403;
  readonly perDataset?: boolean;
}
const D = { perDataset: true } as const;

const EXPECTATIONS: Record<string, Expectation> = {
  'GET /datasets': { policy: 'signedIn' },
  'GET /datasets/:dataset': { policy: 'read', ...D },
  'POST /datasets': { policy: 'admin' },
  'DELETE /datasets': { policy: 'admin' },
  'GET /users': { policy: 'admin' },
  'POST /users': { policy: 'admin' },
  'DELETE /users': { policy: 'admin' },
  'GET /roles': { policy: 'signedIn' },
  'POST /server/token': { policy: 'signedIn' },
  'POST /server/refresh-caches': { policy: 'admin' },
  'POST /site-reports': { policy: 'signedIn' },
  'GET /annotations/:dataset': { policy: 'read', ...D },
  'POST /annotations/:dataset': { policy: 'writeOwn', ...D },
  'PUT /annotations/:dataset': { policy: 'writeOwn', ...D },
  'DELETE /annotations/:dataset/:key': { policy: 'writeOwn', ...D },
  'DELETE /annotations/:dataset': { policy: 'writeOwn', ...D },
  'GET /atlas/all': { policy: 'signedIn' },
  'GET /atlas/:dataset': { policy: 'read', ...D },
  'POST /atlas/:dataset': { policy: 'writeOwn', ...D },
  'PUT /atlas/:dataset': { policy: 'writeOwn', ...D },
  'DELETE /atlas/:dataset': { policy: 'writeOwn', ...D },
  'POST /atlas-verify/:id': { policy: 'writeOthers', ...D },
  'GET /savedsearches/:dataset': { policy: 'general', ...D },
  'POST /savedsearches/:dataset': { policy: 'general', ...D },
  'PUT /savedsearches/:dataset': { policy: 'general', ...D },
  'DELETE /savedsearches/:dataset': { policy: 'general', ...D },
  'GET /kv/:scope/:key': { policy: 'signedIn' },
  'GET /kv/:scope': { policy: 'signedIn' },
  'POST /kv/:scope/:key': { policy: 'signedIn' },
  'DELETE /kv/:scope/:key': { policy: 'signedIn' },
  'POST /pull-request': { policy: 'signedIn' },
  'GET /pull-request': { policy: 'signedIn' },
  'GET /volumes': { policy: 'signedIn' },
  'GET /volumes/:volume': { policy: 'read', ...D },
  'POST /volumes': { policy: 'admin' },
  'DELETE /volumes': { policy: 'admin' },
  'GET /volumes/proxy/:volume/*path': { policy: 'public', ...D },
  'GET /json-annotations/:dataset/neurons/fields': { policy: 'read', ...D },
  'GET /json-annotations/:dataset/neurons/versions': { policy: 'read', ...D },
  'GET /json-annotations/:dataset/neurons/head_tag': { policy: 'read', ...D },
  'GET /json-annotations/:dataset/neurons/head_uuid': { policy: 'read', ...D },
  'GET /json-annotations/:dataset/neurons/tag_to_uuid/:tag': { policy: 'read', ...D },
  'GET /json-annotations/:dataset/neurons/uuid_to_tag/:uuid': { policy: 'read', ...D },
  'GET /json-annotations/:dataset/neurons/all': { policy: 'read', ...D },
  'GET /json-annotations/:dataset/neurons/id-number/:ids': { policy: 'read', ...D },
  'DELETE /json-annotations/:dataset/neurons/id-number/:id': { policy: 'writeOthers', ...D },
  'POST /json-annotations/:dataset/neurons/query': { policy: 'read', ...D },
  'POST /json-annotations/:dataset/neurons': { policy: 'writeOthers', ...D },
  'PUT /json-annotations/:dataset/neurons': { policy: 'writeOthers', ...D },
  'GET /json-annotations/:dataset/neurons/history/:id': { policy: 'read', ...D },
  'POST /json-annotations/:dataset/neurons/revert': { policy: 'writeOthers', ...D },
  'POST /json-annotations/:dataset/neurons/versions': { policy: 'datasetAdmin', ...D },
  'GET /signatures/atlocation/:dataset': { policy: 'general', refusal: 403, ...D },
  'GET /signatures/likelocation/:dataset': { policy: 'general', refusal: 403, ...D },
  'POST /transfer': { policy: 'globalGeneral', refusal: 403, ...D },
  'POST /neuprint/:dataset': { policy: 'general', refusal: 403, ...D },
  // DatasetGateway browser routes: absent (404) in this legacy-mode matrix; functions/dsg-matrix.test.ts asks them in DSG mode.
  'GET /login': { policy: 'public' },
  'GET /profile': { policy: 'signedIn' },
  'GET /logout': { policy: 'public' },
  'POST /logout': { policy: 'public' },
  'GET /dataset-access': { policy: 'signedIn' },
  'GET /': { policy: 'public' },
  'GET /openapi.json': { policy: 'public' },
  'GET /docs': { policy: 'public' },
  'GET /redoc': { policy: 'public' },
  'GET /docs/assets/:version/:file': { policy: 'public' },
};

/** 'allow', or the exact refusal status this identity must get from this route on this dataset. */
function expected(expectation: Expectation, kind: DatasetKind, who: Identity): 'allow' | 401 | 403 {
  if ((POLICIES[expectation.policy][kind] as readonly Identity[]).includes(who)) return 'allow';
  if (who === 'noToken' || who === 'badToken') return 401;
  if (who === 'disabled') return 403;
  return expectation.refusal ?? 401;
}

const ROUTES = FAMILIES.flatMap((family) => family.routes);

let svc: TestService;
let gcs: GcsTestServer;
let dvid: DvidTestServer;
const atlasEntries: Record<DatasetKind, string> = { private: 'matrix-atlas-private', public: 'matrix-atlas-public' };
const datasetOf: Record<DatasetKind, string> = { private: PRIVATE, public: PUBLIC };
const emailOf = (who: Identity) => (who === 'owner' ? OWNER : `${who.toLowerCase()}@matrix.test`);

beforeAll(async () => {
  gcs = await new GcsTestServer().start();
  dvid = await DvidTestServer.start();
  dvid.addNode('u1');
  svc = await startTestService({
    OWNER,
    STORAGE_API_URL: gcs.url,
    SIG_BUCKET: 'signatures',
    NEUPRINT_APPLICATION_CREDENTIALS: 'neuprint-token',
    // Never reached: the datasets offer no transfer model.
    TRANSFER_FUNC: 'http://127.0.0.1:9/transfer',
    TRANSFER_DEST: 'transfer-dest',
  });
  const batch = svc.db.batch();
  for (const [who, doc] of Object.entries(IDENTITIES)) if (doc) batch.set(svc.db.collection(COLLECTIONS.users).doc(emailOf(who as Identity)), doc);
  for (const kind of ['private', 'public'] as const) {
    const dataset = datasetOf[kind];
    batch.set(svc.db.collection(COLLECTIONS.datasets).doc(dataset), { description: kind, public: kind === 'public', dvid: dvid.url, uuid: 'u1' });
    batch.set(svc.db.collection(COLLECTIONS.volumes).doc(dataset), { bucket: 'matrix-bucket', path: kind });
    batch.set(svc.db.collection(COLLECTIONS.annotations).doc('ATLAS').collection('annotations').doc(atlasEntries[kind]), {
      dataset,
      user: 'someone@matrix.test',
      title: 'to verify',
      locationkey: '1_2_3',
      location: [1, 2, 3],
    });
  }
  await batch.commit();
  await svc.ctx.datasets.refresh();
  gcs.put('matrix-bucket', 'private/dir/object.bin', 'private bytes');
  gcs.put('matrix-bucket', 'public/dir/object.bin', 'public bytes');
});
afterAll(async () => {
  await svc.close();
  await Promise.all([gcs.close(), dvid.close()]);
});

function send(route: Route, path: string, kind: DatasetKind, who: Identity) {
  const context: InputContext = { dataset: datasetOf[kind], email: emailOf(who), atlasEntryId: atlasEntries[kind] };
  const { query, body } = requestInput(route, context);
  const url = `${fillPath(route, path, context)}${query ? `?${query}` : ''}`;
  const authorization = who === 'noToken' ? undefined : who === 'badToken' ? 'Bearer not-a-token' : `Bearer ${svc.tokenFor(emailOf(who))}`;
  return svc.request(route.method, url, { authorization, body });
}

/**
 * Asks as each identity in turn, the refused ones first; with `checkWrites`, between two looks at
 * the database (the aliases of a path reach the same handler, so their refusals need no second look).
 */
async function checkMatrix(route: Route, path: string, kind: DatasetKind, askers: readonly Identity[], checkWrites: boolean): Promise<number> {
  const expectation = EXPECTATIONS[routeKey(route)];
  const refused = askers.filter((who) => expected(expectation, kind, who) !== 'allow');
  const before = checkWrites ? await databaseState(svc) : undefined;
  for (const who of refused) {
    const res = await send(route, path, kind, who);
    expect(res.status, `${route.method} ${path} on the ${kind} dataset as ${who}: ${res.text.slice(0, 200)}`).toBe(expected(expectation, kind, who));
    expect(res.json?.detail, `${route.method} ${path} as ${who}`).toBeTruthy();
  }
  if (before) expect(await databaseState(svc), `${route.method} ${path} on the ${kind} dataset: a refusal wrote`).toEqual(before);
  for (const who of askers.filter((asker) => !refused.includes(asker))) {
    const res = await send(route, path, kind, who);
    const what = `${route.method} ${path} on the ${kind} dataset as ${who} -> ${res.status} ${res.text.slice(0, 200)}`;
    expect(res.status, what).toBeLessThan(500);
    expect([401, 403], what).not.toContain(res.status);
  }
  return askers.length;
}

/** Routes of other authentication modes only (DatasetGateway's browser routes) are not served here. */
const inLegacyMode = (route: Route) => !route.modes || route.modes.includes('legacy');

describe('the authorization matrix', () => {
  it('declares a policy for every route of the route table, and none for a route that does not exist', () => {
    expect(ROUTES.map(routeKey).filter((key) => !(key in EXPECTATIONS))).toEqual([]);
    expect(Object.keys(EXPECTATIONS).filter((key) => !ROUTES.some((r) => routeKey(r) === key))).toEqual([]);
  });

  it('answers 404 to every identity on the routes of other authentication modes', async () => {
    for (const route of ROUTES.filter((r) => !inLegacyMode(r))) {
      for (const who of EVERY_IDENTITY) expect((await send(route, mountedPaths(route)[0], 'private', who)).status, `${routeKey(route)} as ${who}`).toBe(404);
    }
  });

  it('classifies only known identities in every policy', () => {
    for (const [name, policy] of Object.entries(POLICIES)) {
      for (const kind of ['private', 'public'] as const) for (const who of policy[kind]) expect(EVERY_IDENTITY, `${name} ${who}`).toContain(who);
    }
  });

  it.each(ROUTES.filter(inLegacyMode).map((r) => [routeKey(r), r] as const))('%s', async (_key, route) => {
    const expectation = EXPECTATIONS[routeKey(route)];
    const kinds: DatasetKind[] = expectation.perDataset ? ['private', 'public'] : ['private'];
    const [canonical, ...aliases] = mountedPaths(route);
    let cells = 0;
    for (const kind of kinds) {
      cells += await checkMatrix(route, canonical || '/', kind, EVERY_IDENTITY, true);
      const allowed = EVERY_IDENTITY.find((who) => expected(expectation, kind, who) === 'allow');
      const refused = EVERY_IDENTITY.find((who) => expected(expectation, kind, who) !== 'allow');
      const pair = [allowed, refused].filter((who): who is Identity => who !== undefined);
      for (const alias of aliases) cells += await checkMatrix(route, alias || '/', kind, pair, false);
    }
    expect(cells).toBeGreaterThan(0);
  });
});
