/**
 * Outbound calls to other services: a timeout on every call, and failures mapped to the
 * 502 (bad answer or unreachable) and 504 (no answer in time) the API promises, with a detail
 * that names the service. Shared by the adapters for neuPrint, the transfer service, Cloud
 * Storage and BigQuery.
 */
import { HttpError } from './errors';

/** True for an error that means "no answer in time": fetch's abort, undici's and the Google client libraries' timeouts. */
export function isTimeout(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { name, message } = error;
  const { code, type } = error as { code?: unknown; type?: unknown };
  return (
    name === 'TimeoutError' ||
    type === 'request-timeout' ||
    code === 'ETIMEDOUT' ||
    code === 'ESOCKETTIMEDOUT' ||
    (typeof code === 'string' && /^UND_ERR_\w+_TIMEOUT$/.test(code)) ||
    /timed? ?out|did not complete before/i.test(message) ||
    (error.cause !== undefined && isTimeout(error.cause))
  );
}

/** The innermost useful message of an error (fetch hides the socket error in `cause`). */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${reasonOf(error.cause)}` : '';
  return `${error.message}${cause}`;
}

/** The HttpError for a failed call to `service`: 504 for a timeout, else 502. */
export function upstreamFailure(service: string, error: unknown, timeoutMs: number): HttpError {
  if (error instanceof HttpError) return error;
  if (isTimeout(error)) return new HttpError(504, `${service} did not answer within ${timeoutMs / 1000} s`);
  return new HttpError(502, `${service} could not be reached: ${reasonOf(error)}`);
}

export interface UpstreamReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/**
 * One HTTP exchange with a service, the body read in full, all within `timeoutMs`.
 * Any status is returned; only a failure to get an answer throws (as a 502/504 HttpError).
 */
export async function callUpstream(service: string, url: string, init: RequestInit, timeoutMs: number): Promise<UpstreamReply> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const body = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, body };
  } catch (error) {
    throw upstreamFailure(service, error, timeoutMs);
  }
}

/** True when `url` points at this machine, where local test servers run without credentials. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
