import * as v from 'valibot';
import { jsonObject } from '../../shared/http/validate';
import { DatasetId, idList, MAX_IDS_PER_DELETE, userId } from '../../shared/ids';

const roles = v.array(v.string());

/** The fields POST /users may set; each named field replaces the stored one, others stay. */
export const UserUpdate = v.object({
  global_roles: v.optional(roles),
  datasets: v.optional(v.pipe(jsonObject, v.record(DatasetId, roles))),
  name: v.optional(v.nullable(v.string())),
  org: v.optional(v.nullable(v.string())),
  disabled: v.optional(v.boolean()),
  groups: v.optional(v.array(v.string())),
});

const UPDATE_FIELDS = Object.keys(UserUpdate.entries);

const EmailKey = v.pipe(userId('e-mail'), v.regex(/^[^\s@]+@[^\s@]+$/, 'user keys must be e-mail addresses'));

/**
 * The original README's example puts `"datasets"` beside the e-mail instead of inside it. When the
 * body names exactly one user, such stray role fields are folded into that user, as meant.
 */
function foldStrayFields(body: Record<string, unknown>): Record<string, unknown> {
  const emails = Object.keys(body).filter((key) => key.includes('@'));
  const stray = Object.keys(body).filter((key) => UPDATE_FIELDS.includes(key));
  if (emails.length !== 1 || stray.length === 0) return body;
  const user = body[emails[0]];
  if (typeof user !== 'object' || user === null || Array.isArray(user)) return body;
  const folded: Record<string, unknown> = { ...user };
  for (const key of stray) folded[key] ??= body[key];
  return { [emails[0]]: folded };
}

/** `{ "<email>": {global_roles?, datasets?, name?, org?, disabled?, groups?}, ... }` */
export const UsersBody = v.pipe(jsonObject, v.transform(foldStrayFields), v.record(EmailKey, v.pipe(jsonObject, UserUpdate)));

/** `["<email>", ...]` (any strings; missing users are ignored). */
export const UserIdList = idList(userId('e-mail'), MAX_IDS_PER_DELETE, 'e-mails');

/** `/login`: where DSG sends the browser back to, and optionally the dataset and service to ask terms of service for. */
export const LoginQuery = v.object({
  redirect: v.pipe(v.string(), v.nonEmpty('redirect must not be empty')),
  dataset: v.optional(v.string()),
  service: v.optional(v.string()),
});

/** `/logout`: where to send the browser afterwards. */
export const LogoutQuery = v.object({ redirect: v.optional(v.pipe(v.string(), v.nonEmpty('redirect must not be empty')), '/') });

/** `/dataset-access`: the dataset asked about, and where DSG's terms-of-service page returns to. */
export const DatasetAccessQuery = v.object({ dataset: DatasetId, redirect: v.pipe(v.string(), v.nonEmpty('redirect must not be empty')) });
