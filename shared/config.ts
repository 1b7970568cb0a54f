/**
 * Service configuration, read once from an environment object and validated as a whole.
 * Functions call `loadConfig(process.env)` at start-up; tests pass their own object.
 */
import * as v from 'valibot';

/**
 * Who authenticates callers: `legacy` (FlyEM and Google tokens, roles from `clio_users`), `dsg`
 * (DatasetGateway keys only, as upstream HEAD), or `hybrid` (both, chosen per token).
 */
export type AuthMode = 'legacy' | 'dsg' | 'hybrid';

export interface DsgSettings {
  /** Base URL of the DatasetGateway, without a trailing slash. */
  readonly url: string;
  /** Timeout of every call to it (upstream: 10 s). */
  readonly timeoutMs: number;
  /** Domain of the `dsg_token` cookie that logout deletes; undefined for a host-only cookie. */
  readonly cookieDomain: string | undefined;
  /** Which DSG call `POST /v2/server/token` makes: a new key every time, or the user's stable one. */
  readonly tokenMode: 'create_token' | 'long_lived';
}

export interface Config {
  readonly authMode: AuthMode;
  /** Set in `dsg` and `hybrid` modes. */
  readonly dsg: DsgSettings | undefined;
  /** Legacy-only variables that are set but ignored in this mode (logged at start). */
  readonly ignoredSettings: readonly string[];
  /** Prepended to every API path, e.g. `/clio`; empty by default. */
  readonly urlPrefix: string;
  /** `*` (echo the request's Origin) or an explicit list of origins. */
  readonly allowedOrigins: '*' | readonly string[];
  /** Lower-cased e-mail of the global admin who needs no user document. */
  readonly owner: string | undefined;
  /** Development identity for requests without a token; only honoured on the emulator, in legacy mode. */
  readonly testUser: string | undefined;
  /** HS256 secret of FlyEM tokens; unset (and always in DSG mode) disables them. */
  readonly flyemSecret: string | undefined;
  /** Accepted Google ID-token audiences; empty accepts any audience, as the original did. */
  readonly authAudiences: readonly string[];
  /** Where Google's PEM signing certificates are fetched; overridable for tests. */
  readonly googleCertsUrl: string | undefined;
  readonly projectId: string | undefined;
  /** `host:port` of the Firestore emulator; when set the service never touches production. */
  readonly firestoreEmulatorHost: string | undefined;
  /** Where Firestore's gRPC API is served (HTTP/2), used without the emulator (a local server in tests). */
  readonly firestoreApiUrl: string;
  readonly sigBucket: string | undefined;
  readonly transferFunc: string | undefined;
  readonly transferDest: string | undefined;
  /** The service's neuPrint token; DSG callers' own keys are forwarded instead. */
  readonly neuprintCredentials: string | undefined;
  readonly subvolBucket: string | undefined;
  readonly subvolWidth: number;
  readonly port: number | undefined;
  /** Base URL of the Cloud Storage JSON API (a local server in tests). */
  readonly storageApiUrl: string;
  /** Base URL of the BigQuery REST API (a local server in tests). */
  readonly bigqueryApiUrl: string;
  /** Scheme used to reach `neuprintHTTP.server` (http only for local test servers). */
  readonly neuprintScheme: 'https' | 'http';
  readonly dvidConnectTimeoutMs: number;
  readonly dvidReadTimeoutMs: number;
  /** Timeout of calls to neuPrint, the transfer service, Cloud Storage and BigQuery. */
  readonly upstreamTimeoutMs: number;
  readonly transferRetryDelayMs: number;
  /** Memory for copies of native datasets' HEADs (`functions/json-annotations/head-cache.ts`); 0 turns them off. */
  readonly neuronsCacheBytes: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const optionalText = v.optional(v.pipe(v.string(), v.trim()));
const email = (name: string) =>
  v.optional(v.pipe(v.string(), v.trim(), v.toLowerCase(), v.regex(/^[^\s@/]+@[^\s@/]+$/, `${name} must be an e-mail address`)));
const url = (name: string) => v.optional(v.pipe(v.string(), v.trim(), v.url(`${name} must be an absolute URL`)));
const integer = (name: string, min: number, max: number) =>
  v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d+$/, `${name} must be a whole number`),
      v.transform(Number),
      v.minValue(min, `${name} must be at least ${min}`),
      v.maxValue(max, `${name} must be at most ${max}`),
    ),
  );
const bucket = (name: string) =>
  v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[a-z0-9][a-z0-9._-]*$/, `${name} must be a bare bucket name (no gs://)`)));

const EnvSchema = v.object({
  URL_PREFIX: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.regex(/^(|\/[^?#]*[^/?#])$/, 'URL_PREFIX must be empty or start with "/" and not end with "/"'),
    ),
    '',
  ),
  ALLOWED_ORIGINS: v.optional(v.pipe(v.string(), v.trim(), v.nonEmpty('ALLOWED_ORIGINS must not be empty')), '*'),
  OWNER: email('OWNER'),
  // An empty TEST_USER means "off" (npm start uses this to disable its default).
  TEST_USER: v.optional(v.union([v.literal(''), v.pipe(v.string(), v.trim(), v.toLowerCase(), v.regex(/@/, 'TEST_USER must be an e-mail address'))])),
  FLYEM_SECRET: optionalText,
  AUTH_AUDIENCES: optionalText,
  GOOGLE_CERTS_URL: url('GOOGLE_CERTS_URL'),
  GOOGLE_CLOUD_PROJECT: optionalText,
  GCLOUD_PROJECT: optionalText,
  FIRESTORE_EMULATOR_HOST: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^[^\s:/]+:\d+$/, 'FIRESTORE_EMULATOR_HOST must be host:port'))),
  SIG_BUCKET: bucket('SIG_BUCKET'),
  TRANSFER_FUNC: url('TRANSFER_FUNC'),
  TRANSFER_DEST: bucket('TRANSFER_DEST'),
  NEUPRINT_APPLICATION_CREDENTIALS: optionalText,
  CLIO_SUBVOL_BUCKET: bucket('CLIO_SUBVOL_BUCKET'),
  CLIO_SUBVOL_WIDTH: integer('CLIO_SUBVOL_WIDTH', 1, 1 << 20),
  PORT: integer('PORT', 1, 65535),
  FIRESTORE_API_URL: url('FIRESTORE_API_URL'),
  STORAGE_API_URL: url('STORAGE_API_URL'),
  BIGQUERY_API_URL: url('BIGQUERY_API_URL'),
  NEUPRINT_SCHEME: v.optional(v.picklist(['https', 'http'], 'NEUPRINT_SCHEME must be https or http'), 'https'),
  DVID_CONNECT_TIMEOUT_MS: integer('DVID_CONNECT_TIMEOUT_MS', 1, 600_000),
  DVID_READ_TIMEOUT_MS: integer('DVID_READ_TIMEOUT_MS', 1, 3_600_000),
  UPSTREAM_TIMEOUT_MS: integer('UPSTREAM_TIMEOUT_MS', 1, 3_600_000),
  TRANSFER_RETRY_DELAY_MS: integer('TRANSFER_RETRY_DELAY_MS', 0, 600_000),
  NEURONS_CACHE_MB: integer('NEURONS_CACHE_MB', 0, 65_536),
  DSG_URL: v.optional(v.union([v.literal(''), v.pipe(v.string(), v.trim(), v.regex(/^https?:\/\/[^\s/?#]+[^\s?#]*$/i, 'DSG_URL must be an absolute http(s) URL without query, e.g. https://dsg.example.org'))])),
  AUTH_MODE: v.optional(v.picklist(['legacy', 'dsg', 'hybrid'], 'AUTH_MODE must be legacy, dsg or hybrid')),
  DSG_TIMEOUT_MS: integer('DSG_TIMEOUT_MS', 1, 600_000),
  DSG_COOKIE_DOMAIN: v.optional(v.pipe(v.string(), v.trim(), v.regex(/^(|\.?[a-z0-9.-]+)$/i, 'DSG_COOKIE_DOMAIN must be empty or a domain such as .janelia.org'))),
  DSG_TOKEN_MODE: v.optional(v.picklist(['create_token', 'long_lived'], 'DSG_TOKEN_MODE must be create_token or long_lived'), 'create_token'),
});

/** Every environment variable the service reads (the README documents each one). */
export const ENV_VARS: readonly string[] = Object.keys(EnvSchema.entries);

/**
 * The variables that hold secrets: deployed functions get them from Secret Manager, never from the
 * env vars file (DECISIONS section 9), and nothing logs their values.
 */
export const SECRET_ENV_VARS = ['FLYEM_SECRET', 'NEUPRINT_APPLICATION_CREDENTIALS'] as const satisfies readonly (keyof typeof EnvSchema.entries)[];

/** The secrets authenticating a caller reads: every function with a route that needs a token gets them. */
export const AUTHENTICATION_SECRET_ENV_VARS = ['FLYEM_SECRET'] as const satisfies readonly (typeof SECRET_ENV_VARS)[number][];

const nonEmpty = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

/** Reads and validates the configuration; throws a ConfigError listing every problem at once. */
export function loadConfig(env: Env): Config {
  const parsed = v.safeParse(EnvSchema, env, { abortEarly: false });
  const problems = parsed.success
    ? []
    : parsed.issues.map((issue) => {
        const key = v.getDotPath(issue) ?? 'environment';
        return issue.message.includes(key) ? issue.message : `${key}: ${issue.message}`;
      });
  const out = parsed.success ? parsed.output : undefined;

  const emulatorHost = nonEmpty(out?.FIRESTORE_EMULATOR_HOST);
  const dsgUrl = nonEmpty(out?.DSG_URL)?.replace(/\/+$/, '');
  const authMode: AuthMode = out?.AUTH_MODE ?? (dsgUrl ? 'dsg' : 'legacy');
  if (out?.AUTH_MODE && out.AUTH_MODE !== 'legacy' && !dsgUrl) problems.push(`AUTH_MODE=${out.AUTH_MODE} needs DSG_URL, the DatasetGateway's base URL`);
  if (out?.AUTH_MODE === 'legacy' && dsgUrl) problems.push('AUTH_MODE=legacy contradicts DSG_URL: unset DSG_URL, or set AUTH_MODE to dsg or hybrid');
  // Legacy-only settings are ignored where they would not apply (DSG mode; TEST_USER in hybrid too).
  const legacyTokens = authMode !== 'dsg';
  const ignored = authMode === 'legacy' ? [] : authMode === 'dsg' ? ['FLYEM_SECRET', 'TEST_USER', 'NEUPRINT_APPLICATION_CREDENTIALS', 'AUTH_AUDIENCES'] : ['TEST_USER'];
  const testUser = authMode === 'legacy' ? nonEmpty(out?.TEST_USER) : undefined;
  if (testUser && !emulatorHost && env.FIRESTORE_EMULATOR_HOST === undefined) {
    problems.push(
      'TEST_USER lets any request without a token act as that user, so it is only honoured on the Firestore emulator; ' +
        'unset TEST_USER or set FIRESTORE_EMULATOR_HOST',
    );
  }
  if (problems.length > 0 || !out) throw new ConfigError(problems);

  const origins = out.ALLOWED_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean);
  return Object.freeze({
    authMode,
    dsg: dsgUrl
      ? Object.freeze({
          url: dsgUrl,
          timeoutMs: out.DSG_TIMEOUT_MS ?? 10_000,
          // Upstream hard-codes .janelia.org; an empty value deletes a host-only cookie (local work).
          cookieDomain: out.DSG_COOKIE_DOMAIN === undefined ? '.janelia.org' : nonEmpty(out.DSG_COOKIE_DOMAIN),
          tokenMode: out.DSG_TOKEN_MODE,
        })
      : undefined,
    ignoredSettings: Object.freeze(ignored.filter((name) => nonEmpty(env[name]?.trim()))),
    urlPrefix: out.URL_PREFIX,
    allowedOrigins: origins.includes('*') ? '*' : Object.freeze(origins),
    owner: nonEmpty(out.OWNER),
    testUser,
    flyemSecret: legacyTokens ? nonEmpty(out.FLYEM_SECRET) : undefined,
    authAudiences: Object.freeze((out.AUTH_AUDIENCES ?? '').split(',').map((a) => a.trim()).filter(Boolean)),
    googleCertsUrl: out.GOOGLE_CERTS_URL,
    projectId: nonEmpty(out.GOOGLE_CLOUD_PROJECT) ?? nonEmpty(out.GCLOUD_PROJECT),
    firestoreEmulatorHost: emulatorHost,
    sigBucket: nonEmpty(out.SIG_BUCKET),
    transferFunc: nonEmpty(out.TRANSFER_FUNC),
    transferDest: nonEmpty(out.TRANSFER_DEST),
    neuprintCredentials: legacyTokens ? nonEmpty(out.NEUPRINT_APPLICATION_CREDENTIALS) : undefined,
    subvolBucket: nonEmpty(out.CLIO_SUBVOL_BUCKET),
    subvolWidth: out.CLIO_SUBVOL_WIDTH ?? 256,
    port: out.PORT,
    firestoreApiUrl: (out.FIRESTORE_API_URL ?? 'https://firestore.googleapis.com').replace(/\/+$/, ''),
    storageApiUrl: (out.STORAGE_API_URL ?? 'https://storage.googleapis.com').replace(/\/+$/, ''),
    bigqueryApiUrl: (out.BIGQUERY_API_URL ?? 'https://bigquery.googleapis.com').replace(/\/+$/, ''),
    neuprintScheme: out.NEUPRINT_SCHEME,
    dvidConnectTimeoutMs: out.DVID_CONNECT_TIMEOUT_MS ?? 5_000,
    dvidReadTimeoutMs: out.DVID_READ_TIMEOUT_MS ?? 120_000,
    upstreamTimeoutMs: out.UPSTREAM_TIMEOUT_MS ?? 60_000,
    transferRetryDelayMs: out.TRANSFER_RETRY_DELAY_MS ?? 5_000,
    neuronsCacheBytes: (out.NEURONS_CACHE_MB ?? 128) * 1024 * 1024,
  });
}
