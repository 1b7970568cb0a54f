/**
 * Route declarations and the router. A family (one Cloud Function) declares its routes once;
 * the router, the hosting rewrites and the local server are all derived from those declarations.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type * as v from 'valibot';
import type { Caller } from '../auth/roles';
import type { AuthMode } from '../config';
import type { AppContext } from '../context';
import { HttpError } from '../errors';
import type { Feature } from '../features';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Where a route is mounted: `v2` under `/v2`, `test` under `/test` (the original's mirror),
 * `legacy` at the bare paths of the original README and under `/clio_toplevel`, and `root` at the
 * bare path only (the home page and the API documentation).
 */
export type Surface = 'v2' | 'test' | 'legacy' | 'root';

export const SURFACE_ROOTS: Readonly<Record<Surface, readonly string[]>> = {
  v2: ['/v2'],
  test: ['/test'],
  legacy: ['', '/clio_toplevel'],
  root: [''],
};

export type AnySchema = v.GenericSchema<unknown, unknown>;
type Output<S> = S extends AnySchema ? v.InferOutput<S> : undefined;

export interface RequestInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  caller: Caller;
  ctx: AppContext;
  headers: IncomingHttpHeaders;
}

export interface Route {
  readonly method: Method;
  /** Path below the surface root, e.g. `/datasets/:dataset`; `*name` captures the rest. */
  readonly path: string;
  readonly surfaces: readonly Surface[];
  /** True for the few routes that need no token. */
  readonly public?: boolean;
  /** The authentication modes in which the route exists; in others it is 404. Default: all. */
  readonly modes?: readonly AuthMode[];
  /** Authenticate without this instance's cache of DatasetGateway keys (a fresh read of the caller). */
  readonly freshIdentity?: boolean;
  readonly summary: string;
  readonly description?: string;
  readonly params?: AnySchema;
  readonly query?: AnySchema;
  readonly body?: AnySchema;
  /** For the API documentation only: the schema of the JSON data a success returns. */
  readonly response?: AnySchema;
  /** For the API documentation only: the media type of a success that is not JSON. */
  readonly mediaType?: string;
  /** The answer is streamed as it arrives from upstream and may be far larger than 32 MiB. */
  readonly streamed?: boolean;
  /** The request may take longer than a minute (it waits on a slow upstream). */
  readonly slow?: boolean;
  /**
   * Throws an HttpError when the caller may not make this request. The wrapper runs it after
   * validation and before checking `requires`; routes without features may authorize in the handler.
   */
  readonly authorize?: (input: RequestInput<never, never, never>) => void;
  /** Features this route needs; without them it answers 503, but only to callers it authorized. */
  readonly requires?: readonly Feature<unknown>[];
  /** Whether `requires` applies to this caller (default: to every caller), e.g. not to DatasetGateway callers. */
  readonly requiresFor?: (caller: Caller) => boolean;
  readonly handler: (input: RequestInput<never, never, never>) => Promise<unknown>;
}

/** Declares a route; the handler's input types follow from its schemas. */
export function route<PS extends AnySchema | undefined = undefined, QS extends AnySchema | undefined = undefined, BS extends AnySchema | undefined = undefined>(spec: {
  method: Method;
  path: string;
  surfaces: readonly Surface[];
  public?: boolean;
  modes?: readonly AuthMode[];
  freshIdentity?: boolean;
  summary: string;
  description?: string;
  params?: PS;
  query?: QS;
  body?: BS;
  response?: AnySchema;
  mediaType?: string;
  streamed?: boolean;
  slow?: boolean;
  authorize?: (input: RequestInput<Output<PS>, Output<QS>, Output<BS>>) => void;
  requires?: readonly Feature<unknown>[];
  requiresFor?: (caller: Caller) => boolean;
  handler: (input: RequestInput<Output<PS>, Output<QS>, Output<BS>>) => Promise<unknown>;
}): Route {
  return spec as unknown as Route;
}

/** How a family's function runs once deployed (gen2 Cloud Functions are Cloud Run services). */
export interface DeploySettings {
  /** e.g. `512Mi`, `1Gi`. */
  readonly memory: string;
  /** vCPUs; concurrency above 1 needs at least 1. */
  readonly cpu: number;
  /** The longest a request may take, up to 3600 s for HTTP functions. */
  readonly timeoutSeconds: number;
  /** Requests one instance serves at once (gen2 defaults to 1, which turns every burst into cold starts). */
  readonly concurrency: number;
  /** Instances kept warm (and billed while idle); 0 or absent scales to zero. */
  readonly minInstances?: number;
  /** Why these settings suit the family, for the README and reviewers. */
  readonly why: string;
}

/** The settings of a family of small JSON requests that wait on Firestore: I/O-bound, so one instance serves many. */
export const JSON_API_DEPLOY = {
  memory: '512Mi',
  cpu: 1,
  timeoutSeconds: 60,
  concurrency: 80,
} as const satisfies Omit<DeploySettings, 'why'>;

export interface Family {
  /** The Cloud Function's name and entry point. */
  readonly name: string;
  readonly routes: readonly Route[];
  readonly deploy: DeploySettings;
}

/** What serving requests needs of a family (not how it is deployed). */
/** What the wrapper needs of a family: its routes, and the timeout its requests are answered within. */
export type RoutedFamily = Pick<Family, 'name' | 'routes'> & { readonly deploy?: Pick<DeploySettings, 'timeoutSeconds'> };

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'rest'; name: string };

interface Pattern {
  readonly route: Route;
  readonly segments: readonly Segment[];
}

export interface RouteMatch {
  readonly route: Route;
  readonly params: Record<string, string>;
}

export function parsePath(path: string): Segment[] {
  return path
    .split('/')
    .filter(Boolean)
    .map((part): Segment => {
      if (part.startsWith(':')) return { kind: 'param', name: part.slice(1) };
      if (part.startsWith('*')) return { kind: 'rest', name: part.slice(1) };
      return { kind: 'literal', value: part };
    });
}

/** The full paths (below URL_PREFIX) at which a route is mounted, one per surface root. */
export function mountedPaths(route: Route): string[] {
  return route.surfaces.flatMap((surface) => SURFACE_ROOTS[surface].map((root) => `${root}${route.path}`));
}

export class Router {
  private readonly patterns: Pattern[];
  private readonly urlPrefix: string;

  constructor(routes: readonly Route[], urlPrefix: string) {
    this.urlPrefix = urlPrefix;
    this.patterns = routes.flatMap((route) => mountedPaths(route).map((path) => ({ route, segments: parsePath(path) })));
  }

  /** The route for a request; 404 when no route has this path, 405 (with Allow) for a wrong method. */
  match(method: string, pathname: string): RouteMatch {
    const segments = this.segmentsOf(pathname);
    const candidates: { pattern: Pattern; params: Record<string, string> }[] = [];
    for (const pattern of this.patterns) {
      const params = bind(pattern.segments, segments);
      if (params) candidates.push({ pattern, params });
    }
    if (candidates.length === 0) throw new HttpError(404, 'Not Found');
    const forMethod = candidates.filter((c) => c.pattern.route.method === method);
    if (forMethod.length === 0) {
      const allowed = [...new Set(candidates.map((c) => c.pattern.route.method)), 'OPTIONS'];
      throw new HttpError(405, 'Method Not Allowed', { Allow: allowed.join(', ') });
    }
    // Literal segments beat parameters (`/atlas/all` before `/atlas/:dataset`).
    forMethod.sort((a, b) => compareSpecificity(a.pattern.segments, b.pattern.segments));
    return { route: forMethod[0].pattern.route, params: forMethod[0].params };
  }

  private segmentsOf(pathname: string): string[] {
    let path = pathname;
    if (this.urlPrefix) {
      if (path !== this.urlPrefix && !path.startsWith(`${this.urlPrefix}/`)) throw new HttpError(404, 'Not Found');
      path = path.slice(this.urlPrefix.length);
    }
    // One trailing slash is accepted on every route; the root `/` (or the bare prefix) is no segments.
    if (path.endsWith('/')) path = path.slice(0, -1);
    const raw = path.split('/').slice(1);
    try {
      return raw.map((segment) => decodeURIComponent(segment));
    } catch {
      throw new HttpError(400, 'The request path has malformed percent-encoding');
    }
  }
}

function bind(pattern: readonly Segment[], segments: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i];
    if (part.kind === 'rest') {
      const rest = segments.slice(i);
      if (rest.length === 0 || rest.some((s) => s === '')) return undefined;
      params[part.name] = rest.join('/');
      return params;
    }
    const segment = segments[i];
    if (segment === undefined || segment === '') return undefined;
    if (part.kind === 'literal' && part.value !== segment) return undefined;
    if (part.kind === 'param') params[part.name] = segment;
  }
  return pattern.length === segments.length ? params : undefined;
}

const RANK = { literal: 0, param: 1, rest: 2 } as const;

function compareSpecificity(a: readonly Segment[], b: readonly Segment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = RANK[a[i].kind] - RANK[b[i].kind];
    if (diff !== 0) return diff;
  }
  return b.length - a.length;
}
