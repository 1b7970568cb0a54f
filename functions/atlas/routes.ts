/**
 * The atlas function: named points that make a cross-dataset glossary. Users see their own entries
 * per dataset; `/atlas/all` adds the verified entries of every dataset they can read (clio_write
 * holders also see unverified ones, to review them). clio_write holders verify entries.
 */
import { HttpError } from '../../shared/errors';
import { type Family, JSON_API_DEPLOY, route, type Surface } from '../../shared/http/routes';
import { deleteEntries, LocationQuery, readEntries, writeEntry } from '../../shared/located-entries';
import { DatasetParams } from '../../shared/ids';
import { AtlasBody, EntryParams } from './schemas';
import { atlasEntries, readAllEntries, toggleVerified, withVerified } from './store';

const EVERYWHERE: readonly Surface[] = ['v2', 'test', 'legacy'];

const refused = (why: string) => new HttpError(401, why);

export const atlas: Family = {
  name: 'atlas',
  deploy: {
    ...JSON_API_DEPLOY,
    memory: '1Gi',
    concurrency: 40,
    why: '`/atlas/all` reads the whole atlas collection into memory for each request: more memory and fewer requests per instance.',
  },
  routes: [
    route({
      method: 'GET',
      path: '/atlas/all',
      surfaces: EVERYWHERE,
      summary: 'Atlas entries of every dataset the caller can read',
      description:
        'A list of entries (with `id`): the verified ones, the caller\'s own, and for clio_write holders on a dataset ' +
        'also its unverified ones. A missing `verified` reads as false.',
      handler: async ({ caller, ctx }) => {
        const entries = await readAllEntries(ctx.db());
        return entries.filter(({ dataset, user, verified }) => {
          if (typeof dataset !== 'string' || !caller.canRead(dataset)) return false;
          return verified === true || user === caller.email || caller.canWriteOthers(dataset);
        });
      },
    }),
    route({
      method: 'GET',
      path: '/atlas/:dataset',
      surfaces: EVERYWHERE,
      summary: "The caller's atlas entries in a dataset",
      description: 'An object keyed by `x_y_z`.',
      params: DatasetParams,
      handler: async ({ params, caller, ctx }) => {
        if (!caller.canRead(params.dataset)) throw refused(`user lacks permission to read dataset ${params.dataset}`);
        const entries = await readEntries(atlasEntries(ctx.db()), caller.email, params.dataset);
        return Object.fromEntries(Object.entries(entries).map(([key, entry]) => [key, withVerified(entry)]));
      },
    }),
    ...(['POST', 'PUT'] as const).map((method) =>
      route({
        method,
        path: '/atlas/:dataset',
        surfaces: EVERYWHERE,
        summary: 'Create or replace an atlas entry at a location',
        description:
          'Body: `title` and `user` required, any other fields kept. One entry per user, dataset and `x,y,z`: a second ' +
          'POST replaces it. New entries are unverified; setting `verified`, or replacing a verified entry, needs ' +
          'clio_write on the dataset, and an entry keeps its `verified` flag unless the body gives one. Answers the stored entry.',
        params: DatasetParams,
        query: LocationQuery,
        body: AtlasBody,
        handler: async ({ params, query, body, caller, ctx }) => {
          const { dataset } = params;
          if (!caller.canWriteOwn(dataset)) throw refused(`user lacks permission to write to dataset ${dataset}`);
          if (body.user !== caller.email && !caller.canWriteOthers(dataset)) {
            throw refused(`only clio_write holders may write atlas entries for other users on dataset ${dataset}`);
          }
          const canVerify = caller.hasRole('clio_write', dataset);
          if (body.verified === true && !canVerify) throw refused(`only clio_write holders may verify atlas entries on dataset ${dataset}`);
          return writeEntry(atlasEntries(ctx.db()), body.user, dataset, query, (existing, id) => {
            if (existing?.verified === true && !canVerify) {
              throw refused(`the entry is verified; only clio_write holders may change it on dataset ${dataset}`);
            }
            return { ...body, id, verified: body.verified ?? existing?.verified === true };
          });
        },
      }),
    ),
    route({
      method: 'DELETE',
      path: '/atlas/:dataset',
      surfaces: EVERYWHERE,
      summary: "Delete the caller's atlas entry at a location",
      params: DatasetParams,
      query: LocationQuery,
      handler: async ({ params, query, caller, ctx }) => {
        if (!caller.canWriteOwn(params.dataset)) throw refused(`user lacks permission to write to dataset ${params.dataset}`);
        await deleteEntries(atlasEntries(ctx.db()), caller.email, params.dataset, query);
        return null;
      },
    }),
    route({
      method: 'POST',
      path: '/atlas-verify/:id',
      surfaces: EVERYWHERE,
      summary: "Toggle an atlas entry's verification (clio_write)",
      description: "`id` is the entry's `id`. The caller needs clio_write on the entry's dataset. Answers the updated entry.",
      params: EntryParams,
      handler: async ({ params, caller, ctx }) =>
        toggleVerified(ctx.db(), params.id, (entry) => {
          const dataset = typeof entry.dataset === 'string' ? entry.dataset : '';
          if (!caller.hasRole('clio_write', dataset)) {
            throw refused(`only clio_write holders may verify atlas entries on dataset ${dataset}`);
          }
        }),
    }),
  ],
};
