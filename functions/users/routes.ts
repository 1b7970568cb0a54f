/**
 * The users function: user management for admins, and `/roles`, which tells any signed-in caller
 * who the service thinks they are.
 */
import { HttpError } from '../../shared/errors';
import { type Family, JSON_API_DEPLOY, route, type Surface } from '../../shared/http/routes';
import { UserIdList, UsersBody } from './schemas';
import { deleteUsers, updateUsers } from './store';

const EVERYWHERE: readonly Surface[] = ['v2', 'test', 'legacy'];

const notAdmin = () => new HttpError(401, 'only admins may manage users');

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
        if (!caller.isAdmin()) throw notAdmin();
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
        if (!caller.isAdmin()) throw notAdmin();
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
        if (!caller.isAdmin()) throw notAdmin();
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
      description: 'Any signed-in user. `google_idinfo` holds the Google token claims when a Google ID token was used.',
      handler: async ({ caller }) => ({ ...caller.user, google_idinfo: caller.googleIdinfo }),
    }),
  ],
};
