/**
 * Property-based fuzzing (fast-check) of every write route and every route with a path
 * parameter, family by family: random and boundary path values, query values and bodies. Every
 * answer is a 2xx or a 4xx with a `detail`, never a 5xx, and a refused request writes nothing.
 * CI runs a fixed-seed subset; `FUZZ_RUNS=1000` runs the nightly size (the seed is printed on a failure).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountedPaths, type Route } from '../shared/http/routes';
import { databaseState, type TestService } from '../shared/testing/harness';
import { fillPath, requestInput } from '../shared/testing/route-inputs';
import { EVERYTHING, startSweepService, SWEEP_CONTEXT, type SweepService } from '../shared/testing/sweep-service';
import { FAMILIES } from './registry';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = 20261201;
const CONTEXT = SWEEP_CONTEXT;

/** Text that ends up in paths and ids: ordinary, reserved by Firestore, long, and any Unicode. */
const idText = fc.oneof(
  fc.constantFrom('__x__', '..', '.', 'a/b', '%', ' ', 'x'.repeat(1600), '\u0000', '😀', '18446744073709551616', '-1', '0'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

/** JSON bodies: any JSON, deep nesting, numbers at and beyond the uint64 edges, long strings. */
const bodies = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(
    JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`),
    { kind: 'point', pos: [1e308, -1e308, 0] },
    { description: 'd'.repeat(200_000) },
    [],
    {},
  ),
  fc.dictionary(idText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** A raw body text, for what JSON.stringify cannot produce: duplicate keys, huge integers. */
const rawBodies = fc.constantFrom(
  '{"a":1,"a":2}',
  '{"user":"x","user":"y"}',
  '{"bodyid":18446744073709551615,"x":-9007199254740993}',
  '{"bodyid":18446744073709551616}',
  '{"bodyid":184467440737095516150}',
  '[',
  '',
);

const queryValues = fc.dictionary(fc.constantFrom('x', 'y', 'z', 'user', 'user_email', 'move_key', 'version', 'show', 'size', 'cursor', 'as_of', 'replace', 'templates'), idText, { maxKeys: 4 });

let svc: TestService;
let sweep: SweepService;
beforeAll(async () => {
  sweep = await startSweepService();
  svc = sweep.svc;
});
afterAll(() => sweep.close());

const writes = (route: Route) => route.method !== 'GET';
const hasParams = (route: Route) => /[:*]/.test(route.path);

interface Case {
  route: Route;
  url: string;
  body?: string;
}

const cases = (routes: readonly Route[]) =>
  fc.record({
    route: fc.constantFrom(...routes),
    param: idText,
    which: fc.nat(),
    query: queryValues,
    body: fc.oneof(bodies.map((value) => JSON.stringify(value) ?? 'null'), rawBodies),
    keepValidBody: fc.boolean(),
  }).map(({ route, param, which, query, body, keepValidBody }): Case => {
    const path = mountedPaths(route)[0] || '/';
    const names = [...path.matchAll(/[:*](\w+)/g)].map((match) => match[1]);
    const name = names.length > 0 ? names[which % names.length] : undefined;
    const url = fillPath(route, path, CONTEXT, name ? { name, value: encodeURIComponent(param) } : undefined);
    const valid = requestInput(route, CONTEXT);
    const search = new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(valid.query ?? '')), ...query });
    const sent = keepValidBody && valid.body !== undefined ? JSON.stringify(valid.body) : body;
    return { route, url: `${url}?${search}`, body: writes(route) ? sent : undefined };
  });

async function answer({ route, url, body }: Case) {
  const res = await svc.request(route.method, url, { authorization: `Bearer ${svc.tokenFor(EVERYTHING)}`, rawBody: body });
  const what = `${route.method} ${url.slice(0, 160)} ${String(body).slice(0, 120)} -> ${res.status} ${res.text.slice(0, 200)}`;
  return { res, what };
}

describe.each(FAMILIES.map((family) => [family.name, family.routes.filter((route) => (writes(route) || hasParams(route)) && (!route.modes || route.modes.includes('legacy')))] as const).filter(([, routes]) => routes.length > 0))(
  'fuzzing %s',
  (_name, routes) => {
    it(`answers ${RUNS} random requests with a 2xx or a 4xx with detail, and refusals write nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(cases(routes), async (sample) => {
          const before = await databaseState(svc);
          const { res, what } = await answer(sample);
          expect(res.status, what).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.json?.detail, what).toBeTruthy();
            expect(await databaseState(svc), `a refusal wrote: ${what}`).toEqual(before);
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    }, Math.max(600_000, RUNS * 1_000)); // the nightly size took up to 330 s per family here
  },
);
