/**
 * The kv function: each signed-in user's private key-value store (the web app's merge tool keeps
 * its state there) and pull requests, which copy a key-value to where admins and neuclease read it.
 */
import { HttpError } from '../../shared/errors';
import { type Family, JSON_API_DEPLOY, route, type Surface } from '../../shared/http/routes';
import { KeyParams, KeyValue, parsePullReference, PullRequestBody, PullRequestQuery, ScopeParams, TimestampQuery } from './schemas';
import {
  copyToPullRequests,
  deleteValue,
  pullRequestEmails,
  readPullRequests,
  readScope,
  readValue,
  type StoredValue,
  writeValue,
} from './store';

const SURFACES: readonly Surface[] = ['v2', 'test'];

/** The value as clients see it: `_timestamp` only when asked for. */
function shown(value: StoredValue, withTimestamp: boolean): StoredValue {
  if (withTimestamp) return value;
  const { _timestamp: _hidden, ...rest } = value;
  return rest;
}

export const kv: Family = {
  name: 'kv',
  deploy: { ...JSON_API_DEPLOY, why: 'Values of at most 1 MiB, one document per request: I/O-bound, so one instance serves many callers.' },
  routes: [
    route({
      method: 'GET',
      path: '/kv/:scope/:key',
      surfaces: SURFACES,
      summary: "Get one of the caller's key-values",
      description: '404 when the key has no value. `_timestamp` (epoch seconds of the last write) is shown only with `timestamp=true`.',
      params: KeyParams,
      query: TimestampQuery,
      handler: async ({ params, query, caller, ctx }) => {
        const value = await readValue(ctx.db(), caller.email, params.scope, params.key);
        if (!value) throw new HttpError(404, `no value for key ${params.key} in scope ${params.scope}`);
        return shown(value, query.timestamp);
      },
    }),
    route({
      method: 'GET',
      path: '/kv/:scope',
      surfaces: SURFACES,
      summary: "Get all of the caller's key-values in a scope",
      description: '`{ "<key>": value, ... }`, `{}` for an empty scope.',
      params: ScopeParams,
      query: TimestampQuery,
      handler: async ({ params, query, caller, ctx }) => {
        const values = await readScope(ctx.db(), caller.email, params.scope);
        return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, shown(value, query.timestamp)]));
      },
    }),
    route({
      method: 'POST',
      path: '/kv/:scope/:key',
      surfaces: SURFACES,
      summary: 'Set one of the caller\'s key-values',
      description:
        'The body, a JSON object, replaces the value; the server sets `_timestamp`. A value larger than a ' +
        'Firestore document (1 MiB) is refused with 413.',
      params: KeyParams,
      body: KeyValue,
      handler: async ({ params, body, caller, ctx }) => {
        await writeValue(ctx.db(), caller.email, params.scope, params.key, body);
        return null;
      },
    }),
    route({
      method: 'DELETE',
      path: '/kv/:scope/:key',
      surfaces: SURFACES,
      summary: "Delete one of the caller's key-values",
      description: 'Deleting a key without a value is not an error.',
      params: KeyParams,
      handler: async ({ params, caller, ctx }) => {
        await deleteValue(ctx.db(), caller.email, params.scope, params.key);
        return null;
      },
    }),
    route({
      method: 'POST',
      path: '/pull-request',
      surfaces: SURFACES,
      summary: 'Submit one of the caller\'s key-values as a pull request',
      description:
        'Body `{"pull": "kv/<scope>/<key>"}`: the key-value is copied to the caller\'s pull requests with a fresh ' +
        '`_timestamp`. 400 for a malformed reference, 404 when the key has no value.',
      body: PullRequestBody,
      handler: async ({ body, caller, ctx }) => {
        const { scope, key } = parsePullReference(body.pull);
        if (!(await copyToPullRequests(ctx.db(), caller.email, scope, key))) {
          throw new HttpError(404, `no value for key ${key} in scope ${scope} to submit as a pull request`);
        }
        return null;
      },
    }),
    route({
      method: 'GET',
      path: '/pull-request',
      surfaces: SURFACES,
      summary: 'List pull requests',
      description:
        '`{ "<email>": { "<scope>": { "<key>": value } } }`, values with their `_timestamp`. `user_email` empty or ' +
        'absent means the caller; another user\'s e-mail, or `all` for everyone, is for admins only.',
      query: PullRequestQuery,
      handler: async ({ query, caller, ctx }) => {
        const wanted = query.user_email === '' ? caller.email : query.user_email;
        if (wanted !== caller.email && !caller.isAdmin()) {
          throw new HttpError(401, wanted === 'all' ? 'only admins may read all pull requests' : `only admins may read the pull requests of ${wanted}`);
        }
        const emails = wanted === 'all' ? await pullRequestEmails(ctx.db()) : [wanted];
        return readPullRequests(ctx.db(), emails);
      },
    }),
  ],
};
