import * as v from 'valibot';
import { jsonObject } from '../../shared/http/validate';

/** `{"cypher": ..., "dataset": "<neuPrint dataset>[:<version>]"}`, forwarded to neuPrint as is. */
export const CustomQuery = v.pipe(
  jsonObject,
  v.object({
    cypher: v.pipe(v.string(), v.nonEmpty('cypher must not be empty')),
    dataset: v.pipe(v.string(), v.nonEmpty('dataset must not be empty')),
  }),
);

export type CustomQuery = v.InferOutput<typeof CustomQuery>;

/** A dataset document's `neuprintHTTP`: the neuPrint host (`name[:port]`) and its dataset name. */
export const NeuprintSettings = v.object({
  server: v.pipe(v.string(), v.regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'server must be a host name, optionally with a port')),
  dataset: v.pipe(v.string(), v.nonEmpty('dataset must not be empty')),
});
