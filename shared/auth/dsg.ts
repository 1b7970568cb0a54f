/**
 * The DatasetGateway (DSG) adapter: every call this service makes to DSG
 * (reference/datasetgateway.md sections 2.2 and 4.3), the mapping of DSG's user cache to clio
 * roles (section 2.3), and the two per-instance caches of 600 s (a mapped user per key, members
 * per group), which never keep failures. Keys are sent only in headers and never logged.
 */
import { LRUCache } from 'lru-cache';
import { atMostEntries } from '../cache-bounds';
import type { DsgSettings } from '../config';
import { HttpError } from '../errors';
import type { Logger } from '../log';
import { callUpstream, type UpstreamReply } from '../upstream';
import { type UserRecord, withOwnerRule } from './users';

/** The service name DSG filters TOS by, and the default of `/login`'s `service`. */
export const DSG_SERVICE = 'clio';
export const DSG_CACHE_TTL_MS = 600_000;
/** Upstream waits at most 5 s for DSG's logout. */
const LOGOUT_TIMEOUT_MS = 5_000;

/** What DSG says about a caller beyond the clio user record. */
export interface DsgProfile {
  readonly user: UserRecord;
  readonly picture: string | null;
  /** Roles on datasets whose terms of service the user has not accepted yet, as well. */
  readonly datasetsIgnoreTos: Readonly<Record<string, string[]>>;
  /** DSG's `missing_tos` entries, verbatim. */
  readonly missingTos: readonly unknown[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);

/** DSG permissions `{ds: [perm]}` as clio roles: view → clio_general, edit → clio_write, others ignored. */
function rolesOf(permissions: Record<string, unknown>, datasetAdmin: readonly string[]): Record<string, string[]> {
  const roles: Record<string, string[]> = {};
  for (const [dataset, perms] of Object.entries(permissions)) {
    const granted = strings(perms);
    const mapped = [...(granted.includes('view') ? ['clio_general'] : []), ...(granted.includes('edit') ? ['clio_write'] : [])];
    if (mapped.length > 0) roles[dataset] = mapped;
  }
  for (const dataset of datasetAdmin) {
    if (!Object.hasOwn(roles, dataset)) roles[dataset] = [];
    if (!roles[dataset].includes('dataset_admin')) roles[dataset].push('dataset_admin');
  }
  return roles;
}

/**
 * DSG's `user/cache` body as a clio user, or undefined when it names no e-mail (upstream crashes
 * with a 500 there; such an answer cannot identify anyone, so it is a 401).
 */
export function mapDsgUser(body: unknown, owner: string | undefined): DsgProfile | undefined {
  if (!isObject(body) || typeof body.email !== 'string' || body.email === '') return undefined;
  const datasetAdmin = strings(body.datasets_admin);
  const gated = isObject(body.permissions_v2) ? body.permissions_v2 : {};
  const ignoring = isObject(body.permissions_v2_ignore_tos) && Object.keys(body.permissions_v2_ignore_tos).length > 0 ? body.permissions_v2_ignore_tos : gated;
  const user: UserRecord = {
    email: body.email,
    name: typeof body.name === 'string' ? body.name : '',
    org: null,
    disabled: false,
    global_roles: body.admin === true ? ['admin'] : [],
    datasets: rolesOf(gated, datasetAdmin),
    groups: [...new Set(strings(body.groups))],
  };
  return {
    // DECISIONS section 4: OWNER is compared case-insensitively (upstream compares exactly).
    user: withOwnerRule(user, owner),
    picture: typeof body.picture_url === 'string' ? body.picture_url : null,
    datasetsIgnoreTos: rolesOf(ignoring, datasetAdmin),
    missingTos: Array.isArray(body.missing_tos) ? body.missing_tos : [],
  };
}

/** A minted key, or DSG's refusal passed on with its own status. */
export type MintResult = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly status: number; readonly text: string };

export class DatasetGateway {
  private readonly settings: DsgSettings;
  private readonly owner: string | undefined;
  private readonly log: Logger;
  private readonly users: LRUCache<string, DsgProfile>;
  private readonly groups: LRUCache<string, readonly string[], string>;

  constructor(settings: DsgSettings, owner: string | undefined, log: Logger) {
    this.settings = settings;
    this.owner = owner;
    this.log = log;
    this.users = new LRUCache<string, DsgProfile>({
      ...atMostEntries(50_000),
      ttl: DSG_CACHE_TTL_MS,
      // A transport failure keeps the entry (cached keys keep working while DSG is down, as upstream).
      noDeleteOnFetchRejection: true,
      fetchMethod: (token) => this.fetchUser(token),
    });
    this.groups = new LRUCache<string, readonly string[], string>({
      ...atMostEntries(10_000),
      ttl: DSG_CACHE_TTL_MS,
      fetchMethod: (group, _stale, { context }) => this.fetchMembers(group, context),
    });
  }

  /** The caller a key stands for (undefined when DSG refuses it); `fresh` skips the cache. 502 when DSG cannot be asked. */
  async identify(token: string, fresh = false): Promise<DsgProfile | undefined> {
    const profile = await this.users.fetch(token, { forceRefresh: fresh });
    // lru-cache puts back the earlier entry when a refresh finds nothing; a key DSG refused is dropped instead.
    if (!profile) this.forget(token);
    return profile;
  }

  /** The members of `group`, asked with the caller's key; empty when DSG does not say. */
  async members(group: string, token: string): Promise<readonly string[]> {
    return (await this.groups.fetch(group, { context: token })) ?? [];
  }

  /** `POST /api/v1/create_token`, or `GET /api/v1/long_lived_token` when so configured. */
  async mintToken(token: string): Promise<MintResult> {
    const longLived = this.settings.tokenMode === 'long_lived';
    const reply = await this.call(longLived ? '/api/v1/long_lived_token' : '/api/v1/create_token', token, { method: longLived ? 'GET' : 'POST' }).catch(
      (error: unknown) => {
        this.log.warn('DatasetGateway token call failed', { reason: reasonText(error) });
        throw new HttpError(502, 'DatasetGateway unavailable');
      },
    );
    if (reply.status !== 200) return { ok: false, status: reply.status, text: reply.body.toString('utf8') };
    return { ok: true, body: reply.body };
  }

  /**
   * Revokes a login key at DSG, best effort. DSG deletes only a key that arrives as its cookie, so
   * it is sent as the cookie too (upstream sends only the Bearer header, which revokes nothing).
   */
  async logout(token: string): Promise<void> {
    this.forget(token);
    try {
      await callUpstream(
        'DatasetGateway',
        `${this.settings.url}/api/v1/logout`,
        { headers: { Authorization: `Bearer ${token}`, Cookie: `dsg_token=${token}` } },
        Math.min(LOGOUT_TIMEOUT_MS, this.settings.timeoutMs),
      );
    } catch (error) {
      this.log.warn('DatasetGateway logout failed; the cookie is deleted anyway', { reason: reasonText(error) });
    }
  }

  /** Drops a key from this instance's cache. */
  forget(token: string): void {
    this.users.delete(token);
  }

  /** Empties both caches (refresh-caches). */
  clear(): void {
    this.users.clear();
    this.groups.clear();
  }

  private async fetchUser(token: string): Promise<DsgProfile | undefined> {
    let reply: UpstreamReply;
    try {
      reply = await this.call(`/api/v1/user/cache?service=${DSG_SERVICE}`, token);
    } catch (error) {
      this.log.warn('DatasetGateway user-cache call failed', { reason: reasonText(error) });
      throw new HttpError(502, 'Auth service unavailable');
    }
    // Any refusal, a DSG 5xx included, means "not a valid key" (as upstream); it is not cached.
    if (reply.status !== 200) return undefined;
    const profile = mapDsgUser(parsed(reply.body), this.owner);
    if (!profile) this.log.warn('DatasetGateway answered 200 without an e-mail; the key is refused');
    return profile;
  }

  private async fetchMembers(group: string, token: string): Promise<readonly string[] | undefined> {
    try {
      const reply = await this.call(`/api/v1/groups/${encodeURIComponent(group)}/members`, token);
      const members = reply.status === 200 ? parsed(reply.body) : undefined;
      if (Array.isArray(members)) return strings(members);
      this.log.warn('DatasetGateway did not list the members of a group; it is skipped', { group, status: reply.status });
    } catch (error) {
      this.log.warn('DatasetGateway group-members call failed; the group is skipped', { group, reason: reasonText(error) });
    }
    return undefined;
  }

  private call(path: string, token: string, init: RequestInit = {}): Promise<UpstreamReply> {
    return callUpstream('DatasetGateway', `${this.settings.url}${path}`, { ...init, headers: { Authorization: `Bearer ${token}` } }, this.settings.timeoutMs);
  }
}

function parsed(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

const reasonText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
