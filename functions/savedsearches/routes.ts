/**
 * The savedsearches function: a user's saved image-search locations per dataset, keyed `x_y_z`.
 * Every route needs `clio_general` on the dataset (a public dataset grants it).
 */
import type { Caller } from '../../shared/auth/roles';
import { HttpError } from '../../shared/errors';
import { type Family, route, type Surface } from '../../shared/http/routes';
import { deleteEntries, LocationQuery, readEntries, writeEntry } from '../../shared/located-entries';
import { DatasetParams, SavedSearchBody } from './schemas';
import { savedSearches as collection } from './store';

const EVERYWHERE: readonly Surface[] = ['v2', 'test', 'legacy'];

function requireGeneral(caller: Caller, dataset: string): void {
  if (!caller.hasRole('clio_general', dataset)) {
    throw new HttpError(401, `saved searches need the clio_general role on dataset ${dataset}`);
  }
}

export const savedsearches: Family = {
  name: 'savedsearches',
  routes: [
    route({
      method: 'GET',
      path: '/savedsearches/:dataset',
      surfaces: EVERYWHERE,
      summary: "The caller's saved searches in a dataset",
      description: 'An object keyed by `x_y_z`; each value is the stored search with `id`, `location`, `timestamp` (epoch seconds).',
      params: DatasetParams,
      handler: async ({ params, caller, ctx }) => {
        requireGeneral(caller, params.dataset);
        return readEntries(collection(ctx.db()), caller.email, params.dataset);
      },
    }),
    ...(['POST', 'PUT'] as const).map((method) =>
      route({
        method,
        path: '/savedsearches/:dataset',
        surfaces: EVERYWHERE,
        summary: 'Save a search at a location',
        description: "Stores any JSON object as the caller's search at `x,y,z`, replacing the one already there.",
        params: DatasetParams,
        query: LocationQuery,
        body: SavedSearchBody,
        handler: async ({ params, query, body, caller, ctx }) => {
          requireGeneral(caller, params.dataset);
          await writeEntry(collection(ctx.db()), caller.email, params.dataset, query, () => body);
          return null;
        },
      }),
    ),
    route({
      method: 'DELETE',
      path: '/savedsearches/:dataset',
      surfaces: EVERYWHERE,
      summary: 'Delete the saved search at a location',
      params: DatasetParams,
      query: LocationQuery,
      handler: async ({ params, query, caller, ctx }) => {
        requireGeneral(caller, params.dataset);
        await deleteEntries(collection(ctx.db()), caller.email, params.dataset, query);
        return null;
      },
    }),
  ],
};
