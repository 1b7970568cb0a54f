/**
 * Local stand-ins for the two services a transfer talks to besides Cloud Storage:
 * - the GCE metadata server's identity endpoint
 *   (`GET /computeMetadata/v1/instance/service-accounts/default/identity?audience=...&format=full`,
 *   `Metadata-Flavor: Google` required), which google-auth-library's ID-token client uses when
 *   `GCE_METADATA_HOST` points here; it issues signed JWTs for the asked audience;
 * - the transfer service (Cloud Run), which accepts a job only with a valid token for its own URL,
 *   records it, and can be told to fail a job a number of times, for good, or to hang.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import jwt from 'jsonwebtoken';
import { LocalTestServer } from '../../shared/testing/listen-locally';

const SIGNING_KEY = 'metadata-test-server-key';

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Its `host` is the form GCE_METADATA_HOST takes. */
export class MetadataTestServer extends LocalTestServer {
  /** The audiences tokens were asked for, in order. */
  readonly audiences: string[] = [];
  /** When set, the identity endpoint answers this status instead of a token. */
  failWith: number | undefined;

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readAll(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const flavored = req.headers['metadata-flavor'] === 'Google';
    if (url.pathname !== '/computeMetadata/v1/instance/service-accounts/default/identity' || !flavored) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const audience = url.searchParams.get('audience') ?? '';
    this.audiences.push(audience);
    if (this.failWith) {
      res.writeHead(this.failWith, { 'content-type': 'text/plain', 'metadata-flavor': 'Google' }).end('identity unavailable');
      return;
    }
    const token = jwt.sign({ iss: 'https://accounts.google.com', aud: audience, sub: 'transfer-caller' }, SIGNING_KEY, { expiresIn: 3600 });
    res.writeHead(200, { 'content-type': 'application/text', 'metadata-flavor': 'Google' }).end(token);
  }
}

export interface ReceivedJob {
  readonly job: Record<string, unknown>;
  readonly status: number;
}

/** What the transfer service does with jobs whose `start` matches. */
export interface JobScript {
  /** Answer this status the first `times` tries (for ever when omitted), then succeed. */
  readonly status: number | 'hang';
  readonly times?: number;
}

export class TransferTestServer extends LocalTestServer {
  /** Every attempt, with the status it was answered with. */
  readonly received: ReceivedJob[] = [];
  private readonly scripts = new Map<string, JobScript>();

  /** The service's URL, which is also the audience its tokens must be for. */
  override get url(): string {
    return `${super.url}/transfer`;
  }

  script(start: readonly number[], script: JobScript): void {
    this.scripts.set(JSON.stringify(start), script);
  }

  reset(): void {
    this.received.length = 0;
    this.scripts.clear();
  }

  attemptsFor(start: readonly number[]): number {
    return this.received.filter((r) => JSON.stringify(r.job.start) === JSON.stringify(start)).length;
  }

  /** The jobs that succeeded. */
  get completed(): Record<string, unknown>[] {
    return this.received.filter((r) => r.status === 200).map((r) => r.job);
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readAll(req);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    try {
      jwt.verify(token, SIGNING_KEY, { audience: this.url });
    } catch (error) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`bad token: ${(error as Error).message}`);
      return;
    }
    if (req.method !== 'POST' || req.headers['content-type'] !== 'application/json') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('expected a JSON POST');
      return;
    }
    const job = JSON.parse(text) as Record<string, unknown>;
    const key = JSON.stringify(job.start);
    const script = this.scripts.get(key);
    const tries = this.attemptsFor(job.start as number[]);
    const failing = script && (script.times === undefined || tries < script.times);
    const status = failing ? script.status : 200;
    this.received.push({ job, status: status === 'hang' ? 0 : status });
    if (status === 'hang') return;
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'done' : `job failed with ${status}`);
  }
}
