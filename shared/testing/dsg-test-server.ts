/**
 * A local DatasetGateway stand-in speaking the calls of reference/datasetgateway.md section 4.3:
 * `user/cache`, `groups/{g}/members`, `create_token`, `long_lived_token`, `logout`, `authorize`
 * (a page to pick a configured user instead of Google) and the terms-of-service page. It is
 * configured from a JSON object of users, grants, groups and TOS state, and authenticates as DSG
 * does: the `dsg_token` cookie, then `Authorization: Bearer ` (case-sensitive), then `?dsg_token=`.
 * Tests read what it received (`calls`) and can make it fail, hang or answer slowly.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseCookies, serialize } from 'cookie';
import { LocalTestServer } from './listen-locally';

export type DsgLevel = 'view' | 'edit' | 'manage' | 'admin';

export interface DsgStandInUser {
  name?: string;
  admin?: boolean;
  picture_url?: string;
  /** DSG refuses every key of a disabled user (401). */
  disabled?: boolean;
  service_account?: boolean;
  groups?: string[];
  /** The user's grant per dataset. */
  grants?: Record<string, DsgLevel>;
  /** Ids of the terms of service the user has accepted. */
  accepted_tos?: number[];
  /** Keys that stand for this user from the start (for tests and for curl). */
  keys?: string[];
}

export interface DsgStandInTos {
  id: number;
  name: string;
  dataset: string;
  /** A service-specific TOS (e.g. `clio`); absent for the dataset's general TOS. */
  service?: string;
}

export interface DsgStandInConfig {
  users: Record<string, DsgStandInUser>;
  tos?: DsgStandInTos[];
}

export interface DsgCall {
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  /** The query string, `?` included ('' when none). */
  readonly search: string;
  readonly authorization: string | undefined;
  readonly cookie: string | undefined;
}

/** What the stand-in does instead of answering: a fixed status and body, never answering, or dropping the connection. */
export type DsgFault = { readonly status: number; readonly body: string } | 'hang' | 'drop';

const HIERARCHY: Record<DsgLevel, DsgLevel[]> = {
  view: ['view'],
  edit: ['edit', 'view'],
  manage: ['edit', 'manage', 'view'],
  admin: ['admin', 'edit', 'manage', 'view'],
};
const LEVEL_NUMBER: Record<DsgLevel, number> = { view: 1, edit: 2, manage: 3, admin: 4 };

export class DsgTestServer extends LocalTestServer {
  readonly calls: DsgCall[] = [];
  /** Applies to every `/api/` call while set. */
  fault: DsgFault | undefined;
  /** Every answer waits this long first. */
  delayMs = 0;
  /** Groups it answers 404 for, whoever is in them. */
  readonly unlistedGroups = new Set<string>();
  /** Every key and the e-mail it stands for. */
  readonly keys = new Map<string, string>();
  private readonly config: DsgStandInConfig;
  private readonly users = new Map<string, DsgStandInUser & { accepted_tos: number[] }>();
  private readonly tos: DsgStandInTos[];
  private readonly stable = new Map<string, string>();
  private readonly loginKeys = new Map<string, string>();

  constructor(config: DsgStandInConfig) {
    super();
    this.config = config;
    this.tos = config.tos ?? [];
    this.load();
  }

  /** Users, grants, accepted TOS and keys as configured. */
  private load(): void {
    this.users.clear();
    this.keys.clear();
    this.stable.clear();
    this.loginKeys.clear();
    for (const [email, user] of Object.entries(this.config.users)) {
      this.users.set(email, { ...user, grants: { ...user.grants }, accepted_tos: [...(user.accepted_tos ?? [])] });
      for (const key of user.keys ?? []) this.keys.set(key, email);
    }
  }

  /** The calls to `path` so far. */
  callsTo(path: string): DsgCall[] {
    return this.calls.filter((call) => call.path === path);
  }

  /** Back to the configured state, with no calls recorded and no fault. */
  reset(): void {
    this.load();
    this.calls.length = 0;
    this.fault = undefined;
    this.delayMs = 0;
    this.unlistedGroups.clear();
  }

  /** Accepts a terms of service for a user, as DSG's TOS page does. */
  acceptTos(email: string, tosId: number): void {
    this.user(email).accepted_tos.push(tosId);
  }

  grant(email: string, dataset: string, level: DsgLevel | undefined): void {
    const user = this.user(email);
    const grants = { ...user.grants };
    if (level) grants[dataset] = level;
    else delete grants[dataset];
    user.grants = grants;
  }

  /** The body DSG's `GET /api/v1/user/cache[?service=S]` answers for a user. */
  userCache(email: string, service: string | undefined): Record<string, unknown> {
    const user = this.user(email);
    const grants = Object.entries(user.grants ?? {});
    const pending = (dataset: string) => this.pendingTos(email, dataset, service);
    return {
      id: [...this.users.keys()].indexOf(email) + 1,
      parent_id: null,
      service_account: user.service_account === true,
      name: user.name ?? '',
      email,
      admin: user.admin === true,
      pi: '',
      picture_url: user.picture_url ?? '',
      affiliations: [],
      groups: user.groups ?? [],
      groups_admin: [],
      permissions: Object.fromEntries(grants.map(([dataset, level]) => [dataset, LEVEL_NUMBER[level]])),
      permissions_v2: Object.fromEntries(grants.filter(([dataset]) => pending(dataset).length === 0).map(([dataset, level]) => [dataset, HIERARCHY[level]])),
      permissions_v2_ignore_tos: Object.fromEntries(grants.map(([dataset, level]) => [dataset, HIERARCHY[level]])),
      missing_tos: grants.flatMap(([dataset]) =>
        pending(dataset).map((tos) => ({ dataset_id: dataset, dataset_name: dataset, tos_id: tos.id, tos_name: tos.name, ...(tos.service ? { service: tos.service } : {}) })),
      ),
      datasets_admin: grants.filter(([, level]) => level === 'admin').map(([dataset]) => dataset),
    };
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    this.calls.push({ method: req.method ?? 'GET', path: url.pathname, search: url.search, authorization: req.headers.authorization, cookie: req.headers.cookie });
    const form = req.method === 'POST' ? new URLSearchParams(await readText(req)) : new URLSearchParams();
    if (this.delayMs > 0) await new Promise((done) => setTimeout(done, this.delayMs));
    if (url.pathname.startsWith('/api/') && this.fault) {
      if (this.fault === 'hang') return;
      if (this.fault === 'drop') return void req.socket.destroy();
      res.writeHead(this.fault.status, { 'content-type': 'application/json' }).end(this.fault.body);
      return;
    }
    const route = `${req.method} ${url.pathname.replace(/\/$/, '')}`;
    const members = /^GET \/api\/v1\/groups\/([^/]+)\/members$/.exec(route);
    if (members) return this.authenticated(req, url, res, () => this.members(decodeURIComponent(members[1]), res));
    switch (route) {
      case 'GET /api/v1/user/cache':
        return this.authenticated(req, url, res, (email) => json(res, 200, this.userCache(email, url.searchParams.get('service') ?? undefined)));
      case 'POST /api/v1/create_token':
        return this.authenticated(req, url, res, (email) => {
          if (this.user(email).service_account) return json(res, 403, { detail: 'Service accounts cannot create tokens.' });
          json(res, 200, this.newKey(email));
        });
      case 'GET /api/v1/long_lived_token':
        return this.authenticated(req, url, res, (email) => {
          if (!this.stable.has(email)) this.stable.set(email, this.newKey(email));
          json(res, 200, { token: this.stable.get(email) });
        });
      case 'GET /api/v1/logout':
      case 'POST /api/v1/logout':
        return this.authenticated(req, url, res, () => {
          // As DSG: only a key that arrives as the cookie is revoked.
          const cookie = parseCookies(req.headers.cookie ?? '').dsg_token;
          if (cookie) this.keys.delete(cookie);
          res.setHeader('Set-Cookie', serialize('dsg_token', '', { path: '/', maxAge: 0 }));
          json(res, 200, { status: 'logged out' });
        });
      case 'GET /api/v1/authorize':
      case 'POST /api/v1/authorize':
        return this.authorize(url, res);
      case 'GET /web/tos/service-check':
      case 'POST /web/tos/service-check':
        return this.tosPage(req, url, form, res);
      default:
        json(res, 404, { detail: 'Not found.' });
    }
  }

  private authenticated(req: IncomingMessage, url: URL, res: ServerResponse, then: (email: string) => void): void {
    const token = parseCookies(req.headers.cookie ?? '').dsg_token || bearer(req.headers.authorization) || url.searchParams.get('dsg_token');
    if (!token) return json(res, 401, { detail: 'Authentication credentials were not provided.' }, { 'WWW-Authenticate': 'Bearer' });
    const email = this.keys.get(token);
    if (!email || this.users.get(email)?.disabled) return json(res, 401, { detail: 'Invalid or expired token.' }, { 'WWW-Authenticate': 'Bearer' });
    then(email);
  }

  private members(group: string, res: ServerResponse): void {
    const members = [...this.users].filter(([, user]) => (user.groups ?? []).includes(group)).map(([email]) => email);
    if (members.length === 0 || this.unlistedGroups.has(group)) return json(res, 404, { error: 'Group not found' });
    json(res, 200, members);
  }

  /**
   * Instead of Google: without `email`, a page to pick a configured user; with it, a new 7-day
   * login key in the `dsg_token` cookie (the user's earlier login key is deleted, as DSG does),
   * then back to `redirect`, or first to the TOS page when one is pending for `dataset`.
   */
  private authorize(url: URL, res: ServerResponse): void {
    const redirect = url.searchParams.get('redirect') ?? '/';
    const email = url.searchParams.get('email');
    if (!email || !this.users.has(email)) {
      const links = [...this.users.keys()].map((name) => {
        const pick = new URLSearchParams(url.searchParams);
        pick.set('email', name);
        return `<li><a href="/api/v1/authorize?${escapeHtml(pick.toString())}">${escapeHtml(name)}</a></li>`;
      });
      return html(res, `<h1>DatasetGateway stand-in</h1><p>Sign in as:</p><ul>${links.join('')}</ul>`);
    }
    const previous = this.loginKeys.get(email);
    if (previous) this.keys.delete(previous);
    const key = this.newKey(email);
    this.loginKeys.set(email, key);
    res.setHeader('Set-Cookie', serialize('dsg_token', key, { path: '/', httpOnly: true, sameSite: 'lax', maxAge: 7 * 24 * 3600 }));
    const service = url.searchParams.get('service') ?? undefined;
    const dataset = url.searchParams.get('dataset');
    if (dataset && this.pendingTos(email, dataset, service).length > 0) {
      const check = new URLSearchParams({ ...(service ? { service } : {}), dataset, next: redirect });
      return redirectTo(res, `/web/tos/service-check/?${check}`);
    }
    redirectTo(res, redirect);
  }

  /** DSG's TOS page: lists what is pending for the cookie's user; POST accepts it all. */
  private tosPage(req: IncomingMessage, url: URL, form: URLSearchParams, res: ServerResponse): void {
    const next = url.searchParams.get('next') ?? form.get('next') ?? '/';
    const email = this.keys.get(parseCookies(req.headers.cookie ?? '').dsg_token ?? '');
    if (!email) return json(res, 401, { detail: 'Authentication credentials were not provided.' });
    const dataset = url.searchParams.get('dataset') ?? '';
    const pending = this.pendingTos(email, dataset, url.searchParams.get('service') ?? undefined);
    if (req.method === 'POST') for (const tos of pending) this.acceptTos(email, tos.id);
    if (req.method === 'POST' || pending.length === 0) return redirectTo(res, next);
    const items = pending.map((tos) => `<li>${escapeHtml(tos.name)}</li>`).join('');
    html(res, `<h1>Terms of service</h1><ul>${items}</ul><form method="post"><button>Accept</button></form>`);
  }

  private pendingTos(email: string, dataset: string, service: string | undefined): DsgStandInTos[] {
    const user = this.user(email);
    return this.tos.filter((tos) => tos.dataset === dataset && (tos.service === undefined || tos.service === service) && !user.accepted_tos.includes(tos.id));
  }

  private newKey(email: string): string {
    const key = randomBytes(32).toString('hex');
    this.keys.set(key, email);
    return key;
  }

  private user(email: string): DsgStandInUser & { accepted_tos: number[] } {
    const user = this.users.get(email);
    if (!user) throw new Error(`the DSG stand-in has no user ${email}`);
    return user;
  }
}

const bearer = (authorization: string | undefined) => (authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined);

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
}

function html(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><meta charset="utf-8"><title>DSG stand-in</title>${body}`);
}

function redirectTo(res: ServerResponse, location: string): void {
  res.writeHead(302, { location }).end();
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
