/**
 * What the DatasetGateway browser routes (`/login`, `/profile`, `/logout`, `/dataset-access`) and
 * DSG-mode `/roles` answer, and the checks on the addresses they send browsers to.
 */
import { serialize } from 'cookie';
import { DSG_TOKEN_NAME } from '../../shared/auth/authenticate';
import { DSG_SERVICE } from '../../shared/auth/dsg';
import type { Caller } from '../../shared/auth/roles';
import type { Config, DsgSettings } from '../../shared/config';
import { HttpError, ValidationError } from '../../shared/errors';
import { Reply } from '../../shared/http/reply';

/** The DSG settings of a route that exists only in DSG and hybrid modes. */
export function dsgOf(config: Config): DsgSettings {
  if (!config.dsg) throw new Error('a DatasetGateway route is mounted without DSG_URL');
  return config.dsg;
}

/**
 * A redirect target must be on an allowed origin: upstream forwards any URL (an open redirect).
 * With `ALLOWED_ORIGINS=*` any http(s) URL is accepted; `relative` also admits a path on this server.
 */
export function checkedRedirect(target: string, config: Config, relative: boolean): string {
  const refuse = (msg: string) => new ValidationError([{ loc: ['query', 'redirect'], msg, type: 'value_error.redirect' }]);
  if (relative && /^\/(?![/\\])/.test(target)) return target;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw refuse(relative ? 'redirect must be a path on this server or an absolute http(s) URL' : 'redirect must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('redirect must be an http(s) URL');
  if (config.allowedOrigins !== '*' && !config.allowedOrigins.includes(url.origin)) {
    throw refuse(`redirect must lead to one of the allowed origins (ALLOWED_ORIGINS), not ${url.origin}`);
  }
  return target;
}

/** `/login`: 302 to DSG's authorize page, parameters form-encoded in upstream's order. */
export function loginRedirect(dsg: DsgSettings, redirect: string, dataset: string | undefined, service: string | undefined): Reply {
  const params = new URLSearchParams({ redirect });
  // An explicitly empty service is dropped, as upstream does.
  const chosen = service ?? DSG_SERVICE;
  if (chosen !== '') params.set('service', chosen);
  if (dataset !== undefined) params.set('dataset', dataset);
  return redirectTo(`${dsg.url}/api/v1/authorize?${params}`);
}

/** `/logout`: 302 to `redirect`, deleting the `dsg_token` cookie (on the configured domain). */
export function logoutRedirect(dsg: DsgSettings, redirect: string): Reply {
  const deletion = serialize(DSG_TOKEN_NAME, '', { domain: dsg.cookieDomain, path: '/', expires: new Date(0), maxAge: 0, sameSite: 'lax' });
  return redirectTo(redirect, { 'Set-Cookie': deletion });
}

function redirectTo(location: string, headers: Record<string, string> = {}): Reply {
  return new Reply('', { status: 302, headers: { Location: location, ...headers } });
}

/** The DSG caller of a browser route; a legacy token (hybrid mode) has no DSG profile. */
export function dsgCaller(caller: Caller): NonNullable<Caller['dsg']> {
  if (!caller.dsg) throw new HttpError(401, 'this route needs a DatasetGateway login (a dsg_token), not a FlyEM or Google token');
  return caller.dsg;
}

/** The fields `/roles` and `/profile` share for a DSG caller; the key itself is never among them. */
function dsgFields(caller: Caller) {
  const dsg = dsgCaller(caller);
  const { email, name, global_roles, datasets, groups } = caller.user;
  return { email, name, picture: dsg.picture, global_roles, datasets, datasets_ignore_tos: dsg.datasetsIgnoreTos, missing_tos: dsg.missingTos, groups };
}

/** DSG-mode `/roles`: upstream HEAD's User model. */
export function dsgRoles(caller: Caller): Record<string, unknown> {
  const { email, name, picture, ...rest } = dsgFields(caller);
  return { email, name, org: null, picture, disabled: false, ...rest };
}

/** `/profile`: the nine keys upstream answers. */
export function dsgProfile(caller: Caller, dsg: DsgSettings): Record<string, unknown> {
  return { ...dsgFields(caller), dsg_url: dsg.url };
}

/** `/dataset-access`: may the caller read `dataset`, and if not, is a clio terms of service in the way. */
export function datasetAccess(caller: Caller, dsg: DsgSettings, dataset: string, redirect: string): Record<string, unknown> {
  const missing = dsgCaller(caller).missingTos.some((entry) => {
    if (typeof entry !== 'object' || entry === null) return false;
    const { dataset_name, service } = entry as Record<string, unknown>;
    return dataset_name === dataset && (service === undefined || service === null || service === DSG_SERVICE);
  });
  const params = new URLSearchParams({ service: DSG_SERVICE, dataset, next: redirect });
  return { access: caller.canRead(dataset), tos_required: missing, tos_url: `${dsg.url}/web/tos/service-check/?${params}` };
}
