import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json';
import { firebaseRewrites, functionFor, rewriteTable } from '../../infra/rewrites';
import { type Method, route, Router, type Route, type RoutedFamily } from '../../shared/http/routes';
import { integerParam, jsonObject, queryBool } from '../../shared/http/validate';
import { startTestService, type TestService } from '../../shared/testing/harness';
import { listenLocally } from '../../shared/testing/listen-locally';
import { createLocalServer } from '../../emulator/serve';
import { FAMILIES } from '../registry';
import { ASSETS_VERSION, DOCS_ASSETS } from './assets';
import { README_CALLS } from './examples';
import { packageAssetPath, serviceDocument, writeDocsArtifacts } from './local';
import { buildOpenApiDocument, ErrorBody, type OpenApiDocument, type Operation, ValidationErrorBody } from './openapi';
import { docsFamily } from './routes';
import { bundledSource } from './sources';

let svc: TestService;
let served: OpenApiDocument;
beforeAll(async () => {
  svc = await startTestService();
  served = (await svc.request('GET', '/openapi.json')).json;
});
afterAll(() => svc.close());

/** Every operation of a document, keyed `METHOD path`, in document order. */
function operationsOf(document: OpenApiDocument): [string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]): [string, Operation] => [`${method.toUpperCase()} ${path}`, operation!]),
  );
}

/** Where the issue says a route is documented: its /v2 mount, else its bare path, else its /test mount. */
function expectedKey(declared: Route): string {
  const root = declared.surfaces.includes('v2') ? '/v2' : declared.surfaces.some((s) => s === 'root' || s === 'legacy') ? '' : '/test';
  return `${declared.method} ${`${root}${declared.path}`.replace(/[:*](\w+)/g, '{$1}')}`;
}

const get = (document: OpenApiDocument, method: Method, path: string) => document.paths[path]?.[method.toLowerCase() as 'get'];

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3 document (swagger-parser)', async () => {
    await expect(SwaggerParser.validate(structuredClone(served) as never)).resolves.toBeTruthy();
    expect(served.openapi).toBe('3.0.3');
    expect(served.info.version).toBe(packageJson.version);
  });

  it('documents every route of every family exactly once, and nothing else', () => {
    const expected = FAMILIES.flatMap((family) => family.routes.map((declared) => `${expectedKey(declared)} ${family.name} ${declared.summary}`));
    const documented = operationsOf(served).map(([key, operation]) => `${key} ${operation.tags.join(',')} ${operation.summary}`);
    expect(new Set(expected).size).toBe(expected.length);
    expect([...documented].sort()).toEqual([...expected].sort());
  });

  it('has one tag per family, unique operation ids, and the bearer scheme everywhere except public routes', () => {
    expect(served.tags.map((tag) => tag.name)).toEqual(FAMILIES.map((family) => family.name));
    const ids = operationsOf(served).map(([, operation]) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(served.security).toEqual([{ bearer: [] }]);
    expect(served.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' } });
    for (const family of FAMILIES) {
      for (const declared of family.routes) {
        const [method, path] = expectedKey(declared).split(' ');
        const operation = get(served, method as Method, path)!;
        if (declared.public) {
          expect(operation.security, path).toEqual([]);
          expect(operation.responses[401], path).toBeUndefined();
        } else {
          expect(operation.security, path).toBeUndefined();
          expect(operation.responses[401], path).toEqual({ $ref: '#/components/responses/Unauthorized' });
        }
      }
    }
  });

  it('converts parameters and bodies from the validation schemas (datasets and users)', () => {
    const list = get(served, 'GET', '/v2/datasets')!;
    expect(list.parameters).toEqual([{ name: 'templates', in: 'query', required: false, schema: { type: 'string', default: 'false' } }]);
    expect(list.description).toContain('Also served at `/test/datasets`, `/datasets`, `/clio_toplevel/datasets`.');
    const one = get(served, 'GET', '/v2/datasets/{dataset}')!;
    expect(one.parameters?.[0]).toMatchObject({ name: 'dataset', in: 'path', required: true, schema: { type: 'string' } });

    const post = get(served, 'POST', '/v2/datasets')!.requestBody!;
    expect(post.required).toBe(true);
    const dataset = (post.content['application/json'].schema as { additionalProperties: Record<string, unknown> }).additionalProperties;
    expect(dataset).toMatchObject({ type: 'object', required: ['description'], properties: { public: { type: 'boolean' }, description: { type: 'string' } } });

    const users = get(served, 'POST', '/v2/users')!.requestBody!.content['application/json'].schema as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(users.additionalProperties.properties.global_roles).toEqual({ type: 'array', items: { type: 'string' } });
    expect(users.additionalProperties.properties.name).toEqual({ type: 'string', nullable: true });
    expect(users.additionalProperties.required).toBeUndefined();
  });

  it('documents the error bodies the service really sends', async () => {
    expect(served.components.schemas.HTTPError).toMatchObject({ type: 'object', properties: { detail: { type: 'string' }, error_id: { type: 'string' } }, required: ['detail'] });
    const unauthorized = await svc.request('GET', '/v2/roles');
    expect(unauthorized.status).toBe(401);
    expect(v.is(ErrorBody, unauthorized.json)).toBe(true);
    const invalid = await svc.request('GET', '/v2/datasets?templates=maybe', { as: 'general' });
    expect(invalid.status).toBe(422);
    expect(v.is(ValidationErrorBody, invalid.json)).toBe(true);
    expect(get(served, 'GET', '/v2/datasets')!.responses[422]).toEqual({ $ref: '#/components/responses/ValidationFailed' });
    expect(get(served, 'GET', '/v2/roles')!.responses[422]).toBeUndefined();
  });

  it('carries the README curl calls as examples of the operations that answer them, and they are valid requests', () => {
    const routers = FAMILIES.map((family) => new Router(family.routes, ''));
    const firstParams = new Map<Route, Record<string, string>>();
    for (const call of README_CALLS) {
      const url = new URL(call.url, 'http://localhost');
      const match = routers
        .map((router) => {
          try {
            return router.match(call.method, url.pathname);
          } catch {
            return undefined;
          }
        })
        .find(Boolean);
      if (!match) continue; // that family is not in this build
      const [method, path] = expectedKey(match.route).split(' ');
      const operation = get(served, method as Method, path)!;
      expect(operation['x-codeSamples']?.map((sample) => sample.source).join('\n'), call.url).toContain(`'https://my-api-endpoint${call.url}'`);
      if (match.route.query) expect(v.safeParse(match.route.query, Object.fromEntries(url.searchParams)).success, call.url).toBe(true);
      if (call.body !== undefined && match.route.body) {
        expect(v.safeParse(match.route.body, call.body).success, call.url).toBe(true);
        const examples = Object.values(operation.requestBody!.content['application/json'].examples ?? {});
        expect(examples, call.url).toContainEqual({ summary: call.summary, value: call.body });
      }
      // Path parameters take their example from the first call the route answers.
      if (!firstParams.has(match.route)) firstParams.set(match.route, match.params);
      for (const [name, value] of Object.entries(firstParams.get(match.route)!)) {
        expect(operation.parameters?.find((p) => p.name === name)?.example, `${call.url} ${name}`).toBe(value);
      }
    }
    // datasets, users and roles are always deployed: at least those routes carry README calls.
    expect(firstParams.size).toBeGreaterThanOrEqual(7);
    expect(Object.values(get(served, 'DELETE', '/v2/users')!.requestBody!.content['application/json'].examples!)).toEqual([
      { summary: 'Remove user(s)', value: ['plaza.stephen'] },
    ]);
  });
});

describe('buildOpenApiDocument', () => {
  const sample = (routes: Route[]): RoutedFamily => ({ name: 'sample', routes });
  const handler = async () => null;

  it('uses the input type of transformed request schemas and the output type of responses', () => {
    const document = buildOpenApiDocument(
      [
        sample([
          route({
            method: 'POST',
            path: '/things/:id',
            surfaces: ['v2'],
            summary: 'Make a thing',
            params: v.object({ id: integerParam }),
            query: v.object({ dry: queryBool(false), size: v.optional(v.pipe(v.number(), v.maxValue(9))) }),
            body: v.pipe(jsonObject, v.looseObject({ big: v.bigint(), tags: v.optional(v.array(v.string())) })),
            response: v.object({ id: v.number(), made: v.boolean() }),
            handler,
          }),
        ]),
      ],
      { version: '9.9.9' },
    );
    const operation = get(document, 'POST', '/v2/things/{id}')!;
    expect(operation.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[-+]?\\d+$' } },
      { name: 'dry', in: 'query', required: false, schema: { type: 'string', default: 'false' } },
      { name: 'size', in: 'query', required: false, schema: { type: 'number', maximum: 9 } },
    ]);
    expect(operation.requestBody).toEqual({
      required: true,
      content: {
        'application/json': {
          schema: { type: 'object', properties: { big: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } }, required: ['big'] },
        },
      },
    });
    expect(operation.responses[200]).toEqual({
      description: 'Successful Response',
      content: {
        'application/json': { schema: { type: 'object', properties: { id: { type: 'number' }, made: { type: 'boolean' } }, required: ['id', 'made'] } },
      },
    });
    expect(operation.responses[422]).toBeDefined();
    expect(document.info.version).toBe('9.9.9');
  });

  it('documents a non-JSON success by its media type, an optional body as not required, and undeclared path parameters as strings', () => {
    const document = buildOpenApiDocument(
      [
        sample([
          route({ method: 'GET', path: '/page', surfaces: ['root'], public: true, summary: 'A page', mediaType: 'text/html', handler }),
          route({ method: 'PUT', path: '/files/*rest', surfaces: ['legacy'], summary: 'Put a file', body: v.optional(v.string()), handler }),
        ]),
      ],
      { version: '1' },
    );
    expect(get(document, 'GET', '/page')!.responses[200]).toEqual({ description: 'Successful Response', content: { 'text/html': { schema: { type: 'string' } } } });
    expect(get(document, 'GET', '/page')!.security).toEqual([]);
    const put = get(document, 'PUT', '/files/{rest}')!;
    expect(put.requestBody!.required).toBe(false);
    expect(put.parameters).toEqual([{ name: 'rest', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(put.description).toBe('Also served at `/clio_toplevel/files/{rest}`.');
  });

  it('puts a /test-only route under /test and refuses a path declared twice or a query schema that is not an object', () => {
    const testOnly = buildOpenApiDocument([sample([route({ method: 'GET', path: '/mirror', surfaces: ['test'], summary: 'Mirror', handler })])], { version: '1' });
    expect(Object.keys(testOnly.paths)).toEqual(['/test/mirror']);

    const twice = [sample([route({ method: 'GET', path: '/a', surfaces: ['v2'], summary: 'A', handler })]), { name: 'other', routes: [route({ method: 'GET', path: '/a', surfaces: ['v2', 'test'], summary: 'A again', handler })] }];
    expect(() => buildOpenApiDocument(twice, { version: '1' })).toThrow('GET /v2/a is declared twice');

    const badQuery = [sample([route({ method: 'GET', path: '/q', surfaces: ['v2'], summary: 'Q', query: v.string(), handler })])];
    expect(() => buildOpenApiDocument(badQuery, { version: '1' })).toThrow('the query schema must be an object schema');
  });
});

describe('the docs pages', () => {
  it('GET / says what the service is, its version, and links to the docs and every family', async () => {
    const res = await svc.request('GET', '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('<h1>Clio Store</h1>');
    expect(res.text).toContain(`Version <strong>${packageJson.version}</strong>`);
    for (const link of ['/docs', '/redoc', '/openapi.json']) expect(res.text).toContain(`href="${link}"`);
    for (const family of FAMILIES) expect(res.text).toContain(`href="/docs#/${family.name}"`);
    // One operation is singular: transfer has exactly one route.
    expect(FAMILIES.find((family) => family.name === 'transfer')?.routes).toHaveLength(1);
    expect(res.text).toContain('<a href="/docs#/transfer">transfer</a> (1 operation)</li>');
    expect(res.text).toContain('<a href="/docs#/datasets">datasets</a> (4 operations)</li>');
    expect(res.text).not.toMatch(/\(1 operations\)/);
  });

  it('GET /docs and /redoc load their scripts from this service only, with or without a trailing slash', async () => {
    for (const path of ['/docs', '/docs/']) {
      const res = await svc.request('GET', path);
      expect(res.status).toBe(200);
      expect(res.text).toContain(`<script src="/docs/assets/${ASSETS_VERSION}/swagger-ui-bundle.js"></script>`);
      expect(res.text).toContain(`<link rel="stylesheet" href="/docs/assets/${ASSETS_VERSION}/swagger-ui.css">`);
      expect(res.text).toContain('"url":"/openapi.json"');
      expect(res.text).not.toMatch(/https?:\/\//);
    }
    const redoc = await svc.request('GET', '/redoc');
    expect(redoc.status).toBe(200);
    expect(redoc.text).toContain('<redoc spec-url="/openapi.json"></redoc>');
    expect(redoc.text).toContain(`<script src="/docs/assets/${ASSETS_VERSION}/redoc.standalone.js"></script>`);
    expect(redoc.text).not.toMatch(/https?:\/\//);
  });

  it('serves each asset byte for byte from its npm package, and 404 for any other name', async () => {
    for (const asset of DOCS_ASSETS) {
      const response = await fetch(`${svc.url}/docs/assets/${ASSETS_VERSION}/${asset.name}`);
      expect(response.status, asset.name).toBe(200);
      expect(response.headers.get('content-type')).toBe(asset.contentType);
      expect(Buffer.from(await response.arrayBuffer()).equals(readFileSync(packageAssetPath(asset))), asset.name).toBe(true);
    }
    // The current version's files never change; another version's are today's, to be revalidated.
    const current = await fetch(`${svc.url}/docs/assets/${ASSETS_VERSION}/swagger-ui.css`);
    expect(current.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const older = await fetch(`${svc.url}/docs/assets/swagger-ui-dist-1.0.0_redoc-1.0.0/swagger-ui.css`);
    expect(older.status).toBe(200);
    expect(older.headers.get('cache-control')).toBe('no-cache');
    for (const name of ['index.html', '..%2Fpackage.json', 'swagger-ui.css.map']) {
      const res = await svc.request('GET', `/docs/assets/${ASSETS_VERSION}/${name}`);
      expect(res.status, name).toBe(404);
      expect(res.json.detail).toMatch(/^no documentation asset named /);
    }
  });

  it('needs no token (an invalid one is ignored), answers 405 to other methods, and lives only at the bare paths', async () => {
    const res = await svc.request('GET', '/openapi.json', { authorization: 'Bearer not-a-token' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(serviceDocument(FAMILIES));
    const post = await svc.request('POST', '/docs');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, OPTIONS');
    for (const path of ['/clio_toplevel/docs', '/v2/docs', '/test/openapi.json', '/index.html']) {
      expect((await svc.request('GET', path)).status, path).toBe(404);
    }
  });

  it('respects URL_PREFIX in every link, in servers, and in the rewrites', async () => {
    const prefixed = await startTestService({ URL_PREFIX: '/clio' });
    try {
      for (const path of ['/clio', '/clio/']) {
        const home = await prefixed.request('GET', path);
        expect(home.status, path).toBe(200);
        for (const link of ['/clio/docs', '/clio/redoc', '/clio/openapi.json', `/clio/docs/assets/${ASSETS_VERSION}/favicon.png`]) expect(home.text).toContain(`href="${link}`);
      }
      const docs = await prefixed.request('GET', '/clio/docs');
      expect(docs.text).toContain(`src="/clio/docs/assets/${ASSETS_VERSION}/swagger-ui-bundle.js"`);
      expect(docs.text).toContain('"url":"/clio/openapi.json"');
      expect((await prefixed.request('GET', '/clio/redoc')).text).toContain('spec-url="/clio/openapi.json"');
      expect((await prefixed.request('GET', '/clio/openapi.json')).json.servers).toEqual([{ url: '/clio' }]);
      expect((await prefixed.request('GET', `/clio/docs/assets/${ASSETS_VERSION}/favicon.png`)).status).toBe(200);
      for (const path of ['/', '/docs', '/openapi.json']) expect((await prefixed.request('GET', path)).status, path).toBe(404);
    } finally {
      await prefixed.close();
    }
    expect(served.servers).toBeUndefined();
  });
});

describe('the root rewrite', () => {
  it('sends exactly the root (with or without the prefix) to the docs function', () => {
    const table = rewriteTable(FAMILIES);
    expect(table).toContainEqual({ prefix: '/', functionName: 'docs', exact: true });
    expect(functionFor(table, '/')).toBe('docs');
    expect(functionFor(table, '/unknown')).toBeUndefined();
    expect(functionFor(table, `/docs/assets/${ASSETS_VERSION}/swagger-ui.css`)).toBe('docs');
    expect(functionFor(table, '/v2/datasets')).toBe('datasets');
    expect(firebaseRewrites(table, 'us-east4')).toContainEqual({ source: '/', function: { functionId: 'docs', region: 'us-east4' } });
    expect(firebaseRewrites(table, 'us-east4')).toContainEqual({ source: '/docs{,/**}', function: { functionId: 'docs', region: 'us-east4' } });

    const prefixed = rewriteTable(FAMILIES, '/clio');
    expect(prefixed).toContainEqual({ prefix: '/clio/', functionName: 'docs', exact: true });
    expect(['/clio', '/clio/'].map((path) => functionFor(prefixed, path))).toEqual(['docs', 'docs']);
    expect(functionFor(prefixed, '/clio/unknown')).toBeUndefined();
    expect(functionFor(prefixed, '/clio/v2/datasets')).toBe('datasets');
    expect(firebaseRewrites(prefixed, 'r')).toContainEqual({ source: '/clio/', function: { functionId: 'docs', region: 'r' } });
  });
});

describe('the deployed docs function', () => {
  let dist: string;
  beforeAll(() => {
    dist = mkdtempSync(join(tmpdir(), 'clio-docs-'));
    writeDocsArtifacts(dist, FAMILIES);
  });
  afterAll(() => rmSync(dist, { recursive: true, force: true }));

  it('the build writes openapi.json, and copies of every asset beside the docs bundle', () => {
    const written = JSON.parse(readFileSync(join(dist, 'openapi.json'), 'utf8'));
    expect(written).toEqual(serviceDocument(FAMILIES));
    expect(readFileSync(join(dist, 'docs', 'openapi.json'), 'utf8')).toBe(readFileSync(join(dist, 'openapi.json'), 'utf8'));
    for (const asset of DOCS_ASSETS) expect(readFileSync(join(dist, 'docs', asset.name)).equals(readFileSync(packageAssetPath(asset))), asset.name).toBe(true);
  });

  it('serves the built document and assets from its own directory', async () => {
    const server = await listenLocally(createLocalServer([docsFamily(bundledSource(join(dist, 'docs')))], svc.ctx));
    const base = server.url;
    try {
      const document = await (await fetch(`${base}/openapi.json`)).json();
      expect(document).toEqual(JSON.parse(readFileSync(join(dist, 'docs', 'openapi.json'), 'utf8')));
      const css = await fetch(`${base}/docs/assets/${ASSETS_VERSION}/swagger-ui.css`);
      expect(css.status).toBe(200);
      expect(Buffer.from(await css.arrayBuffer()).equals(readFileSync(join(dist, 'docs', 'swagger-ui.css')))).toBe(true);
      const home = await fetch(`${base}/`);
      expect(await home.text()).toContain(`Version <strong>${packageJson.version}</strong>`);
    } finally {
      await server.close();
    }
  });

  it('fails clearly (500 with an error id) when openapi.json was not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'clio-docs-empty-'));
    const server = await listenLocally(createLocalServer([docsFamily(bundledSource(empty))], svc.ctx));
    try {
      const res = await fetch(`${server.url}/openapi.json`);
      expect(res.status).toBe(500);
      const body = await res.json();
      expect(body).toMatchObject({ detail: 'Internal server error', error_id: expect.any(String) });
      expect(v.is(ErrorBody, body)).toBe(true);
    } finally {
      await server.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
