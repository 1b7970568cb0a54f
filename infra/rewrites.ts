/**
 * The rewrite table: which function serves which path prefix. Production's Firebase Hosting
 * rewrites and the local server are both generated from it, and it is derived from the
 * families' own route declarations, so a route cannot lack a rewrite.
 */
import { type RoutedFamily, mountedPaths, parsePath } from '../shared/http/routes';

export interface Rewrite {
  /** A path prefix such as `/v2/datasets`; it matches itself and everything below it. */
  readonly prefix: string;
  readonly functionName: string;
  /** The root page only (`/`, or `<URL_PREFIX>/`): matches itself, trailing slashes aside, and nothing below. */
  readonly exact?: boolean;
}

export function rewriteTable(families: readonly RoutedFamily[], urlPrefix = ''): Rewrite[] {
  const owners = new Map<string, string>();
  for (const family of families) {
    for (const route of family.routes) {
      for (const path of mountedPaths(route)) {
        const prefix = path === '/' ? `${urlPrefix}/` : `${urlPrefix}${rootOf(path)}`;
        const owner = owners.get(prefix);
        if (owner && owner !== family.name) {
          throw new Error(`${prefix} is claimed by both ${owner} and ${family.name}`);
        }
        owners.set(prefix, family.name);
      }
    }
  }
  return [...owners]
    .map(([prefix, functionName]) => (prefix === `${urlPrefix}/` ? { prefix, functionName, exact: true } : { prefix, functionName }))
    .sort((a, b) => a.prefix.localeCompare(b.prefix));
}

/** `/v2/datasets/:dataset` → `/v2/datasets`: the path up to and including the first resource name. */
function rootOf(path: string): string {
  const segments = parsePath(path);
  const surface = segments[0]?.kind === 'literal' && ['v2', 'test', 'clio_toplevel'].includes(segments[0].value) ? 1 : 0;
  const resource = segments[surface];
  if (resource?.kind !== 'literal') throw new Error(`route ${path} must start with a fixed resource name`);
  return `/${segments.slice(0, surface + 1).map((s) => (s.kind === 'literal' ? s.value : '')).join('/')}`;
}

/** The function that serves `pathname`, if any. */
export function functionFor(table: readonly Rewrite[], pathname: string): string | undefined {
  const bare = (path: string) => path.replace(/\/+$/, '');
  return table.find((rewrite) =>
    rewrite.exact ? bare(pathname) === bare(rewrite.prefix) : pathname === rewrite.prefix || pathname.startsWith(`${rewrite.prefix}/`),
  )?.functionName;
}

/** Firebase Hosting rewrites for the table (`{,/**}` makes the prefix match itself and below). */
export function firebaseRewrites(table: readonly Rewrite[], region: string) {
  return table.map((rewrite) => ({
    source: rewrite.exact ? rewrite.prefix : `${rewrite.prefix}{,/**}`,
    function: { functionId: rewrite.functionName, region },
  }));
}
