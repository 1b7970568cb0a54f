/**
 * The routes of a per-user store of JSON objects keyed by location (`?x=&y=&z=`): GET the caller's
 * entries of a dataset keyed `x_y_z`, POST/PUT one (replacing the caller's entry there), DELETE one.
 * Saved searches and the original README's v1 annotations are both exactly this.
 */
import type { Firestore } from './firestore-client/client';
import type { Caller } from './auth/roles';
import { type Route, route, type Surface } from './http/routes';
import { jsonObject } from './http/validate';
import { DatasetParams } from './ids';
import { deleteEntries, type LocatedCollection, LocationQuery, readEntries, writeEntry } from './located-entries';

export interface LocatedEntryRoutes {
  /** e.g. `/savedsearches/:dataset` */
  readonly path: string;
  readonly surfaces: readonly Surface[];
  readonly collection: (db: Firestore) => LocatedCollection;
  /** Throw an HttpError when the caller may not read, or may not write, the dataset's entries. */
  readonly requireRead: (caller: Caller, dataset: string) => void;
  readonly requireWrite: (caller: Caller, dataset: string) => void;
  /** What the entries are, for the route summaries: e.g. "saved searches" / "saved search". */
  readonly plural: string;
  readonly singular: string;
}

export function locatedEntryRoutes(options: LocatedEntryRoutes): Route[] {
  const { path, surfaces, collection, requireRead, requireWrite, plural, singular } = options;
  return [
    route({
      method: 'GET',
      path,
      surfaces,
      summary: `The caller's ${plural} in a dataset, keyed by \`x_y_z\``,
      description: 'Each value is the stored object with `id`, `dataset`, `location` [x, y, z], `locationkey` and `timestamp` (epoch seconds).',
      params: DatasetParams,
      handler: async ({ params, caller, ctx }) => {
        requireRead(caller, params.dataset);
        return readEntries(collection(ctx.db()), caller.email, params.dataset);
      },
    }),
    ...(['POST', 'PUT'] as const).map((method) =>
      route({
        method,
        path,
        surfaces,
        summary: `Store any JSON object as the caller's ${singular} at \`x,y,z\`, replacing the one already there`,
        params: DatasetParams,
        query: LocationQuery,
        body: jsonObject,
        handler: async ({ params, query, body, caller, ctx }) => {
          requireWrite(caller, params.dataset);
          await writeEntry(collection(ctx.db()), caller.email, params.dataset, query, () => body);
          return null;
        },
      }),
    ),
    route({
      method: 'DELETE',
      path,
      surfaces,
      summary: `Delete the caller's ${singular} at \`x,y,z\``,
      params: DatasetParams,
      query: LocationQuery,
      handler: async ({ params, query, caller, ctx }) => {
        requireWrite(caller, params.dataset);
        await deleteEntries(collection(ctx.db()), caller.email, params.dataset, query);
        return null;
      },
    }),
  ];
}
