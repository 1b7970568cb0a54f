/**
 * The one way to DVID. Requests go through node:http(s) because `keyvalues` needs a GET with a
 * JSON body, which fetch cannot send. A connect timeout bounds reaching the server and a read
 * timeout bounds every silence after that (waiting for headers and between body chunks), so a
 * long stream that keeps flowing is never cut. Failures map to HTTP errors: DVID's own 4xx pass
 * through with its text as the detail, 503/504 pass through, anything else from DVID is 502;
 * unreachable is 502, too slow is 504. Response bodies are handed over as streams, never buffered
 * unless the caller asks for the bytes.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Config } from '../../shared/config';
import { HttpError } from '../../shared/errors';
import { Reply } from '../../shared/http/reply';

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
  return readAll(await open(timeouts, req), req);
}

/** Sends the request and waits for DVID to finish answering, discarding the body. */
export async function dvidSend(timeouts: DvidTimeouts, req: DvidRequest): Promise<void> {
  await readAll(await open(timeouts, req), req);
}

/** Resolves with DVID's response once a 2xx status line has arrived; any failure is an HttpError. */
function open(timeouts: DvidTimeouts, req: DvidRequest): Promise<IncomingMessage> {
  const target = new URL(req.url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  return new Promise((resolve, reject) => {
    const outgoing = send(target, {
      method: req.method,
      timeout: timeouts.dvidReadTimeoutMs,
      headers: body ? { 'Content-Type': 'application/json', 'Content-Length': body.length } : {},
    });
    outgoing.on('socket', (socket) => {
      if (!socket.connecting) return; // a kept-alive connection
      const timer = setTimeout(
        () => outgoing.destroy(unavailable(504, req, `did not accept a connection within ${timeouts.dvidConnectTimeoutMs} ms`)),
        timeouts.dvidConnectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    // Idle for the read timeout, before or during the response: the stream fails rather than hangs.
    outgoing.on('timeout', () => outgoing.destroy(unavailable(504, req, `did not answer within ${timeouts.dvidReadTimeoutMs} ms`)));
    outgoing.on('error', (error) => reject(error instanceof HttpError ? error : unavailable(502, req, `could not be reached (${describe(error)})`)));
    outgoing.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        resolve(response);
        return;
      }
      readAll(response, req).then(
        (bytes) => reject(upstreamStatus(status, bytes.toString('utf8').trim(), req)),
        (error: unknown) => reject(error),
      );
    });
    outgoing.end(body);
  });
}

function readAll(response: IncomingMessage, req: DvidRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks)));
    // Destroyed by our own timeout (an HttpError) or by the connection breaking mid-body.
    response.on('error', (error) => reject(error instanceof HttpError ? error : unavailable(502, req, `broke off its answer (${describe(error)})`)));
  });
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

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${error.message}` : error.message;
}
