/**
 * The users function: user management for admins, `/roles`, which tells any signed-in caller
 * who the service thinks they are, and in DatasetGateway modes the browser's login routes.
 */
import { dsgToken } from '../../shared/auth/authenticate';
import type { Caller } from '../../shared/auth/roles';
import type { Config } from '../../shared/config';
import { HttpError } from '../../shared/errors';
import { type Family, JSON_API_DEPLOY, route, type Surface } from '../../shared/http/routes';
import { checkedRedirect, datasetAccess, dsgOf, dsgProfile, dsgRoles, loginRedirect, logoutRedirect } from './browser';
import { DatasetAccessQuery, LoginQuery, LogoutQuery, UserIdList, UsersBody } from './schemas';
import { deleteUsers, updateUsers } from './store';

const EVERYWHERE: readonly Surface[] = ['v2', 'test', 'legacy'];
const DSG_MODES = ['dsg', 'hybrid'] as const;

const notAdmin = () => new HttpError(401, 'only admins may manage users');

/** DSG callers manage users at DSG (501 for everyone, admins included, as upstream); others need admin. */
function requireUserAdmin(caller: Caller, config: Config): void {
  if (caller.dsg) throw new HttpError(501, `User management has moved to DatasetGateway (${dsgOf(config).url})`);
  if (!caller.isAdmin()) throw notAdmin();
}

export const users: Family = {
  name: 'users',
  deploy: { ...JSON_API_DEPLOY, why: 'Small JSON answers from the cached user directory: I/O-bound, so one instance serves many callers.' },
  routes: [
    route({
      method: 'GET',
      path: '/users',
      surfaces: EVERYWHERE,
      summary: 'List all users (admin)',
      handler: async ({ caller, ctx }) => {
        requireUserAdmin(caller, ctx.config);
        const all = await ctx.users.list();
        return Object.fromEntries(all.map((user) => [user.email, { ...user, google_idinfo: null }]));
      },
    }),
    route({
      method: 'POST',
      path: '/users',
      surfaces: EVERYWHERE,
      summary: 'Add users or change their roles (admin)',
      description:
        'Body `{ "<email>": {"global_roles": [...], "datasets": {"<dataset>": [...]}, "name", "org", "disabled", "groups"} }`. ' +
        'Only the fields named are replaced; e-mails are lower-cased.',
      body: UsersBody,
      handler: async ({ body, caller, ctx }) => {
        requireUserAdmin(caller, ctx.config);
        await updateUsers(ctx.db(), body);
        for (const email of Object.keys(body)) ctx.users.forget(email);
        return null;
      },
    }),
    route({
      method: 'DELETE',
      path: '/users',
      surfaces: EVERYWHERE,
      summary: 'Delete users (admin)',
      description: 'Body `["<email>", ...]`; missing users are ignored.',
      body: UserIdList,
      handler: async ({ body, caller, ctx }) => {
        requireUserAdmin(caller, ctx.config);
        await deleteUsers(ctx.db(), body);
        for (const email of body) ctx.users.forget(email);
        return null;
      },
    }),
    route({
      method: 'GET',
      path: '/roles',
      surfaces: EVERYWHERE,
      summary: "The caller's user record and roles",
      description:
        'Any signed-in user. `google_idinfo` holds the Google token claims when a Google ID token was used. ' +
        'DatasetGateway callers get `{email, name, org, picture, disabled, global_roles, datasets, datasets_ignore_tos, missing_tos, groups}`.',
      handler: async ({ caller }) => (caller.dsg ? dsgRoles(caller) : { ...caller.user, google_idinfo: caller.googleIdinfo }),
    }),
    route({
      method: 'GET',
      path: '/login',
      surfaces: ['root'],
      public: true,
      modes: DSG_MODES,
      summary: 'Sign in through the DatasetGateway (DSG modes only)',
      description:
        "302 to DSG's authorize page, which signs the browser in with Google, sets the `dsg_token` cookie and returns to " +
        '`redirect` (an absolute URL on an allowed origin). `service` defaults to `clio`; `dataset` asks for its terms of service.',
      query: LoginQuery,
      handler: async ({ query, ctx }) =>
        loginRedirect(dsgOf(ctx.config), checkedRedirect(query.redirect, ctx.config, false), query.dataset, query.service),
    }),
    route({
      method: 'GET',
      path: '/profile',
      surfaces: ['root'],
      modes: DSG_MODES,
      freshIdentity: true,
      summary: "The signed-in browser's DatasetGateway profile (DSG modes only)",
      description:
        'Asks DSG afresh (never from the cache): `{email, name, picture, global_roles, datasets, datasets_ignore_tos, missing_tos, groups, dsg_url}`.',
      handler: async ({ caller, ctx }) => dsgProfile(caller, dsgOf(ctx.config)),
    }),
    ...(['GET', 'POST'] as const).map((method) =>
      route({
        method,
        path: '/logout',
        surfaces: ['root'],
        public: true,
        modes: DSG_MODES,
        summary: 'Sign out of the DatasetGateway (DSG modes only)',
        description:
          'Revokes the `dsg_token` cookie at DSG and in this instance\'s cache, deletes the cookie (on `DSG_COOKIE_DOMAIN`) ' +
          'and 302s to `redirect` (default `/`; a path here or a URL on an allowed origin).',
        query: LogoutQuery,
        handler: async ({ query, headers, ctx }) => {
          const target = checkedRedirect(query.redirect, ctx.config, true);
          const token = dsgToken({ cookie: headers.cookie });
          if (token) await ctx.auth.dsg?.logout(token.token);
          return logoutRedirect(dsgOf(ctx.config), target);
        },
      }),
    ),
    route({
      method: 'GET',
      path: '/dataset-access',
      surfaces: ['root'],
      modes: DSG_MODES,
      freshIdentity: true,
      summary: 'May the signed-in browser read a dataset, and which terms of service are in the way (DSG modes only)',
      description:
        '`{access, tos_required, tos_url}`, from a fresh DSG read: `tos_url` is DSG\'s page for accepting the clio terms of ' +
        'service of `dataset`, returning to `redirect`.',
      query: DatasetAccessQuery,
      handler: async ({ query, caller, ctx }) =>
        datasetAccess(caller, dsgOf(ctx.config), query.dataset, checkedRedirect(query.redirect, ctx.config, false)),
    }),
  ],
};
