/**
 * Every family, i.e. every deployed Cloud Function. The build, the deploy script, the hosting
 * rewrites and the local server all start from this list.
 */
import { annotations } from './annotations/routes';
import { atlas } from './atlas/routes';
import { datasets } from './datasets/routes';
import { docs } from './docs/routes';
import { jsonAnnotations } from './json-annotations/routes';
import { kv } from './kv/routes';
import { neuprint } from './neuprint/routes';
import type { Family } from '../shared/http/routes';
import { savedsearches } from './savedsearches/routes';
import { server } from './server/routes';
import { signatures } from './signatures/routes';
import { transfer } from './transfer/routes';
import { users } from './users/routes';
import { volumes } from './volumes/routes';

export const FAMILIES: readonly Family[] = [
  datasets,
  users,
  server,
  annotations,
  atlas,
  savedsearches,
  kv,
  volumes,
  jsonAnnotations,
  signatures,
  transfer,
  neuprint,
  docs,
];
