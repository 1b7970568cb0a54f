/**
 * Values that cannot be Firestore document ids, and odd ones that can, in every place a request
 * names a document: each path parameter of every route in the route table (so a new route is
 * covered without edits here), and the query and body values that name documents. The answer is
 * a 2xx or a 4xx with a `detail`, never a 5xx, within a second; a refusal writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountedPaths, type Route } from '../shared/http/routes';
import { databaseState, DS, type TestService } from '../shared/testing/harness';
import { fillPath, requestInput } from '../shared/testing/route-inputs';
import { EVERYTHING, startSweepService, SWEEP_CONTEXT, type SweepService } from '../shared/testing/sweep-service';
import { FAMILIES } from './registry';

/** As they appear in a URL; bodies get them decoded. */
const HOSTILE = ['__x__', 'a%2Fb', '..%2F..%2Fx', '%2e%2e', 'x'.repeat(1600), '%F0%9F%98%80', 'a%00b', '%25', 'a%20b'];
const decoded = (value: string) => decodeURIComponent(value);

const CONTEXT = SWEEP_CONTEXT;

let svc: TestService;
let sweep: SweepService;
beforeAll(async () => {
  sweep = await startSweepService();
  svc = sweep.svc;
});
afterAll(() => sweep.close());

interface Probe {
  method: string;
  /** Path and query, URL-encoded. */
  url: string;
  body?: unknown;
}

/** Sends the probe; checks that the answer is a 2xx, or a 4xx with a detail, and came in time. */
async function send({ method, url, body }: Probe): Promise<number> {
  const started = Date.now();
  const res = await svc.request(method, url, { authorization: `Bearer ${svc.tokenFor(EVERYTHING)}`, body });
  const elapsed = Date.now() - started;
  const what = `${method} ${url.slice(0, 120)} -> ${res.status} ${res.text.slice(0, 200)}`;
  expect(res.status, what).toBeLessThan(500);
  expect(elapsed, what).toBeLessThan(1000);
  if (res.status >= 400) expect(res.json?.detail, what).toBeTruthy();
  return res.status;
}

/**
 * Sends the probes, then checks that the refused ones wrote nothing: when the database is the
 * same after all of them, none wrote; otherwise they are sent again one by one, each between two
 * looks at the database, and each refused one must leave it as it was.
 */
async function expectHandled(probes: readonly Probe[]): Promise<void> {
  const before = await databaseState(svc);
  for (const probe of probes) await send(probe);
  if (equalStates(before, await databaseState(svc))) return;
  for (const probe of probes) {
    const ahead = await databaseState(svc);
    const status = await send(probe);
    if (status >= 400) expect(await databaseState(svc), `${probe.method} ${probe.url.slice(0, 120)} -> ${status}`).toEqual(ahead);
  }
}

const equalStates = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>) =>
  a.size === b.size && [...a].every(([path, doc]) => b.get(path) === doc);

/** One probe per path parameter of the route's first mount and hostile value. */
function pathProbes(route: Route): Probe[] {
  const path = mountedPaths(route)[0];
  const names = [...path.matchAll(/[:*](\w+)/g)].map((match) => match[1]);
  const { query, body } = requestInput(route, CONTEXT);
  return names.flatMap((name) =>
    HOSTILE.map((value) => ({ method: route.method, url: `${fillPath(route, path, CONTEXT, { name, value })}${query ? `?${query}` : ''}`, body })),
  );
}

const routesWithParams = FAMILIES.flatMap((family) => family.routes.filter((route) => /[:*]/.test(route.path)));

describe('hostile ids in paths', () => {
  it('covers every route of the route table that has a path parameter', () => {
    expect(routesWithParams.length).toBeGreaterThan(30);
  });

  it.each(routesWithParams.map((route) => [`${route.method} ${route.path}`, route] as const))('%s', async (_name, route) => {
    await expectHandled(pathProbes(route));
  });

  it('refuses every value Firestore cannot store with 422 naming the parameter, at once', async () => {
    for (const hostile of ['__x__', 'a%2Fb', '..%2F..%2Fsomeone%40example.org', 'x'.repeat(1600)]) {
      for (const url of [`/v2/datasets/${hostile}`, `/v2/volumes/${hostile}`, `/v2/kv/${hostile}/k`, `/v2/atlas/${hostile}`]) {
        const res = await svc.request('GET', url, { authorization: `Bearer ${svc.tokenFor(EVERYTHING)}` });
        expect(res.status, url).toBe(422);
        expect(res.json.detail[0].loc[0], url).toBe('path');
        expect(res.json.detail[0].msg, url).toMatch(/(id|scope) must /);
      }
    }
  });
});

/** Requests whose query or body names a document, for one hostile value (decoded for bodies). */
function valueProbes(hostile: string): Probe[] {
  const id = decoded(hostile);
  return [
    { method: 'POST', url: '/v2/datasets', body: { [id]: { description: 'd' } } },
    { method: 'DELETE', url: '/v2/datasets', body: [id] },
    { method: 'POST', url: '/v2/volumes', body: { [id]: { bucket: 'volume-bucket', path: 'p' } } },
    { method: 'DELETE', url: '/v2/volumes', body: [id] },
    { method: 'POST', url: '/v2/users', body: { [id]: { global_roles: [] } } },
    { method: 'POST', url: '/v2/users', body: { 'someone@test.org': { datasets: { [id]: ['clio_read'] } } } },
    { method: 'DELETE', url: '/v2/users', body: [id] },
    { method: 'POST', url: '/v2/transfer', body: { dataset: id, model_name: 'm', center: [1, 2, 3] } },
    { method: 'GET', url: `/v2/pull-request?user_email=${hostile}` },
    { method: 'POST', url: '/v2/pull-request', body: { pull: `kv/${id}/k` } },
    { method: 'POST', url: '/v2/pull-request', body: { pull: `kv/s/${id}` } },
    { method: 'GET', url: `/v2/annotations/${DS}?user=${hostile}` },
    { method: 'DELETE', url: `/v2/annotations/${DS}/k?user_email=${hostile}` },
    { method: 'POST', url: `/v2/annotations/${DS}?move_key=${hostile}`, body: { kind: 'point', pos: [1, 2, 3] } },
    { method: 'POST', url: `/v2/annotations/${DS}`, body: { kind: 'point', pos: [1, 2, 3], user: id } },
  ];
}

describe('hostile ids in query and body values', () => {
  it.each(HOSTILE.map((hostile) => [hostile.slice(0, 20), hostile]))('%s', async (_name, hostile) => {
    await expectHandled(valueProbes(hostile));
  });

  it('refuses a lone surrogate (no UTF-8 form) as an id in a body with 422', async () => {
    const res = await svc.request('POST', '/v2/datasets', {
      authorization: `Bearer ${svc.tokenFor(EVERYTHING)}`,
      rawBody: '{"a\\ud800b": {"description": "d"}}',
    });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].msg).toMatch(/dataset id must be valid Unicode/);
  });

  it('refuses a token whose e-mail cannot name a user document with 401', async () => {
    for (const email of ['a/b@test.org', '__x__', '']) {
      const res = await svc.request('GET', '/v2/roles', { authorization: `Bearer ${svc.tokenFor(email)}` });
      expect(res.status, email).toBe(401);
    }
  });
});
