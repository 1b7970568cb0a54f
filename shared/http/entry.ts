/**
 * The deployed entry point of a family: reads the configuration once (refusing to start when it
 * is invalid) and registers the wrapped family with the Functions Framework.
 */
import { http } from '@google-cloud/functions-framework';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadConfig } from '../config';
import { createContext } from '../context';
import { createHandler, type RequestHandler } from './handler';
import type { Family } from './routes';

export function registerFunction(family: Family): void {
  http(family.name, outsideFrameworkDomain(createHandler(family, createContext(loadConfig(process.env)))));
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
