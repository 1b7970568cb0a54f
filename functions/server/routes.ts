/**
 * The server function: FlyEM token issuing, cache refresh, and the web app's site reports.
 */
import { issueFlyemToken } from '../../shared/auth/tokens';
import { COLLECTIONS } from '../../shared/collections';
import { HttpError } from '../../shared/errors';
import { FLYEM_TOKENS } from '../../shared/features';
import { type Family, JSON_API_DEPLOY, route } from '../../shared/http/routes';
import { jsonObject } from '../../shared/http/validate';

export const server: Family = {
  name: 'server',
  deploy: { ...JSON_API_DEPLOY, why: 'Token signing and small writes: milliseconds of CPU each, so one instance serves many callers.' },
  routes: [
    route({
      method: 'POST',
      path: '/server/token',
      surfaces: ['v2'],
      summary: 'Issue a FlyEM token for the caller',
      description:
        'Returns a three-week HS256 JWT as a JSON string. Works with a Google token or an existing FlyEM token, ' +
        'so tokens can renew themselves. 503 when the server has no FLYEM_SECRET.',
      requires: [FLYEM_TOKENS],
      handler: async ({ caller, ctx }) => issueFlyemToken(FLYEM_TOKENS.settings(ctx.config), caller.email, caller.googleIdinfo),
    }),
    route({
      method: 'POST',
      path: '/server/refresh-caches',
      surfaces: ['v2'],
      summary: "Reload this instance's user and dataset caches (admin)",
      handler: async ({ caller, ctx }) => {
        if (!caller.isAdmin()) throw new HttpError(401, 'only admins may refresh caches');
        await Promise.all([ctx.users.refresh(), ctx.datasets.refresh()]);
        return null;
      },
    }),
    route({
      method: 'POST',
      path: '/site-reports',
      surfaces: ['v2'],
      summary: 'Store a site report from the web app',
      description: 'Any JSON object; one report per user per (UTC) day, the last one wins.',
      body: jsonObject,
      handler: async ({ body, caller, ctx }) => {
        const day = new Date().toISOString().slice(0, 10);
        await ctx.db().collection(COLLECTIONS.siteReports).doc(`${caller.email}-${day}`).set(body);
        return null;
      },
    }),
  ],
};
