/**
 * The server function: FlyEM token issuing, cache refresh, and the web app's site reports.
 */
import { issueFlyemToken } from '../../shared/auth/tokens';
import { COLLECTIONS } from '../../shared/collections';
import { HttpError } from '../../shared/errors';
import { FLYEM_TOKENS } from '../../shared/features';
import { type Family, JSON_API_DEPLOY, route } from '../../shared/http/routes';
import { jsonObject } from '../../shared/http/validate';
import { writeClientDocument } from '../../shared/stored-data';
import { dsgToken } from './dsg-token';

export const server: Family = {
  name: 'server',
  deploy: { ...JSON_API_DEPLOY, why: 'Token signing and small writes: milliseconds of CPU each, so one instance serves many callers.' },
  routes: [
    route({
      method: 'POST',
      path: '/server/token',
      surfaces: ['v2'],
      summary: 'Issue a token for the caller (FlyEM, or a DatasetGateway key)',
      description:
        'Returns a three-week HS256 JWT as a JSON string. Works with a Google token or an existing FlyEM token, ' +
        'so tokens can renew themselves. 503 when the server has no FLYEM_SECRET. A DatasetGateway caller gets a DSG ' +
        "key instead, minted by DSG with the caller's own key (DSG's answer passed on as is).",
      // DSG callers' tokens are minted by DSG.
      requires: [FLYEM_TOKENS],
      requiresFor: (caller) => !caller.dsg,
      handler: async ({ caller, ctx }) => {
        if (caller.dsg && ctx.auth.dsg) return dsgToken(caller.dsg.token, ctx.auth.dsg);
        return issueFlyemToken(FLYEM_TOKENS.settings(ctx.config), caller.email, caller.googleIdinfo);
      },
    }),
    route({
      method: 'POST',
      path: '/server/refresh-caches',
      surfaces: ['v2'],
      summary: "Reload this instance's user and dataset caches (admin)",
      description: 'Also empties the caches of DatasetGateway keys and group members, so revoked keys stop working at once. DSG mode never reads `clio_users`.',
      handler: async ({ caller, ctx }) => {
        if (!caller.isAdmin()) throw new HttpError(401, 'only admins may refresh caches');
        ctx.auth.dsg?.clear();
        await Promise.all([ctx.config.authMode === 'dsg' ? undefined : ctx.users.refresh(), ctx.datasets.refresh()]);
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
        await writeClientDocument(ctx.db().collection(COLLECTIONS.siteReports).doc(`${caller.email}-${day}`), body);
        return null;
      },
    }),
  ],
};
