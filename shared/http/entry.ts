/**
 * The deployed entry point of a family: reads the configuration once (refusing to start when it
 * is invalid) and registers the wrapped family with the Functions Framework.
 */
import { http } from '@google-cloud/functions-framework';
import { loadConfig } from '../config';
import { createContext } from '../context';
import { createHandler } from './handler';
import type { Family } from './routes';

export function registerFunction(family: Family): void {
  const handler = createHandler(family, createContext(loadConfig(process.env)));
  http(family.name, (req, res) => handler(req, res));
}
