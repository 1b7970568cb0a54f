/**
 * The docs function: the home page, the OpenAPI document, Swagger UI, ReDoc and their browser
 * files. Every route is public and mounted at the bare path (below URL_PREFIX only).
 */
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import { HttpError } from '../../shared/errors';
import { Reply } from '../../shared/http/reply';
import { type Family, JSON_API_DEPLOY, route, type Surface } from '../../shared/http/routes';
import { ASSETS_PATH, ASSETS_VERSION, DOCS_ASSETS } from './assets';
import { homePage, redocPage, swaggerPage } from './pages';
import { bundledSource, type DocsSource } from './sources';

const ROOT: readonly Surface[] = ['root'];

/** Images only from here: ReDoc would otherwise fetch its footer logo from cdn.redoc.ly. */
const PAGE_HEADERS = { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': "img-src 'self' data: blob:" };

const html = (body: string) => new Reply(body, { headers: PAGE_HEADERS });

export function docsFamily(source: DocsSource): Family {
  const assets = new Map<string, Promise<Buffer>>();
  const readAsset = (name: string) => {
    const asset = DOCS_ASSETS.find((a) => a.name === name);
    if (!asset) throw new HttpError(404, `no documentation asset named ${name}`);
    let bytes = assets.get(name);
    if (!bytes) {
      bytes = readFile(source.assetPath(asset));
      // A failed read is retried next time rather than remembered.
      bytes.catch(() => assets.delete(name));
      assets.set(name, bytes);
    }
    return bytes.then((body) => ({ asset, body }));
  };

  return {
    name: 'docs',
    deploy: {
      ...JSON_API_DEPLOY,
      memory: '256Mi',
      why: 'Pages and a handful of static files held in memory after the first read: little memory, many callers per instance.',
    },
    routes: [
      route({
        method: 'GET',
        path: '/',
        surfaces: ROOT,
        public: true,
        summary: 'Home page',
        description: 'What this service is, its version, and links to the API documentation.',
        mediaType: 'text/html',
        handler: async ({ ctx }) => html(homePage(await source.document(), ctx.config.urlPrefix)),
      }),
      route({
        method: 'GET',
        path: '/openapi.json',
        surfaces: ROOT,
        public: true,
        summary: 'This API as an OpenAPI 3.0 document',
        description: 'Generated from the route declarations and their validation schemas; `servers` carries the URL prefix.',
        handler: async ({ ctx }) => {
          const document = await source.document();
          const prefix = ctx.config.urlPrefix;
          return prefix ? { ...document, servers: [{ url: prefix }] } : document;
        },
      }),
      route({
        method: 'GET',
        path: '/docs',
        surfaces: ROOT,
        public: true,
        summary: 'Interactive API documentation (Swagger UI)',
        description: '"Try it out" sends requests from the page, with the token entered under "Authorize".',
        mediaType: 'text/html',
        handler: async ({ ctx }) => html(swaggerPage(ctx.config.urlPrefix)),
      }),
      route({
        method: 'GET',
        path: '/redoc',
        surfaces: ROOT,
        public: true,
        summary: 'API reference (ReDoc)',
        mediaType: 'text/html',
        handler: async ({ ctx }) => html(redocPage(ctx.config.urlPrefix)),
      }),
      route({
        method: 'GET',
        path: `${ASSETS_PATH}/:version/:file`,
        surfaces: ROOT,
        public: true,
        summary: 'A script, stylesheet or icon of the documentation pages',
        description:
          `One of ${DOCS_ASSETS.map((a) => `\`${a.name}\``).join(', ')}, from the npm packages swagger-ui-dist and redoc. ` +
          `Under the current version (\`${ASSETS_VERSION}\`) it may be cached for a year; under another, it must be revalidated.`,
        params: v.object({ version: v.string(), file: v.string() }),
        mediaType: '*/*',
        handler: async ({ params }) => {
          const { asset, body } = await readAsset(params.file);
          // A page of an older deployment may still ask for its version: it gets today's file, not to be kept.
          const caching = params.version === ASSETS_VERSION ? 'public, max-age=31536000, immutable' : 'no-cache';
          return new Reply(body, { headers: { 'Content-Type': asset.contentType, 'Cache-Control': caching } });
        },
      }),
    ],
  };
}

/** The deployed family: the document and the assets sit beside the bundle (see npm run build). */
export const docs = docsFamily(bundledSource(__dirname));
