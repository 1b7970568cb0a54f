/**
 * The one request wrapper every function uses. In order: CORS (preflights end here), routing,
 * authentication, validation, authorization, the features the route requires (503), the route's
 * handler, error mapping, and one access-log line. Routing comes before authentication so that
 * unknown paths are 404 and public routes need no token; features come after authorization so
 * that a refused caller learns nothing about this server's configuration. All of it runs against
 * the answer deadline (`answerDeadlineSeconds`), which answers 503 when the work outlasts it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DSG_TOKEN_NAME } from '../auth/authenticate';
import { Caller } from '../auth/roles';
import type { AppContext } from '../context';
import { HttpError } from '../errors';
import { databaseUnavailable } from '../firestore';
import { stringifyJson } from '../json';
import { traceField, type Severity } from '../log';
import { parseBody, readBody } from './body';
import { corsMiddleware } from './cors';
import { Reply } from './reply';
import { JSON_API_DEPLOY, type RoutedFamily, Router } from './routes';
import { validateParts } from './validate';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createHandler(family: RoutedFamily, ctx: AppContext): RequestHandler {
  const routes = family.routes.filter((route) => !route.modes || route.modes.includes(ctx.config.authMode));
  const router = new Router(routes, ctx.config.urlPrefix);
  const cors = corsMiddleware(ctx.config);

  const deadlineMs = answerDeadlineSeconds(family) * 1000;

  const serve = async (req: IncomingMessage, res: ServerResponse, labels: Labels): Promise<void> => {
    if (cors(req, res) === 'preflight-answered') return;
    rejectDotSegments(req.url ?? '/');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { route, params } = router.match(req.method ?? 'GET', url.pathname);
    if (typeof params.dataset === 'string') labels.dataset = params.dataset;

    const caller = route.public
      ? Caller.anonymous()
      : await ctx.auth.authenticate(
          { authorization: req.headers.authorization, cookie: req.headers.cookie, queryToken: url.searchParams.get(DSG_TOKEN_NAME) },
          { fresh: route.freshIdentity, onPath: (path) => (labels.auth = path) },
        );
    labels.user = caller.email || undefined;
    if (!route.public) labels.auth = caller.via;

    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    let body: unknown;
    if (route.body) body = parseBody(await readBody(req));
    const validated = validateParts({
      params: [route.params, params, 'path'],
      query: [route.query, query, 'query'],
      body: [route.body, body, 'body'],
    });
    const input = { ...validated, caller, ctx, headers: req.headers } as never;
    route.authorize?.(input);
    if (route.requiresFor?.(caller) ?? true) for (const feature of route.requires ?? []) feature.settings(ctx.config);
    const result = await route.handler(input);
    if (res.headersSent) return; // the deadline answered first; this late result has no one to go to
    await send(res, result instanceof Reply ? result : new Reply(stringifyJson(result), { headers: JSON_HEADERS }));
  };

  return async (req, res) => {
    const started = process.hrtime.bigint();
    const labels: Labels = {};
    // Every answer is per caller and of the moment; a Reply may allow caching of a success (docs assets).
    res.setHeader('Cache-Control', 'no-store');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((done) => (timer = setTimeout(() => done('deadline'), deadlineMs)));
    const work = serve(req, res, labels).then(
      () => 'served' as const,
      (error: unknown) => {
        if (!res.writableEnded) sendError(res, error, ctx);
        else ctx.log.error('request failed after its deadline was answered', error);
        return 'served' as const;
      },
    );
    try {
      if ((await Promise.race([work, deadline])) === 'deadline') {
        if (res.headersSent) await work;
        else sendError(res, deadlinePassed(deadlineMs), ctx);
      }
    } finally {
      clearTimeout(timer);
      accessLog(req, res, started, labels, family.name, ctx);
    }
  };
}

/** Seconds left for the platform to deliver our answer before it cuts the request at the function's timeout. */
const DEADLINE_MARGIN_SECONDS = 5;

/**
 * A request is answered within its function's timeout less a margin, so that even when the
 * database or an upstream never answers, the caller gets our 503 with CORS headers and a reason
 * rather than the platform's bare 504. A streamed answer already under way is not cut.
 */
export function answerDeadlineSeconds(family: RoutedFamily): number {
  return (family.deploy?.timeoutSeconds ?? JSON_API_DEPLOY.timeoutSeconds) - DEADLINE_MARGIN_SECONDS;
}

function deadlinePassed(deadlineMs: number): HttpError {
  return new HttpError(
    503,
    `the request did not finish within ${deadlineMs / 1000} s: the database or a service it needs is not answering. ` +
      'A write may still be applied; try again in a moment',
    { 'Retry-After': '5' },
  );
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** Extra fields of the access-log line: who asked, about which dataset, and how they were identified (never the token). */
interface Labels {
  user?: string;
  dataset?: string;
  auth?: string;
}

/**
 * The URL as logged: the value of every `dsg_token` query parameter (however its name is
 * percent-encoded, as URLSearchParams decodes it) is replaced, so no log line holds a key.
 */
function redactedUrl(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const pairs = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=', 1)[0];
      return decodedName(name) === DSG_TOKEN_NAME ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, start)}?${pairs.join('&')}`;
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/**
 * URL parsing would silently resolve `.` and `..` (also as `%2e`), so a path could name something
 * other than what it says; such paths are refused rather than reinterpreted.
 */
function rejectDotSegments(rawUrl: string): void {
  const path = rawUrl.split('?')[0];
  if (path.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment))) {
    throw new HttpError(400, 'The request path must not contain "." or ".." segments');
  }
}

/**
 * Cloud Run refuses HTTP/1 responses that declare a length over 32 MiB (deploy-facts 2.2); larger
 * responses are sent chunked, without Content-Length.
 */
export const MAX_DECLARED_LENGTH = 32 * 1024 * 1024;

async function send(res: ServerResponse, reply: Reply): Promise<void> {
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  // Errors passed through from an upstream are never cacheable, whatever the upstream said.
  if (reply.status >= 400) res.setHeader('Cache-Control', 'no-store');
  if (Number(res.getHeader('Content-Length')) > MAX_DECLARED_LENGTH) res.removeHeader('Content-Length');
  if (reply.body instanceof Readable) {
    await pipeline(reply.body, res);
    return;
  }
  const bytes = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
  if (bytes.length > MAX_DECLARED_LENGTH) {
    // A write before end() makes Node send the body chunked instead of computing a length.
    res.write(bytes);
    res.end();
    return;
  }
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}

function sendError(res: ServerResponse, error: unknown, ctx: AppContext): void {
  if (res.headersSent) {
    // The status line is gone; end the connection so the client sees a broken, not a short, body.
    ctx.log.error('response failed after headers were sent', error);
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    return;
  }
  const known = error instanceof HttpError ? error : databaseUnavailable(error);
  const status = known?.status ?? 500;
  const payload: Record<string, unknown> = { detail: known?.detail ?? 'Internal server error' };
  if (status >= 500) {
    payload.error_id = randomUUID();
    ctx.log.error(`request failed with ${status} (error_id ${payload.error_id})`, error, { error_id: payload.error_id });
  }
  res.statusCode = status;
  // A failure after a Reply set its headers must not keep that Reply's caching or length.
  res.setHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(known?.headers ?? {})) res.setHeader(name, value);
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  const bytes = Buffer.from(stringifyJson(payload));
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}

function accessLog(
  req: IncomingMessage,
  res: ServerResponse,
  started: bigint,
  labels: Labels,
  functionName: string,
  ctx: AppContext,
): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const status = res.statusCode;
  const severity: Severity = status >= 500 ? 'ERROR' : status >= 400 ? 'WARNING' : 'INFO';
  const size = res.getHeader('Content-Length');
  const url = redactedUrl(req.url ?? '/');
  ctx.log.write(severity, `${req.method} ${url} ${status}`, {
    httpRequest: {
      requestMethod: req.method,
      requestUrl: url,
      status,
      ...(size !== undefined ? { responseSize: String(size) } : {}),
      latency: `${seconds.toFixed(6)}s`,
      userAgent: req.headers['user-agent'],
      remoteIp: req.socket?.remoteAddress,
    },
    ...traceField(req.headers, ctx.config.projectId),
    function: functionName,
    ...labels,
  });
}
