/**
 * User records (`clio_users/{email}`) and a per-instance cache of them. Entries live 600 s each,
 * concurrent look-ups of one user share a single Firestore read, and this instance's own
 * writes update the cache at once. Group memberships are rebuilt from the whole collection.
 */
import type { Firestore } from '../firestore-client/client';
import { LRUCache } from 'lru-cache';
import { atMostEntries } from '../cache-bounds';
import { COLLECTIONS } from '../collections';
import { docData } from '../firestore';

export interface UserRecord {
  email: string;
  name: string | null;
  org: string | null;
  disabled: boolean;
  global_roles: string[];
  datasets: Record<string, string[]>;
  groups: string[];
}

export const USER_TTL_MS = 600_000;

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

/** Reads a stored user document leniently: wrong-typed fields fall back to their defaults. */
export function userFromDoc(email: string, data: Record<string, unknown>): UserRecord {
  const datasets: Record<string, string[]> = {};
  if (data.datasets && typeof data.datasets === 'object' && !Array.isArray(data.datasets)) {
    for (const [dataset, roles] of Object.entries(data.datasets)) datasets[dataset] = strings(roles);
  }
  return {
    email,
    name: typeof data.name === 'string' ? data.name : null,
    org: typeof data.org === 'string' ? data.org : null,
    disabled: data.disabled === true,
    global_roles: strings(data.global_roles),
    datasets,
    groups: strings(data.groups),
  };
}

export function roleLessUser(email: string): UserRecord {
  return { email, name: null, org: null, disabled: false, global_roles: [], datasets: {}, groups: [] };
}

interface Memberships {
  readonly builtAt: number;
  readonly groups: Map<string, Set<string>>;
}

export class UserDirectory {
  private readonly db: () => Firestore;
  private readonly owner: string | undefined;
  private readonly ttlMs: number;
  private readonly cache: LRUCache<string, UserRecord>;
  private memberships: Promise<Memberships> | undefined;

  constructor(db: () => Firestore, owner: string | undefined, ttlMs = USER_TTL_MS) {
    this.db = db;
    this.owner = owner;
    this.ttlMs = ttlMs;
    this.cache = new LRUCache<string, UserRecord>({
      ...atMostEntries(50_000),
      ttl: ttlMs,
      // Returning undefined leaves unknown users uncached, so a user created elsewhere is seen at once.
      fetchMethod: async (email) => {
        const snapshot = await this.db().collection(COLLECTIONS.users).doc(email).get();
        return snapshot.exists ? userFromDoc(email, docData(snapshot)) : undefined;
      },
    });
  }

  /** The user's record (role-less when there is no document), with the OWNER rule applied. */
  async get(email: string): Promise<UserRecord> {
    const record = (await this.cache.fetch(email)) ?? roleLessUser(email);
    return this.withOwnerRule(record);
  }

  /** Reads the whole collection, replacing the cache and the group memberships. */
  async list(): Promise<UserRecord[]> {
    const snapshot = await this.db().collection(COLLECTIONS.users).get();
    const users = snapshot.docs.map((doc) => userFromDoc(doc.id, docData(doc)));
    this.cache.clear();
    for (const user of users) this.cache.set(user.email, user);
    this.memberships = Promise.resolve(buildMemberships(users));
    return users.map((user) => this.withOwnerRule(user));
  }

  /** Emails of the members of `group`, from memberships at most 600 s old. */
  async members(group: string): Promise<ReadonlySet<string>> {
    const current = this.memberships ? await this.memberships.catch(() => undefined) : undefined;
    if (!current || Date.now() - current.builtAt > this.ttlMs) {
      this.memberships = this.list().then((users) => buildMemberships(users));
    }
    const fresh = await this.memberships!;
    return fresh.groups.get(group) ?? new Set();
  }

  /** Records a write made by this instance. */
  remember(user: UserRecord): void {
    this.cache.set(user.email, user);
    this.memberships = undefined;
  }

  /** Records a delete made by this instance. */
  forget(email: string): void {
    this.cache.delete(email);
    this.memberships = undefined;
  }

  async refresh(): Promise<void> {
    await this.list();
  }

  private withOwnerRule(user: UserRecord): UserRecord {
    return withOwnerRule(user, this.owner);
  }
}

/** `OWNER` (lower-cased; compared case-insensitively) is a global admin, whatever its record says. */
export function withOwnerRule(user: UserRecord, owner: string | undefined): UserRecord {
  if (!owner || user.email.toLowerCase() !== owner || user.global_roles.includes('admin')) return user;
  return { ...user, global_roles: [...user.global_roles, 'admin'] };
}

function buildMemberships(users: readonly UserRecord[]): Memberships {
  const groups = new Map<string, Set<string>>();
  for (const user of users) {
    for (const group of user.groups) {
      let members = groups.get(group);
      if (!members) groups.set(group, (members = new Set()));
      members.add(user.email);
    }
  }
  return { builtAt: Date.now(), groups };
}
