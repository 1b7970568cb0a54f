/**
 * A local stand-in for the part of BigQuery's REST API that @google-cloud/bigquery uses for a
 * query: `jobs.query` (`POST /bigquery/v2/projects/{p}/queries`) and `jobs.getQueryResults`
 * (`GET /bigquery/v2/projects/{p}/queries/{jobId}`, paged with `pageToken`). It evaluates the
 * one query shape the signature search sends (four partition selects of hamming tables, union
 * distinct, ordered by hamming, limited) over in-memory tables, with named INT64 parameters,
 * answers rows in the API's `{f: [{v}]}` form with INT64 values as strings, and refuses SQL it
 * does not understand. Tests can make it fail, never finish, or page its answers.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalTestServer } from '../../shared/testing/listen-locally';

export interface TableRow {
  readonly signature: bigint;
  readonly part: number;
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

export interface QueryCall {
  readonly projectId: string;
  readonly authorization: string | undefined;
  readonly query: string;
  readonly useLegacySql: unknown;
  /** Parameter name → { type, value } as sent. */
  readonly parameters: Record<string, { type: string; value: string }>;
}

export type BigQueryFault = { readonly status: number; readonly reason: string } | 'never-finishes';

interface ResultRow {
  readonly signature: bigint;
  readonly hamming: number;
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

const SELECT = /FROM `([^`]+)`\s+WHERE part = @(\w+) AND BIT_COUNT\(signature \^ @(\w+)\) < (\d+)/g;
const SCHEMA = { fields: ['signature', 'hamming', 'x', 'y', 'z'].map((name) => ({ name, type: 'INTEGER', mode: 'NULLABLE' })) };

function bitCount(value: bigint): number {
  let count = 0;
  for (let rest = BigInt.asUintN(64, value); rest > 0n; rest >>= 1n) count += Number(rest & 1n);
  return count;
}

export class BigQueryTestServer extends LocalTestServer {
  readonly calls: QueryCall[] = [];
  /** `{dataset}.{table}` → rows. */
  readonly tables = new Map<string, TableRow[]>();
  fault: BigQueryFault | undefined;
  /** Rows per page when the request does not say (`maxResults`). */
  pageSize = 1000;
  pageRequests = 0;
  private readonly results = new Map<string, ResultRow[]>();

  reset(): void {
    this.calls.length = 0;
    this.tables.clear();
    this.results.clear();
    this.fault = undefined;
    this.pageSize = 1000;
    this.pageRequests = 0;
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const query = /^\/bigquery\/v2\/projects\/([^/]+)\/queries$/.exec(url.pathname);
    if (req.method === 'POST' && query) {
      const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      return this.jobsQuery(decodeURIComponent(query[1]), req.headers.authorization, request, res);
    }
    const results = /^\/bigquery\/v2\/projects\/([^/]+)\/queries\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && results) return this.getQueryResults(decodeURIComponent(results[1]), results[2], url.searchParams, res);
    sendError(res, 400, 'invalid', `this test server does not serve ${req.method} ${url.pathname}`);
  }

  private jobsQuery(projectId: string, authorization: string | undefined, request: Record<string, unknown>, res: ServerResponse): void {
    const parameters: QueryCall['parameters'] = {};
    for (const p of (request.queryParameters ?? []) as { name: string; parameterType: { type: string }; parameterValue: { value: string } }[]) {
      parameters[p.name] = { type: p.parameterType.type, value: p.parameterValue.value };
    }
    const sql = String(request.query);
    this.calls.push({ projectId, authorization, query: sql, useLegacySql: request.useLegacySql, parameters });
    if (this.fault && this.fault !== 'never-finishes') return sendError(res, this.fault.status, this.fault.reason, `injected ${this.fault.reason}`);
    const jobReference = { projectId, jobId: `job_${randomUUID().replace(/-/g, '')}`, location: 'US' };
    if (this.fault === 'never-finishes') return sendJson(res, 200, { kind: 'bigquery#queryResponse', jobReference, jobComplete: false });
    if (request.useLegacySql !== false) return sendError(res, 400, 'invalidQuery', 'expected GoogleSQL (useLegacySql: false)');

    const selects = [...sql.matchAll(SELECT)];
    const limit = /\nORDER BY hamming, RAND\(\)\nLIMIT (\d+)$/.exec(sql);
    if (selects.length !== 4 || !limit || (sql.match(/UNION DISTINCT/g) ?? []).length !== 3) {
      return sendError(res, 400, 'invalidQuery', 'this test server understands only the signature search query');
    }
    const rows = new Map<string, ResultRow>();
    for (const [, table, partName, signatureName, maxHamming] of selects) {
      const part = parameters[partName];
      const signature = parameters[signatureName];
      if (part?.type !== 'INT64' || signature?.type !== 'INT64') {
        return sendError(res, 400, 'invalidQuery', `Query parameter @${part ? signatureName : partName} is not an INT64 parameter`);
      }
      const stored = this.tables.get(table);
      if (!stored) return sendError(res, 404, 'notFound', `Not found: Table ${projectId}:${table} was not found in location US`);
      for (const row of stored) {
        const hamming = bitCount(row.signature ^ BigInt(signature.value));
        if (row.part !== Number(part.value) || hamming >= Number(maxHamming)) continue;
        const result = { signature: row.signature, hamming, x: row.x, y: row.y, z: row.z };
        rows.set(JSON.stringify([String(row.signature), hamming, row.x, row.y, row.z]), result);
      }
    }
    // A stable sort stands in for the RAND() tie-break, which keeps tests deterministic.
    const ordered = [...rows.values()].sort((a, b) => a.hamming - b.hamming).slice(0, Number(limit[1]));
    this.results.set(jobReference.jobId, ordered);
    const pageSize = typeof request.maxResults === 'number' ? request.maxResults : this.pageSize;
    sendJson(res, 200, { kind: 'bigquery#queryResponse', ...this.page(jobReference, ordered, 0, pageSize), cacheHit: false });
  }

  private getQueryResults(projectId: string, jobId: string, query: URLSearchParams, res: ServerResponse): void {
    this.pageRequests += 1;
    const rows = this.results.get(jobId);
    if (!rows) return sendError(res, 404, 'notFound', `Not found: Job ${projectId}:US.${jobId}`);
    const start = Number(query.get('pageToken') ?? '0');
    const pageSize = Number(query.get('maxResults') ?? this.pageSize);
    sendJson(res, 200, { kind: 'bigquery#getQueryResultsResponse', ...this.page({ projectId, jobId, location: 'US' }, rows, start, pageSize) });
  }

  private page(jobReference: Record<string, string>, rows: readonly ResultRow[], start: number, pageSize: number) {
    const end = Math.min(rows.length, start + pageSize);
    const encoded = rows.slice(start, end).map((row) => ({
      f: [String(row.signature), String(row.hamming), String(row.x), String(row.y), String(row.z)].map((v) => ({ v })),
    }));
    return {
      schema: SCHEMA,
      jobReference,
      totalRows: String(rows.length),
      rows: encoded,
      jobComplete: true,
      ...(end < rows.length ? { pageToken: String(end) } : {}),
    };
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const bytes = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': bytes.length });
  res.end(bytes);
}

function sendError(res: ServerResponse, status: number, reason: string, message: string): void {
  sendJson(res, status, { error: { code: status, message, errors: [{ message, domain: 'global', reason }], status: reason.toUpperCase() } });
}
