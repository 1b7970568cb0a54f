/**
 * A local stand-in for the parts of Cloud Storage's JSON API this project talks to, for the tests
 * and the benchmarks:
 * - media download, `GET /storage/v1/b/{bucket}/o/{object}?alt=media`, as @google-cloud/storage
 *   and the volume proxy ask for it: the `x-goog-hash` crc32c/md5 header the client validates
 *   (for objects held in memory), single byte ranges (206, 416), `If-None-Match` /
 *   `If-Modified-Since` (304), 401 to an anonymous caller for a private object, 403 for a
 *   forbidden one, and 404 `No such object`;
 * - multipart upload, `POST /upload/storage/v1/b/{bucket}/o?uploadType=multipart&name=...`,
 *   answering the object resource with the hashes the client checks, honouring `ifGenerationMatch=0`.
 * Errors use the API's JSON error shape. An object's bytes are either held in memory or made on
 * demand, range by range: a generated object of any size is streamed without ever being held
 * whole, and a test's own stream can stall in the middle of an object. Tests can make requests
 * fail or hang.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalTestServer } from './listen-locally';

export interface ObjectMetadata {
  /** No Content-Type is sent when omitted. */
  readonly contentType?: string;
  /** Sent as stored (Cloud Storage serves e.g. gzip-stored objects as is to clients that accept gzip). */
  readonly contentEncoding?: string;
  /** Defaults to `public, max-age=3600`, as Cloud Storage sends for public objects. */
  readonly cacheControl?: string;
  readonly etag?: string;
  readonly lastModified?: Date;
  /** `private` answers 401 to anonymous callers, `forbidden` 403 to everyone. */
  readonly access?: 'public' | 'private' | 'forbidden';
}

/** Content made on demand instead of held. */
export interface StreamedContent {
  readonly size: number;
  /** Bytes `[start, end)` of the object, as a stream. */
  read(start: number, end: number): Readable;
}

interface Hashes {
  readonly crc32c: string;
  readonly md5Hash: string;
}

export interface StoredObject extends ObjectMetadata, StreamedContent {
  readonly generation: number;
  /** The whole object, when it is held in memory (put as bytes, or uploaded). */
  readonly data?: Buffer;
  readonly hashes?: Hashes;
}

export type HeldObject = StoredObject & { readonly data: Buffer };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly authorization: string | undefined;
  /** The bucket and object (decoded) a download or upload is for. */
  readonly bucket?: string;
  readonly object?: string;
}

/** What to do with the next matching requests instead of serving them. */
export interface Fault {
  readonly method?: 'GET' | 'POST';
  /** An HTTP status to answer with, or 'hang' to never answer. */
  readonly status: number | 'hang';
  /** How many requests it applies to; unlimited when omitted. */
  times?: number;
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud Storage reports.
const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

export function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function hashes(data: Buffer): Hashes {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32c(data));
  return { crc32c: crc.toString('base64'), md5Hash: createHash('md5').update(data).digest('base64') };
}

/** An object of `size` bytes made up on the fly from a repeated 64 KiB pattern; never held whole. */
export function generatedContent(size: number): StreamedContent {
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
  };
}

const DOWNLOAD_PATH = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/;
const UPLOAD_PATH = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/;

export class GcsTestServer extends LocalTestServer {
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, StoredObject>();
  private readonly faults: Fault[] = [];
  private nextGeneration = 1;

  /** Stores an object, held in memory (bytes or text) or made on demand (streamed content). */
  put(bucket: string, name: string, content: Buffer | string | StreamedContent, metadata: ObjectMetadata = {}): StoredObject {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const bytes: StreamedContent & Pick<StoredObject, 'data' | 'hashes'> = Buffer.isBuffer(data)
      ? { size: data.length, read: (start, end) => Readable.from([data.subarray(start, end)]), data, hashes: hashes(data) }
      : { size: data.size, read: (start, end) => data.read(start, end) };
    const object: StoredObject = { ...metadata, ...bytes, generation: this.nextGeneration++ };
    this.objects.set(`${bucket}/${name}`, object);
    return object;
  }

  /** A stored object held in memory, to check what was written; throws for content made on demand. */
  get(bucket: string, name: string): HeldObject | undefined {
    const object = this.objects.get(`${bucket}/${name}`);
    if (!object) return undefined;
    if (!object.data) throw new Error(`${bucket}/${name} is made on demand, not held in memory`);
    return { ...object, data: object.data };
  }

  /** Every stored object name of a bucket. */
  names(bucket: string): string[] {
    return [...this.objects.keys()].filter((key) => key.startsWith(`${bucket}/`)).map((key) => key.slice(bucket.length + 1));
  }

  fail(fault: Fault): void {
    this.faults.push(fault);
  }

  reset(): void {
    this.objects.clear();
    this.faults.length = 0;
    this.requests.length = 0;
  }

  private takeFault(method: string): Fault | undefined {
    const index = this.faults.findIndex((f) => (f.method ?? method) === method && (f.times ?? 1) > 0);
    if (index < 0) return undefined;
    const fault = this.faults[index];
    if (fault.times !== undefined) fault.times -= 1;
    return fault;
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = await readAll(req);
    const download = DOWNLOAD_PATH.exec(url.pathname);
    const upload = UPLOAD_PATH.exec(url.pathname);
    const target = download ?? upload;
    const bucket = target ? decodeURIComponent(target[1]) : undefined;
    const object = download ? decodeURIComponent(download[2]) : (url.searchParams.get('name') ?? undefined);
    const method = req.method ?? '';
    this.requests.push({ method, path: url.pathname, query: url.searchParams, headers: req.headers, authorization: req.headers.authorization, bucket, object });
    const fault = this.takeFault(method);
    if (fault?.status === 'hang') return;
    if (fault) return sendError(res, fault.status, 'backendError', `injected failure ${fault.status}`);

    if (method === 'GET' && download && url.searchParams.get('alt') === 'media') return this.download(bucket!, object!, req.headers, res);
    if (method === 'POST' && upload && url.searchParams.get('uploadType') === 'multipart') {
      return this.upload(bucket!, url.searchParams, req.headers['content-type'] ?? '', body, res);
    }
    sendError(res, 400, 'invalid', `this test server does not serve ${method} ${url.pathname}${url.search}`);
  }

  private async download(bucket: string, name: string, headers: IncomingHttpHeaders, res: ServerResponse): Promise<void> {
    const where = `${bucket}/${name}`;
    const object = this.objects.get(where);
    if (!object) return sendError(res, 404, 'notFound', `No such object: ${where}`);
    if (object.access === 'private' && headers.authorization === undefined) {
      return sendError(res, 401, 'required', `Anonymous caller does not have storage.objects.get access to the Google Cloud Storage object ${where}.`);
    }
    if (object.access === 'forbidden') return sendError(res, 403, 'forbidden', `Caller does not have storage.objects.get access to ${where}.`);

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
    res.setHeader('x-goog-generation', String(object.generation));
    res.setHeader('x-goog-stored-content-encoding', object.contentEncoding ?? 'identity');
    if (object.hashes) res.setHeader('x-goog-hash', `crc32c=${object.hashes.crc32c},md5=${object.hashes.md5Hash}`);

    const range = parseRange(headers.range, object.size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${object.size}`);
      return sendError(res, 416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.');
    }
    const [start, end] = range ?? [0, object.size];
    if (range) res.setHeader('Content-Range', `bytes ${start}-${end - 1}/${object.size}`);
    res.setHeader('Content-Length', end - start);
    res.statusCode = range ? 206 : 200;
    // A client that goes away mid-object ends the pipeline early; that is no failure of this server.
    await pipeline(object.read(start, end), res).catch(() => res.destroy());
  }

  private upload(bucket: string, query: URLSearchParams, contentType: string, body: Buffer, res: ServerResponse): void {
    const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
    const parts = boundary ? multipartParts(body, boundary) : [];
    if (parts.length !== 2) return sendError(res, 400, 'invalid', 'expected a multipart/related body with metadata and media');
    const metadata = JSON.parse(parts[0].body.toString('utf8')) as { contentType?: string; name?: string };
    const name = query.get('name') ?? metadata.name;
    if (!name) return sendError(res, 400, 'required', 'object name is required');
    if (query.get('ifGenerationMatch') === '0' && this.objects.has(`${bucket}/${name}`)) {
      return sendError(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    }
    const media = parts[1];
    const stored = this.put(bucket, name, media.body, { contentType: metadata.contentType ?? media.contentType ?? 'application/octet-stream' });
    sendJson(res, 200, {
      kind: 'storage#object',
      id: `${bucket}/${name}/${stored.generation}`,
      name,
      bucket,
      generation: String(stored.generation),
      metageneration: '1',
      contentType: stored.contentType,
      size: String(stored.size),
      ...stored.hashes,
    });
  }
}

function isNotModified(object: StoredObject, headers: IncomingHttpHeaders): boolean {
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

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Splits a multipart body into its parts (headers are only read for Content-Type). */
function multipartParts(body: Buffer, boundary: string): { contentType?: string; body: Buffer }[] {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const text = Buffer.concat([Buffer.from('\r\n'), body]);
  const pieces: Buffer[] = [];
  let start = 0;
  for (let at = text.indexOf(delimiter); at >= 0; at = text.indexOf(delimiter, start)) {
    pieces.push(text.subarray(start, at));
    start = at + delimiter.length;
  }
  // pieces[0] is the (empty) preamble; each later piece is "\r\n<headers>\r\n\r\n<body>".
  return pieces.slice(1).map((piece) => {
    const split = piece.indexOf('\r\n\r\n');
    const headers = piece.subarray(2, split).toString('utf8');
    return { contentType: /^content-type:\s*(.+)$/im.exec(headers)?.[1].trim(), body: piece.subarray(split + 4) };
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const bytes = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': bytes.length });
  res.end(bytes);
}

function sendError(res: ServerResponse, status: number, reason: string, message: string): void {
  sendJson(res, status, { error: { code: status, message, errors: [{ message, domain: 'global', reason }] } });
}
