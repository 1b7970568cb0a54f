/**
 * The volumes function: where each volume's objects live in Cloud Storage (readable like the
 * dataset of the same id, managed by admins), and an unauthenticated proxy to those objects.
 */
import * as v from 'valibot';
import { HttpError } from '../../shared/errors';
import { Reply } from '../../shared/http/reply';
import { type Family, route } from '../../shared/http/routes';
import { ProxyParams, Volume, VolumeIdList, VolumeParams, VolumesBody } from './schemas';
import { downloadMedia } from './storage';
import { deleteVolumes, readAllVolumes, readVolume, saveVolumes, volumeCatalog } from './store';

const notAdmin = (action: string) => new HttpError(401, `only admins may ${action} volumes`);

const PROXY_HEADERS = {
  // Lets browser code read the headers that matter for ranged and revalidated reads.
  'Access-Control-Expose-Headers': 'Content-Range, Content-Length, ETag, Last-Modified, Accept-Ranges',
  // Accept-Encoding is passed on, so the store may answer gzip-stored objects compressed.
  Vary: 'Origin, Accept-Encoding',
};

/**
 * Checks the object path below a volume. The wrapper already refuses literal and `%2e`-encoded dot
 * segments; a `.` or `..` hidden behind an encoded slash (`..%2F`) arrives here decoded and is
 * refused too, never normalised.
 */
function checkObjectPath(objectPath: string): string {
  if (objectPath.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new HttpError(400, 'the object path must not contain empty, "." or ".." segments');
  }
  if (/\p{Cc}/u.test(objectPath)) throw new HttpError(400, 'the object path must not contain control characters');
  return objectPath;
}

export const volumes: Family = {
  name: 'volumes',
  deploy: {
    memory: '512Mi',
    cpu: 1,
    // Large objects read without Range to a slow client take long; the HTTP maximum.
    timeoutSeconds: 3600,
    concurrency: 40,
    why:
      'The proxy streams objects with backpressure, so memory stays flat, but each byte costs CPU: 40 requests per vCPU ' +
      "keep neuroglancer's many small chunk reads parallel without starving a large one.",
  },
  routes: [
    route({
      method: 'GET',
      path: '/volumes',
      surfaces: ['v2'],
      summary: 'List the volumes the caller can read',
      description: 'Volumes whose id is a public dataset or one the caller can read, keyed by id, with every stored field.',
      handler: async ({ caller, ctx }) => {
        const all = await readAllVolumes(ctx.db());
        volumeCatalog(ctx).replace(all);
        return Object.fromEntries([...all].filter(([id]) => caller.canRead(id)));
      },
    }),
    route({
      method: 'GET',
      path: '/volumes/:volume',
      surfaces: ['v2'],
      summary: 'Get one volume',
      params: VolumeParams,
      handler: async ({ params, caller, ctx }) => {
        if (!caller.canRead(params.volume)) throw new HttpError(401, `user lacks permission to read volume ${params.volume}`);
        const doc = await readVolume(ctx.db(), params.volume);
        if (!doc) throw new HttpError(404, `volume ${params.volume} not found`);
        volumeCatalog(ctx).remember(params.volume, doc);
        return doc;
      },
    }),
    route({
      method: 'POST',
      path: '/volumes',
      surfaces: ['v2'],
      summary: 'Create or replace volumes (admin)',
      description: 'Body `{ "<id>": {"bucket": "...", "path": "...", "description": "..."} }`; all are written or none.',
      body: VolumesBody,
      handler: async ({ body, caller, ctx }) => {
        if (!caller.isAdmin()) throw notAdmin('modify');
        await saveVolumes(ctx.db(), body);
        for (const [id, volume] of Object.entries(body)) volumeCatalog(ctx).remember(id, volume);
        return null;
      },
    }),
    route({
      method: 'DELETE',
      path: '/volumes',
      surfaces: ['v2'],
      summary: 'Delete volumes (admin)',
      description: 'Body `["<id>", ...]`; missing ids are ignored. The objects in Cloud Storage are left alone.',
      body: VolumeIdList,
      handler: async ({ body, caller, ctx }) => {
        if (!caller.isAdmin()) throw notAdmin('delete');
        await deleteVolumes(ctx.db(), body);
        for (const id of body) volumeCatalog(ctx).forget(id);
        return null;
      },
    }),
    route({
      method: 'GET',
      path: '/volumes/proxy/:volume/*path',
      surfaces: ['v2'],
      public: true,
      streamed: true,
      summary: "Read a public object below a volume's storage path (no token needed)",
      description:
        "Streams `gs://{bucket}/{path}/{object path}` without credentials, so only publicly readable objects work. " +
        '`Range`, `If-None-Match` and `If-Modified-Since` are passed on (206 and 304 work); the store\'s 404 and 403 ' +
        'are passed back; 400 for an unknown volume or a path with `.`/`..` segments; 502/504 when the store fails.',
      params: ProxyParams,
      handler: async ({ params, headers, ctx }) => {
        const objectPath = checkObjectPath(params.path);
        const doc = await volumeCatalog(ctx).get(params.volume);
        if (!doc) throw new HttpError(400, `no volume information available for ${params.volume}`);
        const parsed = v.safeParse(Volume, doc);
        if (!parsed.success) throw new HttpError(500, `volume ${params.volume} is stored without a valid bucket and path`);
        const prefix = parsed.output.path.replace(/^\/+|\/+$/g, '');
        const object = prefix ? `${prefix}/${objectPath}` : objectPath;
        const settings = { baseUrl: ctx.config.storageApiUrl, timeoutMs: ctx.config.upstreamTimeoutMs };
        const media = await downloadMedia(settings, parsed.output.bucket, object, headers);
        return new Reply(media.body, { status: media.status, headers: { ...media.headers, ...PROXY_HEADERS } });
      },
    }),
  ],
};
