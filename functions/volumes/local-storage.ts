/**
 * A local stand-in for Cloud Storage's JSON API media download, used by the tests and the
 * benchmark: `GET /storage/v1/b/{bucket}/o/{object}?alt=media` with single byte ranges (206, 416),
 * `If-None-Match` / `If-Modified-Since` (304), anonymous-access errors (401 for a private object,
 * 403 for a forbidden one) and 404 `No such object`, each with the JSON error body the real service sends.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface LocalObject {
  readonly size: number;
  /** Bytes `[start, end)` of the object, as a stream. */
  read(start: number, end: number): Readable;
  readonly contentType?: string;
  /** Sent as stored (Cloud Storage serves e.g. gzip-stored objects as is to clients that accept gzip). */
  readonly contentEncoding?: string;
  /** Defaults to `public, max-age=3600`, as Cloud Storage sends for public objects. */
  readonly cacheControl?: string;
  readonly etag?: string;
  readonly lastModified?: Date;
  /** `private` answers 401 to anonymous callers, `forbidden` 403. */
  readonly access?: 'public' | 'private' | 'forbidden';
  /** Awaited before the status line is sent (a slow or silent store). */
  readonly beforeHeaders?: () => Promise<void>;
  /** Answer this error status instead of the object (a failing store). */
  readonly failWith?: number;
}

type Metadata = Omit<LocalObject, 'size' | 'read'>;

export function bufferObject(bytes: Buffer, metadata: Metadata = {}): LocalObject {
  return { size: bytes.length, read: (start, end) => Readable.from([bytes.subarray(start, end)]), ...metadata };
}

/** An object of `size` bytes made up on the fly from a repeated 64 KiB pattern; never held whole. */
export function generatedObject(size: number, metadata: Metadata = {}): LocalObject {
  const pattern = Buffer.alloc(64 * 1024, 'clio');
  return {
    size,
    read: (start, end) =>
      Readable.from(
        (function* chunks() {
          for (let at = start; at < end; ) {
            const offset = at % pattern.length;
            const length = Math.min(pattern.length - offset, end - at);
            yield pattern.subarray(offset, offset + length);
            at += length;
          }
        })(),
      ),
    ...metadata,
  };
}

export interface ReceivedRequest {
  readonly bucket: string;
  readonly object: string;
  readonly headers: IncomingHttpHeaders;
}

export interface LocalStorage {
  readonly url: string;
  /** Keyed by `{bucket}/{object}`. */
  readonly objects: Map<string, LocalObject>;
  readonly received: ReceivedRequest[];
  close(): Promise<void>;
}

const MEDIA_PATH = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/;

export async function startLocalStorage(): Promise<LocalStorage> {
  const objects = new Map<string, LocalObject>();
  const received: ReceivedRequest[] = [];

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = MEDIA_PATH.exec(url.pathname);
    if (req.method !== 'GET' || !match || url.searchParams.get('alt') !== 'media') {
      sendError(res, 400, 'Only media downloads are served here');
      return;
    }
    const [bucket, object] = [decodeURIComponent(match[1]), decodeURIComponent(match[2])];
    received.push({ bucket, object, headers: req.headers });
    void serveObject(objects.get(`${bucket}/${object}`), `${bucket}/${object}`, req.headers, res).catch(() => res.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects,
    received,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

async function serveObject(object: LocalObject | undefined, name: string, headers: IncomingHttpHeaders, res: ServerResponse): Promise<void> {
  await object?.beforeHeaders?.();
  if (!object) return sendError(res, 404, `No such object: ${name}`);
  const anonymous = headers.authorization === undefined;
  if (object.access === 'private' && anonymous) {
    return sendError(res, 401, `Anonymous caller does not have storage.objects.get access to the Google Cloud Storage object ${name}.`);
  }
  if (object.access === 'forbidden') return sendError(res, 403, `Caller does not have storage.objects.get access to ${name}.`);
  if (object.failWith) return sendError(res, object.failWith, 'Backend Error');

  if (object.etag) res.setHeader('ETag', object.etag);
  if (object.lastModified) res.setHeader('Last-Modified', object.lastModified.toUTCString());
  res.setHeader('Cache-Control', object.cacheControl ?? 'public, max-age=3600');
  if (isNotModified(object, headers)) {
    res.writeHead(304).end();
    return;
  }
  if (object.contentType) res.setHeader('Content-Type', object.contentType);
  if (object.contentEncoding) res.setHeader('Content-Encoding', object.contentEncoding);
  res.setHeader('Accept-Ranges', 'bytes');

  const range = parseRange(headers.range, object.size);
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${object.size}`);
    return sendError(res, 416, 'The requested range cannot be satisfied.');
  }
  const [start, end] = range ?? [0, object.size];
  if (range) res.setHeader('Content-Range', `bytes ${start}-${end - 1}/${object.size}`);
  res.setHeader('Content-Length', end - start);
  res.statusCode = range ? 206 : 200;
  await pipeline(object.read(start, end), res);
}

function isNotModified(object: LocalObject, headers: IncomingHttpHeaders): boolean {
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) return object.etag !== undefined && ifNoneMatch.split(',').map((tag) => tag.trim()).includes(object.etag);
  const since = Date.parse(headers['if-modified-since'] ?? '');
  return object.lastModified !== undefined && !Number.isNaN(since) && Math.floor(object.lastModified.getTime() / 1000) * 1000 <= since;
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range as `[start, end)`; anything else is ignored. */
function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Math.min(Number(match[2]), size);
    return suffix === 0 ? 'unsatisfiable' : [size - suffix, size];
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size : Math.min(Number(match[2]) + 1, size);
  return start >= size || end <= start ? 'unsatisfiable' : [start, end];
}

function sendError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason: 'error' }] } });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
