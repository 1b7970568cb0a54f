/**
 * The one way to DVID, through a kept-alive undici pool (`shared/upstream-pool.ts`), which can send
 * the GET with a JSON body that `keyvalues` needs (fetch cannot). A connect timeout bounds reaching
 * the server and a read timeout bounds every silence after that (waiting for the status line and
 * between body chunks), so a long stream that keeps flowing is never cut. Failures map to HTTP
 * errors: DVID's own 4xx pass through with its text as the detail, 503/504 pass through, anything
 * else from DVID is 502; unreachable is 502, too slow is 504. Response bodies are handed over as
 * streams, never buffered unless the caller asks for the bytes.
 */
import type { Readable } from 'node:stream';
import type { Config } from '../../shared/config';
import { HttpError } from '../../shared/errors';
import { Reply } from '../../shared/http/reply';
import { isTimeout } from '../../shared/upstream';
import { upstreamRequest } from '../../shared/upstream-pool';

export type DvidTimeouts = Pick<Config, 'dvidConnectTimeoutMs' | 'dvidReadTimeoutMs'>;

export interface DvidRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Full URL including the query string. */
  readonly url: string;
  /** JSON text to send. */
  readonly body?: string;
}

/** Longest DVID error text put into a `detail`. */
const MAX_DETAIL_CHARS = 2_000;

/** Sends the request and answers DVID's JSON reply as a stream (no Content-Length: chunked, so no 32 MiB cap). */
export async function dvidStream(timeouts: DvidTimeouts, req: DvidRequest): Promise<Reply> {
  const response = await open(timeouts, req);
  return new Reply(response, { headers: { 'Content-Type': 'application/json' } });
}

/** Sends the request and answers DVID's whole reply body. */
export async function dvidBytes(timeouts: DvidTimeouts, req: DvidRequest): Promise<Buffer> {
  return readAll(await open(timeouts, req), req, timeouts);
}

/** Sends the request and waits for DVID to finish answering, discarding the body. */
export async function dvidSend(timeouts: DvidTimeouts, req: DvidRequest): Promise<void> {
  await readAll(await open(timeouts, req), req, timeouts);
}

/** Resolves with DVID's response body once a 2xx status line has arrived; any failure is an HttpError. */
async function open(timeouts: DvidTimeouts, req: DvidRequest): Promise<Readable> {
  let response;
  try {
    response = await upstreamRequest(
      req.url,
      { method: req.method, body: req.body, headers: req.body === undefined ? {} : { 'Content-Type': 'application/json' } },
      { connectTimeoutMs: timeouts.dvidConnectTimeoutMs, readTimeoutMs: timeouts.dvidReadTimeoutMs },
    );
  } catch (error) {
    throw failure(error, req, timeouts);
  }
  const status = response.statusCode;
  if (status >= 200 && status < 300) return response.body;
  const text = (await readAll(response.body, req, timeouts)).toString('utf8').trim();
  throw upstreamStatus(status, text, req);
}

/** The body's bytes; a timeout or a broken connection is an HttpError. */
async function readAll(body: Readable, req: DvidRequest, timeouts: DvidTimeouts): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk as Buffer);
  } catch (error) {
    throw failure(error, req, timeouts, 'broke off its answer');
  }
  return Buffer.concat(chunks);
}

/** The HttpError for a request that got no (whole) answer: 504 for a timeout (connect or read), else 502. */
function failure(error: unknown, req: DvidRequest, timeouts: DvidTimeouts, what = 'could not be reached'): HttpError {
  const code = (error as { code?: unknown }).code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return unavailable(504, req, `did not accept a connection within ${timeouts.dvidConnectTimeoutMs} ms`);
  }
  if (isTimeout(error)) return unavailable(504, req, `did not answer within ${timeouts.dvidReadTimeoutMs} ms`);
  return unavailable(502, req, `${what} (${describe(error)})`);
}

function upstreamStatus(status: number, text: string, req: DvidRequest): HttpError {
  const detail = text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}…` : text;
  if (status >= 400 && status < 500) return new HttpError(status, detail || `DVID answered ${status} to ${where(req)}`);
  const passed = status === 503 || status === 504 ? status : 502;
  return new HttpError(passed, `DVID answered ${status} to ${where(req)}${detail ? `: ${detail}` : ''}`);
}

function unavailable(status: 502 | 504, req: DvidRequest, what: string): HttpError {
  return new HttpError(status, `DVID at ${new URL(req.url).origin} ${what}`);
}

/** Method and path, without the query string (which may name a user). */
function where(req: DvidRequest): string {
  return `${req.method} ${new URL(req.url).pathname}`;
}

/** The error with its code, e.g. ECONNREFUSED or UND_ERR_SOCKET. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${error.message}` : error.message;
}
