/**
 * The Cloud Storage adapter: media downloads through the JSON API
 * (`GET {base}/storage/v1/b/{bucket}/o/{object}?alt=media`), anonymously, so only publicly
 * readable objects can be reached. The object is handed back as the upstream stream itself, so
 * it flows through with backpressure and is never held whole.
 * Connections are pooled and kept alive (`upstream-pool.ts`), which also spares a viewer's many
 * small chunk reads a connection each.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { HttpError } from '../../shared/errors';
import { upstreamFailure } from '../../shared/upstream';
import { upstreamRequest } from '../../shared/upstream-pool';

export interface StorageSettings {
  /** Base URL of the JSON API, e.g. `https://storage.googleapis.com`. */
  readonly baseUrl: string;
  /** How long the store may stay silent, before its answer or in the middle of the object. */
  readonly timeoutMs: number;
}

export interface MediaDownload {
  /** 200, 206 (a Range was served) or 304 (the client's copy is current). */
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Readable;
}

/** Request headers passed on to the store, so that ranges and revalidation work end to end. */
const FORWARDED = ['range', 'if-none-match', 'if-modified-since', 'accept-encoding'] as const;

/** Response headers passed back, with their canonical spelling. */
const RETURNED: Readonly<Record<string, string>> = {
  'content-type': 'Content-Type',
  'content-length': 'Content-Length',
  'content-range': 'Content-Range',
  'content-encoding': 'Content-Encoding',
  'accept-ranges': 'Accept-Ranges',
  etag: 'ETag',
  'last-modified': 'Last-Modified',
  'cache-control': 'Cache-Control',
};

const PASSED_STATUSES = new Set([200, 206, 304]);

/**
 * Downloads `object` from `bucket`. Resolves once the store has answered 200, 206 or 304;
 * every other outcome is an HttpError (404, 403, 412, 416 and other client errors as such;
 * store failures 502/503; an unreachable store 502; silence 504). A silence in the middle of
 * the body destroys the stream, so the client sees a broken response rather than a short one.
 */
export async function downloadMedia(
  settings: StorageSettings,
  bucket: string,
  object: string,
  clientHeaders: IncomingHttpHeaders,
): Promise<MediaDownload> {
  const url = new URL(`${settings.baseUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(object)}`);
  url.searchParams.set('alt', 'media');
  const headers: Record<string, string> = {};
  for (const name of FORWARDED) {
    const value = clientHeaders[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const where = `gs://${bucket}/${object}`;

  let response;
  try {
    response = await upstreamRequest(url, { method: 'GET', headers }, { connectTimeoutMs: settings.timeoutMs, readTimeoutMs: settings.timeoutMs });
  } catch (error) {
    throw upstreamFailure(`Cloud Storage (reading ${where})`, error, settings.timeoutMs);
  }
  const status = response.statusCode;
  if (PASSED_STATUSES.has(status)) return { status, headers: returnedHeaders(response.headers, status), body: response.body };
  response.body.resume();
  const contentRange = response.headers['content-range'];
  throw failure(status, where, status === 416 && typeof contentRange === 'string' ? { 'Content-Range': contentRange } : {});
}

function returnedHeaders(upstream: IncomingHttpHeaders, status: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, canonical] of Object.entries(RETURNED)) {
    const value = upstream[name];
    if (typeof value === 'string') headers[canonical] = value;
  }
  if (status !== 304) headers['Content-Type'] ??= 'application/octet-stream';
  return headers;
}

function failure(status: number, where: string, headers: Record<string, string>): HttpError {
  // We never send credentials, so "authenticate first" (401) means the object is not public.
  if (status === 401 || status === 403) return new HttpError(403, `${where} is not publicly readable`);
  if (status === 404) return new HttpError(404, `${where} does not exist`);
  if (status === 412) return new HttpError(412, `a precondition failed for ${where}`);
  if (status === 416) return new HttpError(416, `the requested range is not satisfiable for ${where}`, headers);
  if (status >= 400 && status < 500) return new HttpError(status, `Cloud Storage refused the request for ${where} (status ${status})`);
  if (status === 503) return new HttpError(503, `Cloud Storage is unavailable (status 503) for ${where}`);
  return new HttpError(502, `Cloud Storage failed (status ${status}) for ${where}`);
}
