/**
 * The BigQuery adapter: one query over the four partitioned hamming tables
 * `{dataset}_imgsearch.hamming{0..3}` of the default project, through @google-cloud/bigquery at
 * the configured endpoint. The signature and partitions travel as query parameters; INT64
 * columns are read as strings (signatures do not fit a JS number). Against a loopback endpoint
 * (local test servers) no credentials are used. The client library is loaded by the first search,
 * so that a cold start whose first request searches nothing does not run it.
 */
import type { BigQuery } from '@google-cloud/bigquery';
import type { Config } from '../../shared/config';
import { isLoopbackUrl, upstreamFailure } from '../../shared/upstream';
import { type HammingMatch, LookupFailure, MAX_HAMMING } from './search';

/** Rows returned, best first (as the original). */
export const MATCH_LIMIT = 200;
/** BigQuery dataset names: letters, digits and underscores only. */
const BIGQUERY_NAME = /^[a-z0-9_]+$/;
/** Extra time the HTTP call gets beyond the query's own deadline. */
const TRANSPORT_SLACK_MS = 5_000;

const clients = new WeakMap<Config, Promise<BigQuery>>();

function client(config: Config): Promise<BigQuery> {
  let bigquery = clients.get(config);
  if (!bigquery) {
    bigquery = Promise.all([import('@google-cloud/bigquery'), import('google-auth-library')]).then(([{ BigQuery }, { PassThroughClient }]) => {
      const created = new BigQuery({
        apiEndpoint: config.bigqueryApiUrl,
        projectId: config.projectId,
        maxRetries: 1,
        ...(isLoopbackUrl(config.bigqueryApiUrl) ? { authClient: new PassThroughClient() } : {}),
      });
      // The per-request HTTP timeout is a property of the client (BigQueryOptions does not declare it).
      created.timeout = config.upstreamTimeoutMs + TRANSPORT_SLACK_MS;
      return created;
    });
    clients.set(config, bigquery);
  }
  return bigquery;
}

/** The SQL of the search; `@signature` and `@part0`..`@part3` are its parameters. */
export function similarSignaturesSql(dataset: string): string {
  const selects = [0, 1, 2, 3].map(
    (table) =>
      `SELECT signature, BIT_COUNT(signature ^ @signature) AS hamming, x, y, z FROM \`${dataset}_imgsearch.hamming${table}\`\n` +
      `WHERE part = @part${table} AND BIT_COUNT(signature ^ @signature) < ${MAX_HAMMING}`,
  );
  return `SELECT signature, hamming, x, y, z FROM (\n${selects.join('\nUNION DISTINCT\n')}\n)\nORDER BY hamming, RAND()\nLIMIT ${MATCH_LIMIT}`;
}

interface Row {
  signature: string;
  hamming: string;
  x: string;
  y: string;
  z: string;
}

/**
 * Samples whose signature differs from `signature` in fewer than MAX_HAMMING bits, nearest
 * first, from the given partition of each table. `dataset` is the lower-cased name.
 */
export async function similarSignatures(config: Config, dataset: string, signature: bigint, parts: readonly number[]): Promise<HammingMatch[]> {
  if (!BIGQUERY_NAME.test(dataset)) throw new LookupFailure(`dataset ${dataset} has no signature tables`);
  const params: Record<string, string> = { signature: signature.toString() };
  parts.forEach((part, table) => (params[`part${table}`] = String(part)));
  const types = Object.fromEntries(Object.keys(params).map((name) => [name, 'INT64']));
  let rows: Row[];
  try {
    [rows] = await (await client(config)).query(
      { query: similarSignaturesSql(dataset), params, types, wrapIntegers: { integerTypeCastFunction: (text: string) => text } },
      { timeoutMs: config.upstreamTimeoutMs },
    );
  } catch (error) {
    if ((error as { code?: unknown }).code === 404) throw new LookupFailure(`dataset ${dataset} has no signature tables`);
    throw upstreamFailure('BigQuery', error, config.upstreamTimeoutMs);
  }
  return rows.map((row) => ({ point: [Number(row.x), Number(row.y), Number(row.z)], hamming: Number(row.hamming) }));
}
