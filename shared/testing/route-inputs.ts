/**
 * A valid request for every route of the route table, for the tests that sweep all routes (the
 * authorization matrix, hostile ids, fuzzing): path parameters by name, and the query and body of
 * the routes that need them. Writes name scratch documents, so a sweep never destroys fixtures.
 */
import type { Route } from '../http/routes';

export interface InputContext {
  /** The dataset the request is about. */
  readonly dataset: string;
  /** The caller's e-mail, for bodies that name their owner. */
  readonly email: string;
  /** An existing atlas entry of `dataset`, for `/atlas-verify/{id}`. */
  readonly atlasEntryId: string;
}

export interface RequestInput {
  /** Path parameters whose value differs from `paramValues` for this route. */
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: string;
  readonly body?: unknown;
}

const AT = 'x=1&y=2&z=3';
const POINT = { kind: 'point', pos: [1, 2, 3] };

/** The value of each path parameter. */
export function paramValues(context: InputContext): Record<string, string> {
  return {
    dataset: context.dataset,
    volume: context.dataset,
    scope: 'scratch-scope',
    key: 'scratch-key',
    id: context.atlasEntryId,
    ids: '1,2',
    tag: 'v1.0',
    uuid: 'u1',
    version: 'any-version',
    file: 'swagger-ui.css',
    path: 'dir/object.bin',
  };
}

const INPUTS: Record<string, (context: InputContext) => RequestInput> = {
  'POST /datasets': () => ({ body: { 'scratch-ds': { description: 'scratch' } } }),
  'DELETE /datasets': () => ({ body: ['scratch-ds'] }),
  'POST /users': () => ({ body: { 'scratch@test.org': { global_roles: [] } } }),
  'DELETE /users': () => ({ body: ['scratch@test.org'] }),
  'POST /site-reports': () => ({ body: { page: 'matrix' } }),
  'POST /volumes': () => ({ body: { 'scratch-volume': { bucket: 'scratch-bucket', path: 'p' } } }),
  'DELETE /volumes': () => ({ body: ['scratch-volume'] }),
  'POST /annotations/:dataset': () => ({ query: AT, body: POINT }),
  'PUT /annotations/:dataset': () => ({ query: AT, body: POINT }),
  'DELETE /annotations/:dataset': () => ({ query: AT }),
  'POST /savedsearches/:dataset': () => ({ query: AT, body: { note: 'n' } }),
  'PUT /savedsearches/:dataset': () => ({ query: AT, body: { note: 'n' } }),
  'DELETE /savedsearches/:dataset': () => ({ query: AT }),
  'DELETE /json-annotations/:dataset/neurons/id-number/:id': () => ({ params: { id: '5' } }),
  'GET /json-annotations/:dataset/neurons/history/:id': () => ({ params: { id: '5' } }),
  'POST /json-annotations/:dataset/neurons/revert': () => ({ body: { bodyids: [5], to: '1700000000' } }),
  'POST /json-annotations/:dataset/neurons/versions': () => ({ body: { tag: 'v9' } }),
  'POST /atlas/:dataset': ({ email }) => ({ query: AT, body: { title: 't', user: email } }),
  'PUT /atlas/:dataset': ({ email }) => ({ query: AT, body: { title: 't', user: email } }),
  'DELETE /atlas/:dataset': () => ({ query: AT }),
  'POST /kv/:scope/:key': () => ({ body: { a: 1 } }),
  'POST /pull-request': () => ({ body: { pull: 'kv/scratch-scope/scratch-key' } }),
  'POST /json-annotations/:dataset/neurons': () => ({ body: { bodyid: 5, status: 'Traced' } }),
  'PUT /json-annotations/:dataset/neurons': () => ({ body: { bodyid: 5, status: 'Traced' } }),
  'POST /json-annotations/:dataset/neurons/query': () => ({ body: { status: 'Traced' } }),
  'GET /signatures/atlocation/:dataset': () => ({ query: AT }),
  'GET /signatures/likelocation/:dataset': () => ({ query: AT }),
  'POST /transfer': ({ dataset }) => ({ body: { dataset, model_name: 'm', center: [1, 2, 3] } }),
  'POST /neuprint/:dataset': () => ({ body: { cypher: 'MATCH (n) RETURN n', dataset: 'hemibrain' } }),
};

export const routeKey = (route: Route) => `${route.method} ${route.path}`;

/** The query and body a valid request of this route carries (none for most reads). */
export function requestInput(route: Route, context: InputContext): RequestInput {
  return INPUTS[routeKey(route)]?.(context) ?? {};
}

/** `path` (one of the route's mounted paths) with every parameter filled in, except `except`, which gets `value` as written. */
export function fillPath(route: Route, path: string, context: InputContext, except?: { name: string; value: string }): string {
  const values = { ...paramValues(context), ...requestInput(route, context).params };
  return path.replace(/[:*](\w+)/g, (_all, name: string) => {
    if (except?.name === name) return except.value;
    if (!(name in values)) throw new Error(`no value for the path parameter ${name} of ${path}: add one to paramValues`);
    return values[name];
  });
}
