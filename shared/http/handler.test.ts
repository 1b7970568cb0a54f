/**
 * The shared wrapper, exercised over real HTTP: CORS, routing, bodies, validation, errors and the
 * access log. Most cases use the real families through the local server; a few use a small
 * family declared here to reach paths no real route takes (a crash, a streamed reply).
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../config';
import { createContext } from '../context';
import { HttpError } from '../errors';
import { ConnectionLost, FirestoreError } from '../firestore-client/transport';
import { Logger } from '../log';
import { seedStandardData, startTestService, type TestService } from '../testing/harness';
import { listenLocally } from '../testing/listen-locally';
import { rawGet } from '../testing/raw-get';
import { answerDeadlineSeconds, createHandler, MAX_DECLARED_LENGTH } from './handler';
import { Reply } from './reply';
import { route, type RoutedFamily } from './routes';
import { integerParam, queryBool } from './validate';

/** `total` bytes in 1 MiB chunks. */
function* chunksOf(total: number): Generator<Buffer> {
  for (let sent = 0; sent < total; sent += 1 << 20) yield Buffer.alloc(Math.min(1 << 20, total - sent), 97);
}

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  await seedStandardData(svc.db);
});
afterAll(() => svc.close());

describe('CORS', () => {
  it('answers a preflight on any path with 200, an empty body and no authentication', async () => {
    for (const path of ['/v2/datasets', '/v2/no/such/thing', '/']) {
      const res = await svc.request('OPTIONS', path, {
        headers: { origin: 'https://clio.janelia.org', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(res.status, path).toBe(200);
      expect(res.text).toBe('');
      expect(res.headers.get('access-control-allow-origin')).toBe('https://clio.janelia.org');
      expect(res.headers.get('access-control-allow-methods')).toBe('GET,POST,PUT,DELETE,OPTIONS');
      expect(res.headers.get('access-control-allow-headers')).toBe('Authorization,Content-Type,Range');
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      expect(res.headers.get('access-control-max-age')).toBe('3600');
      expect(res.headers.get('vary')).toMatch(/Origin/);
    }
  });

  it('sends * without an Origin, and CORS headers on errors too', async () => {
    const res = await svc.request('GET', '/v2/datasets');
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const notFound = await svc.request('GET', '/v2/nothing', { headers: { origin: 'https://a.example' } });
    expect(notFound.headers.get('access-control-allow-origin')).toBe('https://a.example');
    expect(notFound.headers.get('vary')).toBe('Origin');
  });

  it('echoes a listed origin and sends the first entry otherwise', async () => {
    const listed = await startTestService({ ALLOWED_ORIGINS: 'https://one.example, https://two.example' });
    try {
      const two = await listed.request('GET', '/v2/datasets', { as: 'general', headers: { origin: 'https://two.example' } });
      expect(two.headers.get('access-control-allow-origin')).toBe('https://two.example');
      const other = await listed.request('GET', '/v2/datasets', { as: 'general', headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBe('https://one.example');
    } finally {
      await listed.close();
    }
  });
});

describe('routing', () => {
  it('answers an unknown path with 404 Not Found, whatever the method and token', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await svc.request(method, '/v2/unknown-family/x', { as: 'admin' });
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ detail: 'Not Found' });
    }
    expect((await svc.request('GET', '/v2/datasets/a/b/c', { as: 'admin' })).status).toBe(404);
  });

  it('answers a known path with a wrong method with 405 and an Allow header', async () => {
    const res = await svc.request('PUT', '/v2/datasets', { as: 'admin' });
    expect(res.status).toBe(405);
    expect(res.json).toEqual({ detail: 'Method Not Allowed' });
    expect(res.headers.get('allow')).toBe('GET, POST, DELETE, OPTIONS');
    expect((await svc.request('HEAD', '/v2/roles')).status).toBe(405);
  });

  it('refuses paths with dot segments instead of resolving them to another route', async () => {
    const { hostname, port } = new URL(svc.url);
    for (const path of ['/v2/datasets/../users', '/v2/./roles', '/v2/datasets/%2E%2e/users']) {
      // Host and path given apart, so that Node sends the path exactly as written.
      const status = await new Promise<number | undefined>((resolve, reject) => {
        request({ hostname, port, path, headers: { authorization: `Bearer ${svc.tokenFor('admin@test.org')}` } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject).end();
      });
      expect(status, path).toBe(400);
    }
  });

  it('honours URL_PREFIX on every route and alias', async () => {
    const prefixed = await startTestService({ URL_PREFIX: '/clio' });
    try {
      await seedStandardData(prefixed.db);
      for (const path of ['/clio/v2/roles', '/clio/test/roles/', '/clio/roles', '/clio/clio_toplevel/roles']) {
        expect((await prefixed.request('GET', path, { as: 'general' })).status, path).toBe(200);
      }
      expect((await prefixed.request('GET', '/v2/roles', { as: 'general' })).status).toBe(404);
    } finally {
      await prefixed.close();
    }
  });
});

describe('bodies', () => {
  it('answers 413 for bodies over 32 MiB and writes nothing', async () => {
    const big = `{"huge": {"description": "${'x'.repeat(33 * 1024 * 1024)}"}}`;
    const res = await svc.request('POST', '/v2/datasets', { as: 'admin', rawBody: big });
    expect(res.status).toBe(413);
    expect(res.json.detail).toMatch(/32 MiB/);
    expect((await svc.db.collection('clio_datasets').doc('huge').get()).exists).toBe(false);
  });
});

/** A family of probe routes behind the wrapper on a local port, logging into `logs`. */
function serveProbes(projectId: string, logs: Record<string, unknown>[], family: RoutedFamily) {
  const config = loadConfig({ FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'), GOOGLE_CLOUD_PROJECT: projectId, TEST_USER: 'dev@test.org' });
  const handler = createHandler(family, createContext(config, new Logger((line) => logs.push(JSON.parse(line)))));
  return listenLocally((req, res) => void handler(req, res));
}

describe('wrapper internals', () => {
  const logs: Record<string, unknown>[] = [];
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ url, close } = await serveProbes('demo-wrapper', logs, {
      name: 'probe',
      routes: [
        route({ method: 'GET', path: '/probe/crash', surfaces: ['v2'], public: true, summary: 'throws', handler: async () => {
          throw new Error('secret internal detail');
        } }),
        route({ method: 'GET', path: '/probe/unavailable', surfaces: ['v2'], public: true, summary: '503', handler: async () => {
          throw new HttpError(503, 'the thing is not configured');
        } }),
        route({ method: 'GET', path: '/probe/stream', surfaces: ['v2'], public: true, summary: 'streams', handler: async () =>
          new Reply(Readable.from(['[1,', '2]']), { status: 206, headers: { 'Content-Type': 'application/json' } }) }),
        route({ method: 'GET', path: '/probe/broken', surfaces: ['v2'], public: true, summary: 'breaks', handler: async () =>
          new Reply(Readable.from((async function* () {
            yield '[1,';
            throw new Error('upstream went away');
          })())) }),
        route({ method: 'GET', path: '/probe/database-down', surfaces: ['v2'], public: true, summary: 'Firestore unreachable', handler: async () => {
          throw new ConnectionLost('ECONNREFUSED');
        } }),
        route({ method: 'GET', path: '/probe/database-silent', surfaces: ['v2'], public: true, summary: 'Firestore silent', handler: async () => {
          throw new FirestoreError(4, 'no answer within 60000 ms');
        } }),
        route({ method: 'GET', path: '/probe/cacheable', surfaces: ['v2'], public: true, summary: 'cacheable', handler: async () =>
          new Reply('kept', { headers: { 'Cache-Control': 'public, max-age=60' } }) }),
        route({ method: 'GET', path: '/probe/cacheable-missing', surfaces: ['v2'], public: true, summary: 'cacheable 404', handler: async () =>
          new Reply('gone', { status: 404, headers: { 'Cache-Control': 'public, max-age=600' } }) }),
        route({ method: 'GET', path: '/probe/sized/:bytes', surfaces: ['v2'], public: true, summary: 'declares its length',
          params: v.object({ bytes: integerParam }),
          handler: async ({ params }) =>
            new Reply(Readable.from(chunksOf(params.bytes)), { headers: { 'Content-Length': String(params.bytes) } }) }),
        route({ method: 'GET', path: '/probe/buffer/:bytes', surfaces: ['v2'], public: true, summary: 'a buffer',
          params: v.object({ bytes: integerParam }),
          handler: async ({ params }) => new Reply(Buffer.alloc(params.bytes, 120)) }),
        route({
          method: 'POST', path: '/probe/echo/:n', surfaces: ['v2'], summary: 'echo',
          params: v.object({ n: integerParam }),
          query: v.object({ flag: queryBool(false) }),
          body: v.object({ id: v.union([v.number(), v.bigint()]) }),
          handler: async ({ params, query, body, caller }) => ({ n: params.n, flag: query.flag, id: body.id, user: caller.email }),
        }),
      ],
    }));
  });
  afterAll(() => close());

  it('turns an unexpected exception into a 500 with an error_id, logged with its stack, with CORS', async () => {
    const res = await fetch(`${url}/v2/probe/crash`, { headers: { origin: 'https://x.example' } });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { detail: string; error_id: string };
    expect(body.detail).toBe('Internal server error');
    expect(body.error_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(body)).not.toMatch(/secret/);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://x.example');
    const entry = logs.find((line) => line.error_id === body.error_id)!;
    expect(entry.severity).toBe('ERROR');
    expect(entry.stack_trace).toMatch(/secret internal detail/);
  });

  it('answers 503 with a clear detail, Retry-After and CORS when the database cannot be reached, logging the cause', async () => {
    const res = await fetch(`${url}/v2/probe/database-down`, { headers: { origin: 'https://x.example' } });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { detail: string; error_id: string };
    expect(body).toEqual({ detail: 'the database is not answering right now; try again in a moment', error_id: expect.any(String) });
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://x.example');
    expect(logs.find((line) => line.error_id === body.error_id)?.stack_trace).toMatch(/UNAVAILABLE/);
  });

  it('answers 503 when the database did not answer in time (DEADLINE_EXCEEDED)', async () => {
    const res = await fetch(`${url}/v2/probe/database-silent`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toBe('the database is not answering right now; try again in a moment');
  });

  it('keeps the detail of a deliberate 5xx and adds an error_id', async () => {
    const res = await fetch(`${url}/v2/probe/unavailable`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { detail: string; error_id: string };
    expect(body).toEqual({ detail: 'the thing is not configured', error_id: expect.any(String) });
  });

  it('marks every answer no-store, and lets a success (never an error) say otherwise', async () => {
    for (const path of ['/v2/probe/crash', '/v2/probe/unavailable', '/v2/probe/stream', '/v2/nothing-here', '/v2/probe/echo/x']) {
      expect((await fetch(`${url}${path}`)).headers.get('cache-control'), path).toBe('no-store');
    }
    expect((await fetch(`${url}/v2/probe/echo/1`, { method: 'DELETE' })).headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${url}/v2/probe/echo/1`, { method: 'OPTIONS' })).headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${url}/v2/probe/cacheable`)).headers.get('cache-control')).toBe('public, max-age=60');
    const missing = await fetch(`${url}/v2/probe/cacheable-missing`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBe('no-store');
  });

  it('sends a response over 32 MiB chunked, never declaring its length, and keeps the length of smaller ones', async () => {
    const over = MAX_DECLARED_LENGTH + 1;
    for (const kind of ['sized', 'buffer']) {
      const big = await rawGet(url, `/v2/probe/${kind}/${over}`);
      expect(big.status, kind).toBe(200);
      expect(big.headers['content-length'], kind).toBeUndefined();
      expect(big.headers['transfer-encoding'], kind).toBe('chunked');
      expect(big.body.length, kind).toBe(over);
      const limit = await rawGet(url, `/v2/probe/${kind}/${MAX_DECLARED_LENGTH}`);
      expect(limit.headers['content-length'], kind).toBe(String(MAX_DECLARED_LENGTH));
      expect(limit.body.length, kind).toBe(MAX_DECLARED_LENGTH);
    }
  });

  it('streams a Reply with its status and headers', async () => {
    const res = await fetch(`${url}/v2/probe/stream`);
    expect(res.status).toBe(206);
    expect(await res.text()).toBe('[1,2]');
  });

  it('breaks the connection rather than ending a stream that failed half way', async () => {
    await expect(fetch(`${url}/v2/probe/broken`).then((res) => res.text())).rejects.toThrow();
  });

  it('validates path, query and body into typed input, keeping uint64 values exact', async () => {
    const res = await fetch(`${url}/v2/probe/echo/7?flag=YES&app=clio-py`, { method: 'POST', body: '{"id": 18446744073709551615}' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"n":7,"flag":true,"id":18446744073709551615,"user":"dev@test.org"}');
  });

  it('reports every validation problem in FastAPI shape', async () => {
    const res = await fetch(`${url}/v2/probe/echo/1.5?flag=maybe`, { method: 'POST', body: '{"id": "x"}' });
    expect(res.status).toBe(422);
    const { detail } = (await res.json()) as { detail: { loc: unknown[] }[] };
    expect(detail.map((issue: { loc: unknown[] }) => issue.loc)).toEqual([['path', 'n'], ['query', 'flag'], ['body', 'id']]);
    for (const issue of detail) expect(issue).toEqual({ loc: expect.any(Array), msg: expect.any(String), type: expect.any(String) });
  });

  it('writes one access-log line per request in Cloud Logging format', async () => {
    logs.length = 0;
    await fetch(`${url}/v2/probe/echo/3`, { method: 'POST', body: '{"id": 1}', headers: { 'user-agent': 'probe/1', 'x-cloud-trace-context': 'abc123/1;o=1' } });
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      severity: 'INFO',
      message: 'POST /v2/probe/echo/3 200',
      httpRequest: { requestMethod: 'POST', requestUrl: '/v2/probe/echo/3', status: 200, userAgent: 'probe/1', latency: expect.stringMatching(/^\d+\.\d+s$/) },
      'logging.googleapis.com/trace': 'projects/demo-wrapper/traces/abc123',
      user: 'dev@test.org',
      function: 'probe',
    });
  });
});

describe('access log of real families', () => {
  it('labels the line with the user and the dataset', async () => {
    svc.logs.length = 0;
    await svc.request('GET', '/v2/datasets/public-ds', { as: 'reader' });
    const line = svc.logs.find((entry) => entry.httpRequest)!;
    expect(line).toMatchObject({ user: 'reader@test.org', dataset: 'public-ds', function: 'datasets', severity: 'INFO' });
  });
});

describe('the answer deadline (the function\'s timeout less 5 s)', () => {
  const TIMEOUT_SECONDS = 6;
  const logs: Record<string, unknown>[] = [];
  const late: string[] = [];
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ url, close } = await serveProbes('demo-deadline', logs, {
      name: 'slowprobe',
      deploy: { timeoutSeconds: TIMEOUT_SECONDS },
      routes: [
        route({ method: 'GET', path: '/hang', surfaces: ['v2'], public: true, summary: 'waits on a database that never answers', handler: () => new Promise<never>(() => undefined) }),
        route({ method: 'GET', path: '/late', surfaces: ['v2'], public: true, summary: 'answers after the deadline', handler: async () => {
          await new Promise((done) => setTimeout(done, 1500));
          late.push('finished');
          return { late: true };
        } }),
        route({ method: 'GET', path: '/late-failure', surfaces: ['v2'], public: true, summary: 'fails after the deadline', handler: async () => {
          await new Promise((done) => setTimeout(done, 1500));
          throw new Error('failed too late');
        } }),
        route({ method: 'GET', path: '/slow-stream', surfaces: ['v2'], public: true, summary: 'a stream that outlasts the deadline', handler: async () =>
          new Reply(Readable.from((async function* () {
            yield '[1,';
            await new Promise((done) => setTimeout(done, 1500));
            yield '2]';
          })()), { headers: { 'Content-Type': 'application/json' } }) }),
      ],
    }));
  });
  afterAll(() => close());

  it('is the timeout less the margin', () => {
    expect(answerDeadlineSeconds({ name: 'x', routes: [], deploy: { timeoutSeconds: 60 } })).toBe(55);
    expect(answerDeadlineSeconds({ name: 'x', routes: [] })).toBe(55);
  });

  it('answers a request that never finishes with a 503 naming the deadline, with CORS and Retry-After, logged', async () => {
    const started = Date.now();
    const res = await fetch(`${url}/v2/hang`, { headers: { origin: 'https://x.example' } });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    const body = (await res.json()) as { detail: string; error_id: string };
    expect(body.detail).toBe('the request did not finish within 1 s: the database or a service it needs is not answering. A write may still be applied; try again in a moment');
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://x.example');
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3000);
    expect(logs.some((line) => line.error_id === body.error_id && line.severity === 'ERROR')).toBe(true);
    expect(logs.some((line) => (line.httpRequest as { requestUrl?: string } | undefined)?.requestUrl === '/v2/hang' && (line.httpRequest as { status: number }).status === 503)).toBe(true);
  });

  it('drops a result that arrives after the deadline was answered, and logs a late failure instead of breaking the answer', async () => {
    const res = await fetch(`${url}/v2/late`);
    expect(res.status).toBe(503);
    await res.text();
    await new Promise((done) => setTimeout(done, 1000));
    expect(late).toEqual(['finished']);
    const failed = await fetch(`${url}/v2/late-failure`);
    expect(failed.status).toBe(503);
    expect(((await failed.json()) as { detail: string }).detail).toMatch(/did not finish within 1 s/);
    await new Promise((done) => setTimeout(done, 1000));
    expect(logs.some((line) => line.message === 'request failed after its deadline was answered')).toBe(true);
  });

  it('does not cut a streamed answer that has begun', async () => {
    const res = await fetch(`${url}/v2/slow-stream`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([1, 2]);
  });
});
