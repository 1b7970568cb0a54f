/**
 * What a handler may return besides plain data (which is sent as JSON with status 200):
 * a Reply with its own status, headers and body bytes or stream.
 */
import type { Readable } from 'node:stream';

export class Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string | Readable;

  constructor(body: Buffer | string | Readable, options: { status?: number; headers?: Record<string, string> } = {}) {
    this.body = body;
    this.status = options.status ?? 200;
    this.headers = options.headers ?? {};
  }
}
