/**
 * The deployed entry point of a family: reads the configuration once (refusing to start when it
 * is invalid) and registers the wrapped family with the Functions Framework.
 */
import { http } from '@google-cloud/functions-framework';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { COLLECTIONS } from '../collections';
import { loadConfig } from '../config';
import { createContext } from '../context';
import { createHandler, type RequestHandler } from './handler';
import type { Family } from './routes';

/**
 * Registers the family and answers its warm-up: the Firestore client's first call, with no caller
 * (its outcome ignored), which the build's code cache runs so that the cache also holds what a
 * cold start compiles on its first request (infra/code-cache-loader.js).
 */
export function registerFunction(family: Family): () => Promise<void> {
  const ctx = createContext(loadConfig(process.env));
  http(family.name, outsideFrameworkDomain(createHandler(family, ctx)));
  return () =>
    ctx
      .db()
      .collection(COLLECTIONS.users)
      .doc('code-cache-warm-up')
      .get()
      .then(
        () => undefined,
        () => undefined,
      );
}

/**
 * The framework runs each request inside a `node:domain`, to turn a throw outside the request's
 * promise chain into a 500. Every promise made inside a domain pays its hooks: under load they
 * cost more CPU than the rest of our wrapper (GET kv key: 227-295 req/s inside, 448 outside;
 * docs/benchmarks.md). The wrapper answers every failure of its own chain; a throw outside it
 * is a bug, and now reaches the framework's process handler, which answers 500 and restarts the
 * instance, as Node advises after an uncaught exception.
 */
export function outsideFrameworkDomain(handler: RequestHandler): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return (req, res) => {
    (process as { domain?: { exit(): void } }).domain?.exit();
    return handler(req, res);
  };
}
