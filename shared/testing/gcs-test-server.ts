/**
 * A local stand-in for the parts of the Cloud Storage JSON API that @google-cloud/storage uses
 * here: media download (`GET /storage/v1/b/{bucket}/o/{name}?alt=media`, with the
 * `x-goog-hash` crc32c/md5 headers the client validates) and multipart upload
 * (`POST /upload/storage/v1/b/{bucket}/o?uploadType=multipart&name=...`, answering the object
 * resource with the hashes the client checks, honouring `ifGenerationMatch=0`). Errors use the
 * API's JSON error shape. Tests can make requests fail or hang.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredObject {
  readonly data: Buffer;
  readonly contentType: string;
  readonly generation: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
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

function hashes(data: Buffer): { crc32c: string; md5Hash: string } {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32c(data));
  return { crc32c: crc.toString('base64'), md5Hash: createHash('md5').update(data).digest('base64') };
}

export class GcsTestServer {
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, StoredObject>();
  private readonly faults: Fault[] = [];
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private nextGeneration = 1;
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', () => done()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }

  put(bucket: string, name: string, data: Buffer | string, contentType = 'application/octet-stream'): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    this.objects.set(`${bucket}/${name}`, { data: bytes, contentType, generation: this.nextGeneration++ });
  }

  get(bucket: string, name: string): StoredObject | undefined {
    return this.objects.get(`${bucket}/${name}`);
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = await readAll(req);
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    const fault = this.takeFault(req.method ?? '');
    if (fault?.status === 'hang') return;
    if (fault) return sendError(res, fault.status, 'backendError', `injected failure ${fault.status}`);

    const download = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && download && url.searchParams.get('alt') === 'media') {
      const bucket = decodeURIComponent(download[1]);
      const name = decodeURIComponent(download[2]);
      const object = this.get(bucket, name);
      if (!object) return sendError(res, 404, 'notFound', `No such object: ${bucket}/${name}`);
      const { crc32c: crc, md5Hash } = hashes(object.data);
      res.writeHead(200, {
        'content-type': object.contentType,
        'content-length': object.data.length,
        'x-goog-hash': `crc32c=${crc},md5=${md5Hash}`,
        'x-goog-stored-content-encoding': 'identity',
        'x-goog-generation': String(object.generation),
      });
      res.end(object.data);
      return;
    }

    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (req.method === 'POST' && upload && url.searchParams.get('uploadType') === 'multipart') {
      return this.upload(decodeURIComponent(upload[1]), url.searchParams, req.headers['content-type'] ?? '', body, res);
    }
    sendError(res, 400, 'invalid', `this test server does not serve ${req.method} ${url.pathname}${url.search}`);
  }

  private upload(bucket: string, query: URLSearchParams, contentType: string, body: Buffer, res: ServerResponse): void {
    const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
    const parts = boundary ? multipartParts(body, boundary) : [];
    if (parts.length !== 2) return sendError(res, 400, 'invalid', 'expected a multipart/related body with metadata and media');
    const metadata = JSON.parse(parts[0].body.toString('utf8')) as { contentType?: string; name?: string };
    const name = query.get('name') ?? metadata.name;
    if (!name) return sendError(res, 400, 'required', 'object name is required');
    if (query.get('ifGenerationMatch') === '0' && this.get(bucket, name)) {
      return sendError(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    }
    const media = parts[1];
    this.put(bucket, name, media.body, metadata.contentType ?? media.contentType ?? 'application/octet-stream');
    const stored = this.get(bucket, name)!;
    sendJson(res, 200, {
      kind: 'storage#object',
      id: `${bucket}/${name}/${stored.generation}`,
      name,
      bucket,
      generation: String(stored.generation),
      metageneration: '1',
      contentType: stored.contentType,
      size: String(stored.data.length),
      ...hashes(stored.data),
    });
  }
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
