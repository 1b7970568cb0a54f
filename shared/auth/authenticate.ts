/**
 * Turns a request's credentials into a Caller.
 * Legacy mode (DECISIONS section 4): a FlyEM token, else a Google ID token, else TEST_USER when no
 * header is sent on the emulator, else 401.
 * DSG mode (reference/datasetgateway.md section 2): a DatasetGateway key from the Bearer header,
 * else the `dsg_token` cookie, else `?dsg_token=`, looked up at DSG; `clio_users` is never read.
 * Hybrid mode: JWT-shaped Bearer tokens (FlyEM and Google ID tokens) take the legacy path, every
 * other token goes to DSG.
 */
import { parse as parseCookies } from 'cookie';
import { LRUCache } from 'lru-cache';
import { atMostEntries } from '../cache-bounds';
import type { Config } from '../config';
import type { DatasetCatalog } from '../datasets';
import { HttpError } from '../errors';
import { documentIdProblem } from '../ids';
import type { Logger } from '../log';
import { DatasetGateway } from './dsg';
import { type AuthKind, Caller } from './roles';
import { GoogleTokenVerifier, verifyFlyemToken } from './tokens';
import type { UserDirectory } from './users';

const INVALID_CREDENTIALS = 'Could not validate credentials';
/** The cookie and query parameter that carry a DatasetGateway key. */
export const DSG_TOKEN_NAME = 'dsg_token';

/**
 * Verified tokens, until they expire (at most this many): verifying a JWT signature costs about a
 * millisecond of CPU, looking one up here about a microsecond. Only tokens that verified are kept.
 */
const VERIFIED_TOKENS = 10_000;
/** A cached verification is dropped this long before the token's own expiry, so clocks need not agree exactly. */
const EXPIRY_MARGIN_MS = 5_000;

interface Identity {
  readonly email: string;
  readonly via: AuthKind;
  readonly googleIdinfo: Record<string, unknown> | null;
}

const invalid = () => new HttpError(401, INVALID_CREDENTIALS, { 'WWW-Authenticate': 'Bearer' });

/** Where a request may carry its token. */
export interface Credentials {
  readonly authorization?: string;
  readonly cookie?: string;
  /** The `dsg_token` query parameter. */
  readonly queryToken?: string | null;
}

export interface AuthenticateOptions {
  /** Ask DSG again even for a cached key (`/profile`). */
  readonly fresh?: boolean;
  /** Told which path the token took, before it is checked (for the access log). */
  readonly onPath?: (path: 'dsg' | 'legacy') => void;
}

/** The token of a Bearer header (any case of the scheme), or undefined for anything else. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : /^bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
}

/** The DSG key of a request, in upstream's order: Bearer header, cookie, query. */
export function dsgToken(credentials: Credentials): { token: string; from: 'header' | 'cookie' | 'query' } | undefined {
  const header = bearerToken(credentials.authorization);
  if (header) return { token: header, from: 'header' };
  const cookie = credentials.cookie ? parseCookies(credentials.cookie)[DSG_TOKEN_NAME] : undefined;
  if (cookie) return { token: cookie, from: 'cookie' };
  if (credentials.queryToken) return { token: credentials.queryToken, from: 'query' };
  return undefined;
}

/** google-auth-library quotes the token, or parts of it, in some of its messages; logs must not hold them. */
function withoutToken(message: string, token: string): string {
  const parts = [token, ...token.split('.')].filter((part) => part.length >= 8).sort((a, b) => b.length - a.length);
  return parts.reduce((text, part) => text.split(part).join('[token]'), message).slice(0, 300);
}

/** What a caller's e-mail must look like: it names the user document and per-user collections. */
const usableEmail = (email: string) => /^[^\s@/]+@[^\s@/]+$/.test(email) && documentIdProblem(email) === undefined;

/** FlyEM tokens and Google ID tokens are JWTs (three dot-separated parts); DSG keys are not. */
const isJwtShaped = (token: string) => token.split('.').length === 3;

export class Authenticator {
  private readonly config: Config;
  private readonly users: UserDirectory;
  private readonly datasets: DatasetCatalog;
  private readonly google: GoogleTokenVerifier;
  private readonly log: Logger;
  /** Set in DSG and hybrid modes. */
  readonly dsg: DatasetGateway | undefined;
  private readonly verified = new LRUCache<string, Identity>(atMostEntries(VERIFIED_TOKENS));

  constructor(config: Config, users: UserDirectory, datasets: DatasetCatalog, log: Logger) {
    this.config = config;
    this.users = users;
    this.datasets = datasets;
    this.google = new GoogleTokenVerifier(config.authAudiences, config.googleCertsUrl);
    this.log = log;
    this.dsg = config.dsg ? new DatasetGateway(config.dsg, config.owner, log) : undefined;
  }

  async authenticate(credentials: Credentials, options: AuthenticateOptions = {}): Promise<Caller> {
    if (!this.dsg) return this.legacy(credentials.authorization);
    const found = dsgToken(credentials);
    if (this.config.authMode === 'hybrid' && found?.from === 'header' && isJwtShaped(found.token)) {
      options.onPath?.('legacy');
      return this.legacy(credentials.authorization);
    }
    options.onPath?.('dsg');
    if (!found) throw invalid();
    const profile = await this.dsg.identify(found.token, options.fresh);
    if (!profile || !usableEmail(profile.user.email)) throw invalid();
    const { user, ...dsg } = profile;
    return new Caller(user, await this.datasets.publicIds(), { via: 'dsg', dsg: { ...dsg, token: found.token } });
  }

  /** The members of `group`: from DSG for DSG callers, else from `clio_users`. */
  async members(caller: Caller, group: string): Promise<ReadonlySet<string>> {
    if (caller.dsg && this.dsg) return new Set(await this.dsg.members(group, caller.dsg.token));
    return this.users.members(group);
  }

  private async legacy(authorization: string | undefined): Promise<Caller> {
    const { email, via, googleIdinfo } = await this.identify(authorization);
    if (!usableEmail(email)) throw invalid();
    const [user, publicIds] = await Promise.all([this.users.get(email), this.datasets.publicIds()]);
    if (user.disabled) throw new HttpError(403, 'inactive user');
    return new Caller(user, publicIds, { via, googleIdinfo });
  }

  private async identify(authorization: string | undefined): Promise<Identity> {
    if (authorization === undefined) {
      if (this.config.testUser && this.config.firestoreEmulatorHost) return { email: this.config.testUser, via: 'test_user', googleIdinfo: null };
      throw new HttpError(401, 'Not authenticated: send "Authorization: Bearer <token>"', { 'WWW-Authenticate': 'Bearer' });
    }
    const token = bearerToken(authorization);
    if (!token) throw invalid();
    const known = this.verified.get(token);
    if (known) return known;

    const remember = (identity: Identity, expiresAtSeconds: unknown) => {
      const ttl = typeof expiresAtSeconds === 'number' ? expiresAtSeconds * 1000 - Date.now() - EXPIRY_MARGIN_MS : 0;
      if (ttl > 0) this.verified.set(token, identity, { ttl });
      return identity;
    };
    if (this.config.flyemSecret) {
      const flyem = verifyFlyemToken(token, this.config.flyemSecret);
      if (flyem) return remember({ email: flyem.email, via: 'flyem', googleIdinfo: null }, flyem.expiresAt);
    }
    try {
      const identity = await this.google.verify(token);
      return remember({ email: identity.email, via: 'google', googleIdinfo: identity.claims }, identity.claims.exp);
    } catch (error) {
      this.log.warn('Google ID token rejected', { reason: withoutToken(error instanceof Error ? error.message : String(error), token) });
      throw invalid();
    }
  }
}
