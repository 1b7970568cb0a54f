/**
 * The annotations function: points, line segments and spheres per user and dataset (`/v2`, `/test`),
 * and at the bare and `/clio_toplevel` paths the original README's v1 annotations, free-form
 * objects keyed by location.
 */
import type { Caller } from '../../shared/auth/roles';
import type { Authenticator } from '../../shared/auth/authenticate';
import { HttpError } from '../../shared/errors';
import { type Family, JSON_API_DEPLOY, route, type Surface } from '../../shared/http/routes';
import { locatedEntryRoutes } from '../../shared/located-entry-routes';
import { DatasetParams } from '../../shared/ids';
import { type Annotation, AnnotationParams, AnnotationsBody, DeleteQuery, ListQuery, WriteQuery } from './schemas';
import { annotationKey, deleteAnnotation, readAnnotations, v1Annotations, writeAnnotations } from './store';

const V2: readonly Surface[] = ['v2', 'test'];

const refused = (why: string) => new HttpError(401, why);

function requireRead(caller: Caller, dataset: string): void {
  if (!caller.canRead(dataset)) throw refused(`user lacks permission to read dataset ${dataset}`);
}

/** Writing one's own annotations needs can_write_own; anyone else's needs clio_write. */
function requireWrite(caller: Caller, dataset: string, owner: string): void {
  if (owner === caller.email) {
    if (!caller.canWriteOwn(dataset)) throw refused(`user lacks permission to write to dataset ${dataset}`);
  } else if (!caller.canWriteOthers(dataset)) {
    throw refused(`only clio_write holders may change other users' annotations on dataset ${dataset}`);
  }
}

/** Whose annotations to read: the caller (or `user`), plus the members of the named groups. */
async function ownersToRead(caller: Caller, user: string, groups: readonly string[], auth: Authenticator): Promise<string[]> {
  const owners = new Set([user || caller.email]);
  if (groups.length === 0) return [...owners];
  const visible = caller.isAdmin() ? groups : groups.filter((group) => caller.user.groups.includes(group));
  if (visible.length === 0) throw new HttpError(400, `the caller is a member of none of the groups ${groups.join(', ')}`);
  for (const members of await Promise.all(visible.map((group) => auth.members(caller, group)))) {
    for (const member of members) owners.add(member);
  }
  return [...owners];
}

const v2Routes = [
  route({
    method: 'GET',
    path: '/annotations/:dataset',
    surfaces: V2,
    summary: 'Annotations of the caller (or of `user`, admins only) and of the members of `groups`',
    description:
      'A list of `{user, key, kind, pos, prop, tags, title, description}` (absent fields null). `groups` is a comma ' +
      'list of group names; non-admins may only name groups they belong to.',
    params: DatasetParams,
    query: ListQuery,
    handler: async ({ params, query, caller, ctx }) => {
      requireRead(caller, params.dataset);
      if (query.user && query.user !== caller.email && !caller.isAdmin()) {
        throw refused("only admins may read other users' annotations");
      }
      const owners = await ownersToRead(caller, query.user, query.groups, ctx.auth);
      return readAnnotations(ctx.db(), params.dataset, owners);
    },
  }),
  ...(['POST', 'PUT'] as const).map((method) =>
    route({
      method,
      path: '/annotations/:dataset',
      surfaces: V2,
      summary: 'Store one annotation or an array of them',
      description:
        'The key is `Pt{x}_{y}_{z}`, `Ln{...6}` or `Sp{...6}`; the owner is `user` or the caller. With `replace=true` ' +
        '(default) each document is replaced; otherwise the fields are merged in, except the `conditional` ones that ' +
        'already have a value. `move_key` (single annotation only) deletes the old key. All items are written or none. ' +
        'Answers `{"key"}` or `{"keys": [...]}` in input order.',
      params: DatasetParams,
      query: WriteQuery,
      body: AnnotationsBody,
      handler: async ({ params, query, body, caller, ctx }) => {
        const items: Annotation[] = Array.isArray(body) ? body : [body];
        const writes = items.map((item) => {
          const owner = item.user ?? caller.email;
          requireWrite(caller, params.dataset, owner);
          return { owner, key: annotationKey(item), fields: { ...item, user: owner } };
        });
        const single = Array.isArray(body) ? undefined : writes[0];
        const moveFrom = single && query.move_key && query.move_key !== single.key ? { owner: single.owner, key: query.move_key } : undefined;
        await writeAnnotations(ctx.db(), params.dataset, writes, { replace: query.replace, conditional: query.conditional, moveFrom });
        return single ? { key: single.key } : { keys: writes.map(({ key }) => key) };
      },
    }),
  ),
  route({
    method: 'DELETE',
    path: '/annotations/:dataset/:key',
    surfaces: V2,
    summary: "Delete an annotation (the caller's, or `user_email`'s for clio_write holders)",
    params: AnnotationParams,
    query: DeleteQuery,
    handler: async ({ params, query, caller, ctx }) => {
      const owner = query.user_email || caller.email;
      requireWrite(caller, params.dataset, owner);
      await deleteAnnotation(ctx.db(), params.dataset, owner, params.key);
      return null;
    },
  }),
];

/** The original README's v1 annotations: any JSON object per caller, dataset and location. */
const v1Routes = locatedEntryRoutes({
  path: '/annotations/:dataset',
  surfaces: ['legacy'],
  collection: v1Annotations,
  requireRead,
  requireWrite: (caller, dataset) => requireWrite(caller, dataset, caller.email),
  plural: 'v1 annotations',
  singular: 'v1 annotation',
});

export const annotations: Family = {
  name: 'annotations',
  deploy: {
    ...JSON_API_DEPLOY,
    memory: '1Gi',
    concurrency: 40,
    why: 'A user may hold about 10,000 annotations, read and serialised whole (tens of MB at once): more memory and fewer requests per instance keep several such reads side by side safe.',
  },
  routes: [...v2Routes, ...v1Routes],
};
