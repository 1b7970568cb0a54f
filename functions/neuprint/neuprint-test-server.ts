/**
 * A local stand-in for neuPrint's `POST /api/custom/custom`: it requires the expected bearer
 * token and a JSON body `{cypher, dataset}`, refuses datasets it does not host (400 with
 * neuPrint's `{"error": ...}` shape), and answers `{columns, data}` whose rows echo the query
 * (body ids beyond 2^53 included, written as bare JSON integers). Tests can make it answer a
 * given status and body, or hang.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalTestServer } from '../../shared/testing/listen-locally';

export interface NeuprintCall {
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly body: string;
}

export type NeuprintFault = { readonly status: number; readonly contentType: string; readonly body: string } | 'hang';

/** A body id no JS number can hold exactly. */
export const BIG_BODY_ID = '18446744073709551557';

export class NeuprintTestServer extends LocalTestServer {
  readonly calls: NeuprintCall[] = [];
  fault: NeuprintFault | undefined;
  private readonly token: string;
  private readonly datasets: readonly string[];

  /** `datasets` are the names it hosts, e.g. `hemibrain:v1.2`. */
  constructor(token: string, datasets: readonly string[]) {
    super();
    this.token = token;
    this.datasets = datasets;
  }

  reset(): void {
    this.calls.length = 0;
    this.fault = undefined;
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    this.calls.push({ authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
    if (this.fault === 'hang') return;
    if (this.fault) {
      res.writeHead(this.fault.status, { 'content-type': this.fault.contentType }).end(this.fault.body);
      return;
    }
    if (req.method !== 'POST' || req.url !== '/api/custom/custom') return send(res, 404, { error: 'not found' });
    if (req.headers.authorization !== `Bearer ${this.token}`) return send(res, 401, { error: 'Please provide valid credentials' });
    const query = JSON.parse(body) as { cypher?: unknown; dataset?: unknown };
    if (typeof query.cypher !== 'string' || typeof query.dataset !== 'string') return send(res, 400, { error: 'cypher and dataset are required' });
    const hosted = this.datasets.some((name) => name === query.dataset || name.split(':')[0] === query.dataset);
    if (!hosted) return send(res, 400, { error: `dataset ${query.dataset} not found` });
    const text = `{"columns":["id","type","dataset","cypher"],"data":[[${BIG_BODY_ID},"MBON01",${JSON.stringify(query.dataset)},${JSON.stringify(query.cypher)}]]}`;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(text);
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(value));
}
