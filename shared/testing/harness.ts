/**
 * The test harness: the local server (same rewrite table, same wrapper as deployed) on a free
 * port, talking to the run's Firestore emulator in a project id of its own, so every test file
 * is isolated. Requests go over real HTTP.
 */
import { randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { inject } from 'vitest';
import { issueFlyemToken } from '../auth/tokens';
import { COLLECTIONS } from '../collections';
import { loadConfig, SECRET_ENV_VARS } from '../config';
import { type AppContext, createContext } from '../context';
import { Logger } from '../log';
import { FAMILIES } from '../../functions/registry';
import { createLocalServer } from '../../emulator/serve';
import { googleFirestore } from './google-firestore';
import { listenLocally } from './listen-locally';
import { notePresented, noteWritten } from './secret-watch';

export const FLYEM_SECRET = 'test-flyem-secret';
export const OWNER = 'owner@test.org';
/** A private dataset and a public one, seeded by `seedStandardData`. */
export const DS = 'private-ds';
export const PUBLIC_DS = 'public-ds';

/** The identities every family is tested with. `unknown` and `owner` have no user document. */
export const USERS = {
  reader: { email: 'reader@test.org', doc: { datasets: { [DS]: ['clio_read'] } } },
  dsGeneral: { email: 'ds-general@test.org', doc: { datasets: { [DS]: ['clio_general'] } } },
  dsWriter: { email: 'ds-writer@test.org', doc: { datasets: { [DS]: ['clio_write'] } } },
  general: { email: 'general@test.org', doc: { global_roles: ['clio_general'] } },
  writer: { email: 'writer@test.org', doc: { global_roles: ['clio_general', 'clio_write'] } },
  admin: { email: 'admin@test.org', doc: { global_roles: ['admin'] } },
  disabled: { email: 'disabled@test.org', doc: { global_roles: ['clio_general', 'admin'], disabled: true } },
  unknown: { email: 'unknown@test.org', doc: undefined },
  owner: { email: OWNER, doc: undefined },
} as const;
export type Identity = keyof typeof USERS;

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body (undefined when the body is not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RequestOptions {
  /** Act as this identity (a FlyEM token is sent); omit for no Authorization header. */
  as?: Identity;
  /** A raw Authorization header value. */
  authorization?: string;
  /** JSON-encoded into the body. */
  body?: unknown;
  /** Sent as is, instead of `body`. */
  rawBody?: string | Buffer;
  /** Defaults to application/json when there is a body; null sends none. */
  contentType?: string | null;
  headers?: Record<string, string>;
}

export interface TestService {
  readonly url: string;
  readonly ctx: AppContext;
  /** Google's client on the service's database, for seeding and inspecting it; the service uses `ctx.db()`. */
  readonly db: Firestore;
  readonly projectId: string;
  /** Every log line the service wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  tokenFor(email: string): string;
  /** The same service's identities and database, asking another server (e.g. a spawned `npm start`) at `url`. */
  at(url: string): TestService;
  close(): Promise<void>;
}

export interface TestServiceOptions {
  /** The token `as` sends for an e-mail; default a FlyEM token (DSG tests send the stand-in's keys). */
  tokenFor?: (email: string) => string;
  /** Start as a second instance (own context and caches) on this service's database. */
  sameDatabaseAs?: TestService;
}

export async function startTestService(env: Record<string, string> = {}, options: TestServiceOptions = {}): Promise<TestService> {
  const projectId = options.sameDatabaseAs?.projectId ?? `demo-test-${randomBytes(6).toString('hex')}`;
  const config = loadConfig({
    FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'),
    GOOGLE_CLOUD_PROJECT: projectId,
    FLYEM_SECRET,
    OWNER,
    ...env,
  });
  const logs: Record<string, unknown>[] = [];
  const ctx = createContext(
    config,
    new Logger((line) => {
      noteWritten(line);
      logs.push(JSON.parse(line));
    }),
  );
  const { url, close: stopListening } = await listenLocally(createLocalServer(FAMILIES, ctx));
  // Integers as bigints, as the service reads them, so that uint64 values compare exactly.
  const db = googleFirestore(inject('firestoreEmulatorHost'), projectId, { useBigInt: true, ignoreUndefinedProperties: true });
  const close = async () => {
    await stopListening();
    await Promise.all([db.terminate(), ctx.db().terminate()]);
  };
  notePresented(FLYEM_SECRET);
  for (const name of SECRET_ENV_VARS) if (env[name]) notePresented(env[name]);
  const issue = options.tokenFor ?? ((email: string) => issueFlyemToken(FLYEM_SECRET, email, null));
  const tokenFor = (email: string) => {
    const token = issue(email);
    notePresented(token);
    return token;
  };

  const serviceAt = (base: string): TestService => ({
    url: base,
    ctx,
    db,
    projectId,
    logs,
    tokenFor,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.as) headers.authorization = `Bearer ${tokenFor(USERS[options.as].email)}`;
      if (options.authorization !== undefined) headers.authorization = options.authorization;
      if (headers.authorization) notePresented(headers.authorization.replace(/^\S+\s+/, ''));
      let body: string | Buffer | undefined = options.rawBody;
      if (body === undefined && options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined && options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
      // Redirects are answers to check, not to follow.
      const response = await fetch(`${base}${path}`, { method, headers, body, redirect: 'manual' });
      const text = await response.text();
      if (response.status >= 400) noteWritten(text);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    at: serviceAt,
    close,
  });
  return serviceAt(url);
}

/** Who `statusByIdentity` asks as: every standard identity, no token, and a token that is not valid. */
export type Asker = Identity | 'noToken' | 'badToken';

/**
 * Sends one request as each asker in turn and answers `{asker: status}`, so that a test can
 * declare a route's whole identity matrix as one expected object.
 */
export async function statusByIdentity(
  svc: TestService,
  method: string,
  path: string,
  options: Omit<RequestOptions, 'as' | 'authorization'> = {},
): Promise<Record<Asker, number>> {
  const statuses = {} as Record<Asker, number>;
  const askers: Asker[] = ['noToken', 'badToken', ...(Object.keys(USERS) as Identity[])];
  for (const asker of askers) {
    const as = asker === 'noToken' || asker === 'badToken' ? {} : { as: asker };
    const authorization = asker === 'badToken' ? { authorization: 'Bearer not-a-token' } : {};
    statuses[asker] = (await svc.request(method, path, { ...options, ...as, ...authorization })).status;
  }
  return statuses;
}

/**
 * Every document of the service's database, by path: its update time and its fields. Taken
 * before and after a refused request, it shows that nothing was written, not even the same data
 * again. One kindless query over all collections (the one recursiveDelete uses) reads them all.
 */
export async function databaseState(svc: Pick<TestService, 'projectId'>): Promise<Map<string, string>> {
  const response = await fetch(`http://${inject('firestoreEmulatorHost')}/v1/projects/${svc.projectId}/databases/(default)/documents:runQuery`, {
    method: 'POST',
    headers: { authorization: 'Bearer owner', 'content-type': 'application/json' },
    body: JSON.stringify({ structuredQuery: { from: [{ allDescendants: true }] } }),
  });
  if (!response.ok) throw new Error(`the emulator refused the query: ${response.status} ${await response.text()}`);
  const results = (await response.json()) as { document?: { name: string; updateTime: string; fields?: unknown } }[];
  const state = new Map<string, string>();
  for (const { document } of results) if (document) state.set(document.name, `${document.updateTime} ${JSON.stringify(document.fields ?? {})}`);
  return state;
}

/** Seeds the standard users and the two standard datasets. */
export async function seedStandardData(db: Firestore): Promise<void> {
  const batch = db.batch();
  for (const { email, doc } of Object.values(USERS)) {
    if (doc) batch.set(db.collection(COLLECTIONS.users).doc(email), doc);
  }
  batch.set(db.collection(COLLECTIONS.datasets).doc(DS), { description: 'private test dataset', tag: 'v1.2', uuid: 'u1' });
  batch.set(db.collection(COLLECTIONS.datasets).doc(PUBLIC_DS), { description: 'public test dataset', public: true });
  await batch.commit();
}
