/**
 * Kept-alive connection pools (undici) for the adapters that stream large bodies from a service:
 * Cloud Storage media for the volume proxy, and DVID. Measured side by side on the proxy's transfer,
 * undici spent about a third less CPU per byte than node:http; its pools spare repeated calls a
 * connection each.
 * Kept apart from `upstream.ts` so that only the functions that stream bundle undici, and loaded
 * by the first call, so that a cold start whose first request calls no such service does not run it.
 */
import type { Agent, request as undiciRequest } from 'undici';

export interface PoolTimeouts {
  /** How long connecting may take. */
  readonly connectTimeoutMs: number;
  /** How long the service may stay silent: before its status line, and between body chunks. */
  readonly readTimeoutMs: number;
}

const pools = new Map<string, Agent>();
let undici: Promise<typeof import('undici')> | undefined;

/** Sends a request through the instance's one pool for these timeouts (created on first use). */
export async function upstreamRequest(url: string | URL, options: Omit<NonNullable<Parameters<typeof undiciRequest>[1]>, 'dispatcher'>, timeouts: PoolTimeouts): ReturnType<typeof undiciRequest> {
  undici ??= import('undici');
  const { Agent, request } = await undici;
  const key = `${timeouts.connectTimeoutMs}/${timeouts.readTimeoutMs}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new Agent({
      connect: { timeout: timeouts.connectTimeoutMs },
      headersTimeout: timeouts.readTimeoutMs,
      bodyTimeout: timeouts.readTimeoutMs,
    });
    pools.set(key, pool);
  }
  return request(url, { ...options, dispatcher: pool });
}
