/**
 * CORS as DECISIONS section 3 fixes it, through the `cors` package: the Origin echoed (or the
 * first configured origin), credentials allowed, and preflights answered 200 before any auth.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';
import type { Config } from '../config';

export type CorsMiddleware = (req: IncomingMessage, res: ServerResponse) => 'preflight-answered' | 'continue';

export function corsMiddleware(config: Config): CorsMiddleware {
  const { allowedOrigins } = config;
  const middleware = cors({
    origin: (origin, callback) => {
      if (allowedOrigins === '*') return callback(null, origin ?? '*');
      callback(null, origin && allowedOrigins.includes(origin) ? origin : allowedOrigins[0]);
    },
    methods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Range'],
    credentials: true,
    maxAge: 3600,
    preflightContinue: false,
    optionsSuccessStatus: 200,
  });
  return (req, res) => {
    let continued = false;
    // The origin callback above is synchronous, so the middleware has finished when this returns.
    middleware(req as never, res as never, () => {
      continued = true;
    });
    if (!res.hasHeader('Vary')) res.setHeader('Vary', 'Origin');
    return continued ? 'continue' : 'preflight-answered';
  };
}
