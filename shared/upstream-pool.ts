/**
 * Kept-alive connection pools (undici) for the adapters that stream large bodies from a service:
 * Cloud Storage media for the volume proxy, and DVID. Measured side by side on the proxy's transfer,
 * undici spent about a third less CPU per byte than node:http; its pools spare repeated calls a
 * connection each.
 * Kept apart from `upstream.ts` so that only the functions that stream bundle undici.
 */
import { Agent } from 'undici';

export interface PoolTimeouts {
  /** How long connecting may take. */
  readonly connectTimeoutMs: number;
  /** How long the service may stay silent: before its status line, and between body chunks. */
  readonly readTimeoutMs: number;
}

const pools = new Map<string, Agent>();

/** The instance's one pool for these timeouts, created on first use. */
export function upstreamPool(timeouts: PoolTimeouts): Agent {
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
  return pool;
}
