import { PassThrough, Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { GcsTestServer, type ObjectMetadata } from '../../shared/testing/gcs-test-server';
import { MAX_DECLARED_LENGTH } from '../../shared/http/handler';
import { DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, type TestService } from '../../shared/testing/harness';
import { rawGet } from '../../shared/testing/raw-get';
import { VOLUME_TTL_MS } from './store';

const TIMEOUT_MS = 1500;
const BUCKET = 'clio-public';
const OTHER = 'other-vol';

let storage: GcsTestServer;
let svc: TestService;
beforeAll(async () => {
  storage = await new GcsTestServer().start();
  svc = await startTestService({ STORAGE_API_URL: storage.url, UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) });
  await seedStandardData(svc.db);
});
afterAll(async () => {
  await svc.close();
  await storage.close();
});

/** Bytes [start, end) of a made-up object, in chunks of up to 1 MiB. */
function* chunksBetween(start: number, end: number): Generator<Buffer> {
  for (let at = start; at < end; at += 1 << 20) yield Buffer.alloc(Math.min(1 << 20, end - at), 98);
}

const volumesRef = () => svc.db.collection(COLLECTIONS.volumes);
const stored = async (id: string) => (await volumesRef().doc(id).get()).data();

/** The volume documents every test starts from: one per standard dataset and one that is no dataset. */
const SEEDED = {
  [DS]: { bucket: BUCKET, path: 'private/vol', description: 'private' },
  [PUBLIC_DS]: { bucket: BUCKET, path: 'public/vol', extra: 'hand-written field' },
  [OTHER]: { bucket: 'other-bucket', path: '' },
};

beforeEach(async () => {
  await svc.db.recursiveDelete(volumesRef());
  const batch = svc.db.batch();
  for (const [id, doc] of Object.entries(SEEDED)) batch.set(volumesRef().doc(id), doc);
  await batch.commit();
  // The catalog of this instance learns the seeded state through a listing, as after any restart.
  await svc.request('GET', '/v2/volumes', { as: 'general' });
  storage.reset();
});

describe('GET /v2/volumes', () => {
  const visibleTo: [Identity, string[]][] = [
    ['reader', [DS, PUBLIC_DS]],
    ['dsGeneral', [DS, PUBLIC_DS]],
    ['dsWriter', [DS, PUBLIC_DS]],
    ['general', [DS, OTHER, PUBLIC_DS]],
    ['writer', [DS, OTHER, PUBLIC_DS]],
    ['admin', [PUBLIC_DS]],
    ['owner', [PUBLIC_DS]],
    ['unknown', [PUBLIC_DS]],
  ];
  it.each(visibleTo)('shows %s the volumes it can read, with every stored field', async (as, ids) => {
    const res = await svc.request('GET', '/v2/volumes', { as });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual([...ids].sort());
    expect(res.json[PUBLIC_DS]).toEqual(SEEDED[PUBLIC_DS]);
  });

  it('refuses a disabled user (403) and a missing token (401)', async () => {
    expect((await svc.request('GET', '/v2/volumes', { as: 'disabled' })).status).toBe(403);
    expect((await svc.request('GET', '/v2/volumes')).status).toBe(401);
  });

  it('is mounted under /v2 only, with and without a trailing slash', async () => {
    expect((await svc.request('GET', '/v2/volumes/', { as: 'general' })).status).toBe(200);
    expect((await svc.request('GET', '/test/volumes', { as: 'general' })).status).toBe(404);
  });
});

describe('GET /v2/volumes/{volume}', () => {
  it('returns a readable volume', async () => {
    const res = await svc.request('GET', `/v2/volumes/${DS}`, { as: 'reader' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual(SEEDED[DS]);
    expect((await svc.request('GET', `/v2/volumes/${PUBLIC_DS}`, { as: 'unknown' })).json).toEqual(SEEDED[PUBLIC_DS]);
  });

  it.each(['admin', 'owner', 'unknown'] as const)('refuses %s a volume it cannot read (401)', async (as) => {
    const res = await svc.request('GET', `/v2/volumes/${DS}`, { as });
    expect(res.status).toBe(401);
    expect(res.json.detail).toMatch(/permission/);
  });

  it('answers 404 for a missing volume the caller could read', async () => {
    const res = await svc.request('GET', '/v2/volumes/nope', { as: 'general' });
    expect(res.status).toBe(404);
    expect(res.json.detail).toMatch(/not found/);
  });

  it('refuses a missing token', async () => {
    expect((await svc.request('GET', `/v2/volumes/${PUBLIC_DS}`)).status).toBe(401);
  });
});

describe('POST /v2/volumes', () => {
  it.each(['admin', 'owner'] as const)('lets %s create and replace volumes, keeping only the volume fields', async (as) => {
    const res = await svc.request('POST', '/v2/volumes', {
      as,
      body: { fresh: { bucket: 'b.with.dots', path: 'x/y', extra: 'dropped' }, [DS]: { bucket: 'new-bucket', path: 'p', description: 'd' } },
    });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    expect(await stored('fresh')).toEqual({ bucket: 'b.with.dots', path: 'x/y' });
    expect(await stored(DS)).toEqual({ bucket: 'new-bucket', path: 'p', description: 'd' });
  });

  it.each(['reader', 'general', 'writer', 'dsWriter', 'unknown'] as const)('refuses %s with 401 and writes nothing', async (as) => {
    const res = await svc.request('POST', '/v2/volumes', { as, body: { fresh: { bucket: 'bkt', path: 'p' } } });
    expect(res.status).toBe(401);
    expect(res.json.detail).toMatch(/admin/);
    expect(await stored('fresh')).toBeUndefined();
  });

  it.each([
    ['a missing bucket', { fresh: { path: 'p' } }],
    ['a gs:// bucket', { fresh: { bucket: 'gs://bkt', path: 'p' } }],
    ['a bucket with a slash', { fresh: { bucket: 'bkt/sub', path: 'p' } }],
    ['a non-string path', { fresh: { bucket: 'bkt', path: 3 } }],
    ['a reserved id', { __fresh__: { bucket: 'bkt', path: 'p' } }],
    ['an array', [{ bucket: 'bkt', path: 'p' }]],
  ])('refuses %s with 422 and writes nothing, not even the valid entries', async (_what, body) => {
    const withValid = Array.isArray(body) ? body : { ...body, valid: { bucket: 'bkt', path: 'p' } };
    const res = await svc.request('POST', '/v2/volumes', { as: 'admin', body: withValid });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc[0]).toBe('body');
    expect((await volumesRef().get()).size).toBe(Object.keys(SEEDED).length);
  });
});

describe('DELETE /v2/volumes', () => {
  it('lets an admin delete volumes; missing ids are fine', async () => {
    const res = await svc.request('DELETE', '/v2/volumes', { as: 'admin', body: [DS, 'missing'] });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    expect(await stored(DS)).toBeUndefined();
    expect(await stored(PUBLIC_DS)).toBeDefined();
  });

  it.each(['reader', 'general', 'writer', 'unknown'] as const)('refuses %s with 401 and deletes nothing', async (as) => {
    expect((await svc.request('DELETE', '/v2/volumes', { as, body: [DS] })).status).toBe(401);
    expect(await stored(DS)).toBeDefined();
  });

  it('refuses a body that is not a list of ids with 422', async () => {
    for (const body of [{ ids: [DS] }, [3], 'private-ds']) {
      expect((await svc.request('DELETE', '/v2/volumes', { as: 'admin', body })).status).toBe(422);
    }
    expect(await stored(DS)).toBeDefined();
  });
});

const proxyPath = (volume: string, objectPath: string) => `/v2/volumes/proxy/${volume}/${objectPath}`;

describe('GET /v2/volumes/proxy/{volume}/{path}', () => {
  const content = Buffer.from('0123456789abcdefghij');
  const lastModified = new Date('2024-05-01T10:00:00Z');
  const putPublic = (object: string, metadata: ObjectMetadata = {}) =>
    storage.put(BUCKET, `public/vol/${object}`, content, { etag: '"v1"', lastModified, ...metadata });

  it('streams a public object without any token, passing its headers back', async () => {
    putPublic('dir/info', { contentType: 'application/json', cacheControl: 'public, max-age=60' });
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'dir/info'), { headers: { origin: 'https://clio.janelia.org' } });
    expect(res.status).toBe(200);
    expect(res.text).toBe(content.toString());
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('content-length')).toBe(String(content.length));
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    expect(res.headers.get('etag')).toBe('"v1"');
    expect(res.headers.get('last-modified')).toBe(lastModified.toUTCString());
    expect(res.headers.get('access-control-allow-origin')).toBe('https://clio.janelia.org');
    expect(res.headers.get('access-control-expose-headers')).toContain('Content-Range');
    expect(storage.requests.map(({ bucket, object }) => `${bucket}/${object}`)).toEqual([`${BUCKET}/public/vol/dir/info`]);
  });

  it('never sends credentials to the store, even when the client sends a token', async () => {
    putPublic('a');
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'a'), { as: 'admin' });
    expect(res.status).toBe(200);
    expect(storage.requests[0].headers.authorization).toBeUndefined();
  });

  it('passes Accept-Encoding on and Content-Encoding back, varying on both Origin and Accept-Encoding', async () => {
    putPublic('chunk.gz', { contentEncoding: 'gzip' });
    const res = await rawGet(svc.url, proxyPath(PUBLIC_DS, 'chunk.gz'), { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toBe('Origin, Accept-Encoding');
    expect(storage.requests[0].headers['accept-encoding']).toBe('gzip');
  });

  it('defaults the Content-Type to application/octet-stream', async () => {
    putPublic('raw');
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'raw'));
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('serves volumes whatever their dataset permissions are, as the original does', async () => {
    storage.put(BUCKET, 'private/vol/x', content);
    storage.put('other-bucket', 'x', content);
    expect((await svc.request('GET', proxyPath(DS, 'x'))).status).toBe(200);
    // A volume path of '' means the bucket's root.
    expect((await svc.request('GET', proxyPath(OTHER, 'x'))).status).toBe(200);
  });

  it('encodes object names with spaces, "#", "?" and "%" correctly', async () => {
    putPublic('dir/a b#c?d%e.bin');
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'dir/a%20b%23c%3Fd%25e.bin'));
    expect(res.status).toBe(200);
    expect(storage.requests[0].object).toBe('public/vol/dir/a b#c?d%e.bin');
  });

  it.each([
    ['bytes=2-5', '2345', 'bytes 2-5/20'],
    ['bytes=15-', 'fghij', 'bytes 15-19/20'],
    ['bytes=-3', 'hij', 'bytes 17-19/20'],
  ])('passes Range %s on and answers 206', async (range, body, contentRange) => {
    putPublic('ranged');
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'ranged'), { headers: { range } });
    expect(res.status).toBe(206);
    expect(res.text).toBe(body);
    expect(res.headers.get('content-range')).toBe(contentRange);
    expect(res.headers.get('content-length')).toBe(String(body.length));
    expect(storage.requests[0].headers.range).toBe(range);
  });

  it('sends an object over 32 MiB chunked, without the length the store declared; a small range keeps its length', async () => {
    const size = MAX_DECLARED_LENGTH + 1024;
    storage.put(BUCKET, 'public/vol/big.bin', { size, read: (start, end) => Readable.from(chunksBetween(start, end)) });
    const whole = await rawGet(svc.url, proxyPath(PUBLIC_DS, 'big.bin'));
    expect(whole.status).toBe(200);
    expect(whole.headers['content-length']).toBeUndefined();
    expect(whole.headers['transfer-encoding']).toBe('chunked');
    expect(whole.body.length).toBe(size);
    const part = await rawGet(svc.url, proxyPath(PUBLIC_DS, 'big.bin'), { range: 'bytes=0-1023' });
    expect(part.status).toBe(206);
    expect(part.headers['content-length']).toBe('1024');
    expect(part.body.length).toBe(1024);
  });

  it('answers 416 with the size for an unsatisfiable range', async () => {
    putPublic('ranged');
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'ranged'), { headers: { range: 'bytes=100-' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe('bytes */20');
    expect(res.json.detail).toMatch(/range/);
  });

  it('answers 304 to If-None-Match and If-Modified-Since when the copy is current, else 200', async () => {
    putPublic('cached');
    const byTag = await svc.request('GET', proxyPath(PUBLIC_DS, 'cached'), { headers: { 'if-none-match': '"v1"' } });
    expect(byTag.status).toBe(304);
    expect(byTag.text).toBe('');
    expect(byTag.headers.get('etag')).toBe('"v1"');
    expect(storage.requests[0].headers['if-none-match']).toBe('"v1"');

    const byDate = await svc.request('GET', proxyPath(PUBLIC_DS, 'cached'), { headers: { 'if-modified-since': lastModified.toUTCString() } });
    expect(byDate.status).toBe(304);
    expect(storage.requests[1].headers['if-modified-since']).toBe(lastModified.toUTCString());

    const changed = await svc.request('GET', proxyPath(PUBLIC_DS, 'cached'), { headers: { 'if-none-match': '"v0"' } });
    expect(changed.status).toBe(200);
    expect(changed.text).toBe(content.toString());
  });

  it('passes a missing object on as 404', async () => {
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'missing.bin'));
    expect(res.status).toBe(404);
    expect(res.json.detail).toContain(`gs://${BUCKET}/public/vol/missing.bin`);
  });

  it.each(['private', 'forbidden'] as const)('answers 403 for a %s object (the store refused anonymous access)', async (access) => {
    putPublic('secret', { access });
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'secret'));
    expect(res.status).toBe(403);
    expect(res.json.detail).toMatch(/not publicly readable/);
  });

  it('answers 400 for an unknown volume, without asking the store', async () => {
    const res = await svc.request('GET', proxyPath('no-such-volume', 'x'));
    expect(res.status).toBe(400);
    expect(res.json.detail).toMatch(/no-such-volume/);
    expect(storage.requests).toEqual([]);
  });

  it.each(['a/..%2F..%2Fsecret', 'a%2F..%2F..%2Fsecret', '..%2Fsecret', 'a%2F.%2Fb', 'a%2F%2Fb'])(
    'refuses the encoded traversal %s with 400, without asking the store',
    async (objectPath) => {
      const res = await rawGet(svc.url, proxyPath(PUBLIC_DS, objectPath));
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString()).detail).toMatch(/segments/);
      expect(storage.requests).toEqual([]);
    },
  );

  it.each(['../secret', '%2e%2e/secret', '%2E%2E/secret', 'a/../../secret', '..', 'a/../x', './x', 'a/%2e%2e/x'])(
    'refuses the dot segments of %s with 400, without asking the store',
    async (objectPath) => {
      storage.put(BUCKET, 'secret', 'outside every volume');
      putPublic('x');
      const res = await rawGet(svc.url, proxyPath(PUBLIC_DS, objectPath));
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body.toString()).detail).toMatch(/segments/);
      expect(storage.requests).toEqual([]);
    },
  );

  it('refuses control characters in the object path', async () => {
    const res = await rawGet(svc.url, proxyPath(PUBLIC_DS, 'a%0Ab'));
    expect(res.status).toBe(400);
    expect(storage.requests).toEqual([]);
  });

  it('streams: the client gets the first bytes while the store is still sending', async () => {
    const upstream = new PassThrough();
    const chunk = Buffer.alloc(256 * 1024, 'a');
    storage.put(BUCKET, 'public/vol/stream.bin', { size: 2 * chunk.length, read: () => upstream });
    upstream.write(chunk);
    const res = await fetch(`${svc.url}${proxyPath(PUBLIC_DS, 'stream.bin')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(2 * chunk.length));
    const reader = res.body!.getReader();
    let received = 0;
    while (received < chunk.length) received += (await reader.read()).value!.length;
    // The store has not finished: a buffering proxy could not have sent anything yet.
    expect(upstream.writableEnded).toBe(false);
    upstream.end(Buffer.alloc(chunk.length, 'b'));
    for (let step = await reader.read(); !step.done; step = await reader.read()) received += step.value.length;
    expect(received).toBe(2 * chunk.length);
  });

  it('lets go of the store when the client goes away in the middle of the object', async () => {
    const upstream = new PassThrough();
    storage.put(BUCKET, 'public/vol/abandoned.bin', { size: 1024 * 1024, read: () => upstream });
    upstream.write(Buffer.alloc(64 * 1024));
    const abort = new AbortController();
    const res = await fetch(`${svc.url}${proxyPath(PUBLIC_DS, 'abandoned.bin')}`, { signal: abort.signal });
    await res.body!.getReader().read();
    abort.abort();
    // The proxy closes its connection to the store at once (not only when its read timeout expires).
    await vi.waitFor(() => expect(upstream.destroyed).toBe(true), { timeout: TIMEOUT_MS / 3 });
  });

  it('breaks the response (not a short 200) when the store stalls in the middle of the object', async () => {
    const upstream = new PassThrough();
    storage.put(BUCKET, 'public/vol/stall.bin', { size: 1000, read: () => upstream });
    upstream.write(Buffer.alloc(100));
    const res = await fetch(`${svc.url}${proxyPath(PUBLIC_DS, 'stall.bin')}`);
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    putPublic('after');
    expect((await svc.request('GET', proxyPath(PUBLIC_DS, 'after'))).status).toBe(200);
  });

  it('answers 504 when the store does not answer in time', async () => {
    putPublic('slow');
    storage.fail({ method: 'GET', status: 'hang' });
    const started = Date.now();
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'slow'));
    expect(res.status).toBe(504);
    expect(res.json.detail).toMatch(/did not answer/);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 2000);
  });

  it.each([
    [500, 502],
    [502, 502],
    [503, 503],
  ])('maps a store failure %i to %i', async (failWith, status) => {
    putPublic('broken');
    storage.fail({ method: 'GET', status: failWith });
    const res = await svc.request('GET', proxyPath(PUBLIC_DS, 'broken'));
    expect(res.status).toBe(status);
    expect(res.json.detail).toMatch(/Cloud Storage/);
    expect(res.json.error_id).toBeDefined();
  });

  it('answers 502 when the store cannot be reached', async () => {
    const unreachable = await startTestService({ GOOGLE_CLOUD_PROJECT: svc.projectId, STORAGE_API_URL: 'http://127.0.0.1:1' });
    try {
      const res = await unreachable.request('GET', proxyPath(PUBLIC_DS, 'x'));
      expect(res.status).toBe(502);
      expect(res.json.detail).toMatch(/could not be reached/);
    } finally {
      await unreachable.close();
    }
  });
});

describe('volume changes and the proxy', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('proxies a volume posted on this instance at once, and stops at once when it is deleted', async () => {
    storage.put('fresh-bucket', 'root/x', 'fresh');
    const post = await svc.request('POST', '/v2/volumes', { as: 'admin', body: { fresh: { bucket: 'fresh-bucket', path: 'root' } } });
    expect(post.status).toBe(200);
    expect((await svc.request('GET', proxyPath('fresh', 'x'))).text).toBe('fresh');
    await svc.request('DELETE', '/v2/volumes', { as: 'admin', body: ['fresh'] });
    expect((await svc.request('GET', proxyPath('fresh', 'x'))).status).toBe(400);
  });

  it('lets another instance see a new volume once its short TTL has passed, without a restart', async () => {
    const other = await startTestService({ GOOGLE_CLOUD_PROJECT: svc.projectId, STORAGE_API_URL: storage.url });
    try {
      storage.put('fresh-bucket', 'root/x', 'fresh');
      expect((await other.request('GET', proxyPath('fresh', 'x'))).status).toBe(400);
      await svc.request('POST', '/v2/volumes', { as: 'admin', body: { fresh: { bucket: 'fresh-bucket', path: 'root' } } });
      // Within the TTL the other instance answers from its catalog, without a Firestore read.
      expect((await other.request('GET', proxyPath('fresh', 'x'))).status).toBe(400);
      // Only the clock moves: the other instance has no other way to learn of the new volume.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + VOLUME_TTL_MS + 1000);
      const res = await other.request('GET', proxyPath('fresh', 'x'));
      expect(res.status).toBe(200);
      expect(res.text).toBe('fresh');
    } finally {
      vi.useRealTimers();
      await other.close();
    }
  });

  it('keeps the TTL short, so that every instance sees a change within half a minute', () => {
    expect(VOLUME_TTL_MS).toBeGreaterThanOrEqual(5_000);
    expect(VOLUME_TTL_MS).toBeLessThanOrEqual(30_000);
  });
});
