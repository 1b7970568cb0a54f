/**
 * Serves every function on one port, dispatching each request through the same rewrite table
 * that production's hosting uses, into the same wrapper that is deployed.
 */
import { createServer, type Server } from 'node:http';
import type { AppContext } from '../shared/context';
import { createHandler, type RequestHandler } from '../shared/http/handler';
import type { RoutedFamily } from '../shared/http/routes';
import { functionFor, rewriteTable } from '../infra/rewrites';
import { withInProcessDocs } from '../functions/docs/local';

/**
 * One process stands for every function here, so the functions share one context (caches
 * included); in production each function instance has its own.
 */
export function createLocalServer(families: readonly RoutedFamily[], ctx: AppContext): Server {
  // Nothing is built here, so the docs family documents these families in-process.
  const served = withInProcessDocs(families);
  const table = rewriteTable(served, ctx.config.urlPrefix);
  const handlers = new Map<string, RequestHandler>(served.map((family) => [family.name, createHandler(family, ctx)]));
  // Paths no rewrite claims still get the wrapper's CORS, 404 body and access log.
  const unclaimed = createHandler({ name: 'local', routes: [] }, ctx);
  return createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    const name = functionFor(table, pathname);
    void (name ? handlers.get(name)! : unclaimed)(req, res);
  });
}
