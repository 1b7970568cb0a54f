/**
 * The identity matrix of every route in DSG mode. Each route is asked the same request, by every
 * identity, of a legacy service (FlyEM tokens, roles from `clio_users`) and of a DSG service whose
 * stand-in holds the same identities as DSG users (shared/testing/dsg-identities.ts), both
 * starting from the same data and seeing the same sequence of requests. The legacy matrices are
 * pinned by each family's own tests; here DSG mode must give the same statuses, except where DSG
 * deliberately differs, each difference listed below with its reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountedPaths, type Route } from '../shared/http/routes';
import { startDsgService, type DsgService } from '../shared/testing/dsg-service';
import { type Asker, DS, type Identity, seedStandardData, startTestService, statusByIdentity, type TestService, USERS } from '../shared/testing/harness';
import { FAMILIES } from './registry';

const PARAMS: Record<string, string> = {
  dataset: DS,
  key: 'Pt1_2_3',
  scope: 'matrix-scope',
  volume: 'matrix-vol',
  id: 'no-such-entry',
  tag: 'v1',
  uuid: 'abc',
  ids: '1,2',
  file: 'no-such.css',
  path: 'a/b.png',
};
const XYZ = 'x=1&y=2&z=3';

/** A valid request for each route that needs more than its path (keyed by method and path). */
const SAMPLES: Record<string, { query?: string; body?: unknown }> = {
  'POST /datasets': { body: { 'matrix-ds': { description: 'matrix' } } },
  'DELETE /datasets': { body: ['matrix-ds'] },
  'POST /users': { body: { 'new@test.org': { global_roles: [] } } },
  'DELETE /users': { body: ['new@test.org'] },
  'GET /login': { query: 'redirect=https%3A%2F%2Fclio.example%2F' },
  'GET /dataset-access': { query: `dataset=${DS}&redirect=https%3A%2F%2Fclio.example%2F` },
  'POST /site-reports': { body: { page: 'matrix' } },
  'POST v2 /annotations/:dataset': { body: { kind: 'point', pos: [1, 2, 3] } },
  'PUT v2 /annotations/:dataset': { body: { kind: 'point', pos: [1, 2, 3] } },
  'POST legacy /annotations/:dataset': { query: XYZ, body: { note: 'matrix' } },
  'PUT legacy /annotations/:dataset': { query: XYZ, body: { note: 'matrix' } },
  'DELETE legacy /annotations/:dataset': { query: XYZ },
  'POST /atlas/:dataset': { query: XYZ, body: { title: 'matrix', user: USERS.dsGeneral.email } },
  'PUT /atlas/:dataset': { query: XYZ, body: { title: 'matrix', user: USERS.dsGeneral.email } },
  'DELETE /atlas/:dataset': { query: XYZ },
  'POST /savedsearches/:dataset': { query: XYZ, body: { note: 'matrix' } },
  'PUT /savedsearches/:dataset': { query: XYZ, body: { note: 'matrix' } },
  'DELETE /savedsearches/:dataset': { query: XYZ },
  'POST /kv/:scope/:key': { body: { value: 1 } },
  'POST /pull-request': { body: { pull: 'matrix' } },
  'POST /volumes': { body: { 'matrix-vol': { bucket: 'matrix-bucket', path: 'p' } } },
  'DELETE /volumes': { body: ['matrix-vol'] },
  'POST /json-annotations/:dataset/neurons/query': { body: { bodyid: 1 } },
  'POST /json-annotations/:dataset/neurons': { body: [{ bodyid: 1 }] },
  'PUT /json-annotations/:dataset/neurons': { body: [{ bodyid: 1 }] },
  'GET /signatures/atlocation/:dataset': { query: XYZ },
  'GET /signatures/likelocation/:dataset': { query: XYZ },
  'POST /transfer': { body: { dataset: DS, model_name: 'm', center: [1, 2, 3] } },
  'POST /neuprint/:dataset': { body: { cypher: 'MATCH (n) RETURN n', dataset: 'hemibrain' } },
};

const SIGNED_IN: Identity[] = ['reader', 'dsGeneral', 'dsWriter', 'general', 'writer', 'admin', 'unknown', 'owner'];
const everyone = (status: number) => Object.fromEntries(SIGNED_IN.map((identity) => [identity, status]));

/**
 * Where DSG mode answers differently from legacy mode, for all routes (`*`) or one route, and why.
 * `reader` holds its DSG grant behind a pending TOS, so it is refused like `unknown` (except in
 * dataset lists); `general` and `writer` have no global roles in DSG (grants on the two standard
 * datasets only); DSG refuses disabled users itself (401, not 403).
 */
const DIFFERENCES: Record<string, (legacy: Record<Asker, number>) => Partial<Record<Asker, number>>> = {
  '*': (legacy) => ({ disabled: legacy.disabled === 403 ? 401 : legacy.disabled, reader: legacy.unknown }),
  // User management has moved to DSG.
  'GET /users': () => everyone(501),
  'POST /users': () => everyone(501),
  'DELETE /users': () => everyone(501),
  // The browser routes exist only in DSG modes (legacy: 404).
  'GET /login': () => ({ noToken: 302, badToken: 302, disabled: 302, ...everyone(302) }),
  'GET /logout': () => ({ noToken: 302, badToken: 302, disabled: 302, ...everyone(302) }),
  'POST /logout': () => ({ noToken: 302, badToken: 302, disabled: 302, ...everyone(302) }),
  'GET /profile': () => ({ noToken: 401, badToken: 401, disabled: 401, ...everyone(200) }),
  'GET /dataset-access': () => ({ noToken: 401, badToken: 401, disabled: 401, ...everyone(200) }),
  // DSG's edit implies view, so dsWriter also holds clio_general (legacy dsWriter holds only clio_write).
  ...Object.fromEntries(
    ['GET', 'POST', 'PUT', 'DELETE'].map((method) => [`${method} /savedsearches/:dataset`, (legacy: Record<Asker, number>) => ({ dsWriter: legacy.dsGeneral })]),
  ),
  'GET /signatures/atlocation/:dataset': (legacy) => ({ dsWriter: legacy.dsGeneral }),
  'GET /signatures/likelocation/:dataset': (legacy) => ({ dsWriter: legacy.dsGeneral }),
  // A volume nobody holds a grant on: legacy general and writer read every volume through their global clio_general.
  'GET /volumes/:volume': (legacy) => ({ general: legacy.unknown, writer: legacy.unknown }),
  // Transfer needs the global clio_general role, which DSG never grants (as upstream HEAD).
  'POST /transfer': (legacy) => ({ general: legacy.unknown, writer: legacy.unknown }),
  // DSG callers' own keys are forwarded, so NEUPRINT_APPLICATION_CREDENTIALS is not needed (no 503); the
  // standard dataset has no neuPrint server (400). dsWriter holds clio_general (above).
  'POST /neuprint/:dataset': (legacy) => ({ dsGeneral: 400, dsWriter: 400, general: 400, writer: 400, reader: legacy.unknown }),
};

interface Case {
  readonly name: string;
  readonly route: Route;
  readonly path: string;
  readonly query: string;
  readonly body: unknown;
}

function cases(): Case[] {
  return FAMILIES.flatMap((family) =>
    family.routes.map((route) => {
      const mounted = mountedPaths(route)[0] || '/';
      const path = mounted.replace(/[:*](\w+)/g, (_, name: string) => PARAMS[name]);
      const surface = route.surfaces.includes('v2') ? 'v2' : route.surfaces[0];
      const sample = SAMPLES[`${route.method} ${surface} ${route.path}`] ?? SAMPLES[`${route.method} ${route.path}`] ?? {};
      return { name: `${family.name}: ${route.method} ${mounted}`, route, path, query: sample.query ?? '', body: sample.body };
    }),
  );
}

let legacy: TestService;
let d: DsgService;
beforeAll(async () => {
  legacy = await startTestService();
  await seedStandardData(legacy.db);
  d = await startDsgService();
});
afterAll(async () => {
  await legacy.close();
  await d.close();
});

describe('every route in DSG mode, by identity', () => {
  it.each(cases().map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const url = c.query ? `${c.path}?${c.query}` : c.path;
    const before = await statusByIdentity(legacy, c.route.method, url, { body: c.body });
    const after = await statusByIdentity(d.svc, c.route.method, url, { body: c.body });
    const differences = { ...DIFFERENCES['*'](before), ...DIFFERENCES[`${c.route.method} ${c.route.path}`]?.(before) };
    expect(after).toEqual({ ...before, ...differences });
  });
});
