/**
 * The savedsearches function: a user's saved image-search locations per dataset, keyed `x_y_z`.
 * Every route needs `clio_general` on the dataset (a public dataset grants it).
 */
import type { Caller } from '../../shared/auth/roles';
import { HttpError } from '../../shared/errors';
import { type Family, JSON_API_DEPLOY } from '../../shared/http/routes';
import { locatedEntryRoutes } from '../../shared/located-entry-routes';
import { savedSearches } from './store';

function requireGeneral(caller: Caller, dataset: string): void {
  if (!caller.hasRole('clio_general', dataset)) {
    throw new HttpError(401, `saved searches need the clio_general role on dataset ${dataset}`);
  }
}

export const savedsearches: Family = {
  name: 'savedsearches',
  deploy: { ...JSON_API_DEPLOY, why: "A user's few saved searches per request: I/O-bound, so one instance serves many callers." },
  routes: locatedEntryRoutes({
    path: '/savedsearches/:dataset',
    surfaces: ['v2', 'test', 'legacy'],
    collection: savedSearches,
    requireRead: requireGeneral,
    requireWrite: requireGeneral,
    plural: 'saved searches',
    singular: 'saved search',
  }),
};
