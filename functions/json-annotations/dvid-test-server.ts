/**
 * A local server that speaks the part of DVID's HTTP API that json-annotations uses: the
 * `neuronjson` instance `segmentation_annotations` below `/api/node/{uuid}/`, with the semantics of
 * `neuronjson.ts` (shared with the Firestore-native store: merge or replace, `conditional(s)`,
 * `null` deletes, `<field>_user` / `<field>_time` companions, `show`, `fields`, the query language).
 * Each uuid is an independent node; a locked node refuses writes and queries, as DVID does.
 * Tests and the benchmark start it; tests can make it fail, stall or break off its answers, and
 * read back every call it received. Body ids are kept as canonical decimal text and values are
 * parsed losslessly, so uint64 ids survive exactly. `all` is written as a stream with backpressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJson, stringifyJson } from '../../shared/json';
import { LocalTestServer } from '../../shared/testing/listen-locally';
import {
  type Annotation,
  applyWrite,
  bodyIdLookup,
  compareIds,
  compileQuery,
  dvidTime,
  fieldNames,
  listedInAll,
  matchesAny,
  QueryError,
  refusal,
  shape,
  type Show,
} from './neuronjson';

export type { Annotation } from './neuronjson';

/** One request as the server received it. */
export interface DvidCall {
  readonly method: string;
  readonly uuid: string;
  /** `all`, `fields`, `keyvalues`, `query`, `key/123`, ... */
  readonly endpoint: string;
  readonly query: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A misbehaviour applied to every request while set. */
export type DvidFault =
  /** Answers with this status and text instead of doing anything. */
  | { readonly kind: 'respond'; readonly status: number; readonly text: string }
  /** Waits this long before answering. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Sends the status line and this many body bytes, then cuts the connection. */
  | { readonly kind: 'break'; readonly afterBytes: number }
  /** Sends the status line and this many body bytes, then goes silent. */
  | { readonly kind: 'stall'; readonly afterBytes: number }
  /** Sends the status line and this many body bytes, and the rest once `until` settles. */
  | { readonly kind: 'hold'; readonly afterBytes: number; readonly until: Promise<void> };

const INSTANCE = 'segmentation_annotations';
/** Bytes gathered before each write of a streamed answer. */
const STREAM_CHUNK_BYTES = 64 * 1024;

/** Ends a request with a status and a plain-text message, as DVID reports its errors. */
class FailedRequest extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface NodeState {
  readonly annotations: Map<string, Annotation>;
  readonly locked: boolean;
}

/** Its `url` is the server's base URL, as a dataset's `dvid` field holds it. */
export class DvidTestServer extends LocalTestServer {
  readonly calls: DvidCall[] = [];
  fault: DvidFault | undefined;
  private readonly nodes = new Map<string, NodeState>();

  static start(): Promise<DvidTestServer> {
    return new DvidTestServer().start();
  }

  /** Creates (or empties) a version node. */
  addNode(uuid: string, options: { locked?: boolean } = {}): void {
    this.nodes.set(uuid, { annotations: new Map(), locked: options.locked ?? false });
  }

  /** The stored annotations of a node, companions included, keyed by canonical body id text. */
  stored(uuid: string): Map<string, Annotation> {
    return this.node(uuid).annotations;
  }

  /** Stores annotations as they are (no companions added), replacing any with the same body id. */
  seed(uuid: string, annotations: Iterable<Annotation>): void {
    const store = this.node(uuid).annotations;
    for (const annotation of annotations) store.set(BigInt(annotation.bodyid as number | bigint).toString(), annotation);
  }

  private node(uuid: string): NodeState {
    const node = this.nodes.get(uuid);
    if (!node) throw new FailedRequest(400, `invalid UUID ${uuid}: no such version node`);
    return node;
  }

  protected override async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.serve(req, res).catch((error: unknown) => {
      const failed = error instanceof FailedRequest ? error : new FailedRequest(500, String(error));
      if (res.headersSent) res.destroy();
      else res.writeHead(failed.status, { 'Content-Type': 'text/plain' }).end(failed.message);
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dvid');
    const match = /^\/api\/node\/([^/]+)\/([^/]+)\/(.+)$/.exec(url.pathname);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (!match || match[2] !== INSTANCE) throw new FailedRequest(404, `no handler for ${url.pathname}`);
    const call: DvidCall = {
      method: req.method ?? 'GET',
      uuid: decodeURIComponent(match[1]),
      endpoint: match[3],
      query: Object.fromEntries(url.searchParams),
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.calls.push(call);

    const fault = this.fault;
    if (fault?.kind === 'respond') throw new FailedRequest(fault.status, fault.text);
    if (fault?.kind === 'delay') await new Promise((done) => setTimeout(done, fault.ms));

    const answer = this.answer(call);
    if (fault?.kind === 'break' || fault?.kind === 'stall' || fault?.kind === 'hold') {
      const text = typeof answer === 'string' ? answer : [...answer].join('');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(text.slice(0, fault.afterBytes));
      if (fault.kind === 'break') setTimeout(() => res.destroy(), 20);
      if (fault.kind === 'hold') void fault.until.then(() => res.end(text.slice(fault.afterBytes)));
      return;
    }
    if (typeof answer === 'string') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(answer);
      return;
    }
    await streamOut(res, answer);
  }

  /** The answer text, or pieces of it to be streamed. */
  private answer(call: DvidCall): string | Iterable<string> {
    const node = this.node(call.uuid);
    const show = (call.query.show ?? '') as Show;
    const fields = (call.query.fields ?? '').split(',').filter(Boolean);
    const view = (annotation: Annotation) => render(annotation, show, fields);
    const [endpoint, key] = call.endpoint.split('/');
    const writes = call.method === 'POST' || call.method === 'DELETE';
    if (node.locked && writes) throw new FailedRequest(400, `node ${call.uuid} is locked: no writes or queries allowed`);

    if (call.method === 'GET' && endpoint === 'keys') return JSON.stringify(sortedIds(node.annotations));
    if (call.method === 'GET' && endpoint === 'fields') return JSON.stringify(fieldNames(node.annotations.values()));
    if (call.method === 'GET' && endpoint === 'all') {
      const listed = sortedIds(node.annotations).filter((id) => listedInAll(shape(node.annotations.get(id)!, show, fields), fields));
      return arrayPieces(listed, (id) => view(node.annotations.get(id)!));
    }
    if (call.method === 'GET' && endpoint === 'keyvalues') {
      if (call.query.json !== 'true') throw new FailedRequest(400, 'this server only answers keyvalues with json=true');
      const ids = parseBody(call.body);
      if (!Array.isArray(ids)) throw new FailedRequest(400, 'keyvalues needs a JSON array of keys');
      // Go writes map keys sorted as strings, which is not the order the client asked for.
      const found = [...new Set(ids.map((id) => canonicalId(id)))].filter((id) => node.annotations.has(id)).sort();
      return `{${found.map((id) => `${JSON.stringify(id)}:${view(node.annotations.get(id)!)}`).join(',')}}`;
    }
    if (call.method === 'POST' && endpoint === 'query') {
      const parsed = parseBody(call.body);
      const queries = Array.isArray(parsed) ? parsed : [parsed];
      if (queries.some((q) => typeof q !== 'object' || q === null || Array.isArray(q))) {
        throw new FailedRequest(400, 'a query must be a JSON object or an array of them');
      }
      let compiled;
      try {
        compiled = compileQuery(queries as Annotation[]);
      } catch (error) {
        if (error instanceof QueryError) throw new FailedRequest(400, error.message);
        throw error;
      }
      const direct = bodyIdLookup(compiled);
      if (direct) return `[${direct.filter((id) => node.annotations.has(id)).map((id) => view(node.annotations.get(id)!)).join(',')}]`;
      const ids = sortedIds(node.annotations).filter((id) => matchesAny(node.annotations.get(id)!, compiled));
      if (call.query.onlyid === 'true') return `[${ids.join(',')}]`;
      return `[${ids.map((id) => view(node.annotations.get(id)!)).join(',')}]`;
    }
    if (endpoint === 'key' && key !== undefined) {
      const id = canonicalId(key);
      if (call.method === 'GET') {
        const stored = node.annotations.get(id);
        if (!stored) throw new FailedRequest(404, `key ${id} not found`);
        return view(stored);
      }
      if (call.method === 'DELETE') {
        node.annotations.delete(id);
        return '';
      }
      if (call.method === 'POST') {
        const user = call.query.u ?? '';
        if (user === '') throw new FailedRequest(400, 'POST of neuronjson data requires a user (u=)');
        const posted = parseBody(call.body);
        if (typeof posted !== 'object' || posted === null || Array.isArray(posted)) throw new FailedRequest(400, 'value must be a JSON object');
        const record = posted as Annotation;
        if (!('bodyid' in record) || canonicalId(record.bodyid) !== id) throw new FailedRequest(400, `bodyid of the value must be ${id}`);
        const refused = refusal(record);
        if (refused) throw new FailedRequest(400, refused);
        const conditional = (call.query.conditional || call.query.conditionals || '').split(',').filter(Boolean);
        const options = { replace: call.query.replace === 'true', conditional };
        node.annotations.set(id, applyWrite(node.annotations.get(id), record, user, dvidTime(Date.now()), options));
        return '';
      }
    }
    throw new FailedRequest(400, `unsupported request ${call.method} ${call.endpoint}`);
  }
}

function parseBody(text: string): unknown {
  try {
    return parseJson(text);
  } catch (error) {
    throw new FailedRequest(400, `malformed JSON: ${error instanceof Error ? error.message : error}`);
  }
}

function canonicalId(value: unknown): string {
  const text = typeof value === 'bigint' || typeof value === 'number' || typeof value === 'string' ? String(value) : '';
  if (!/^\d+$/.test(text) || BigInt(text) >= 2n ** 64n) throw new FailedRequest(400, `invalid body id ${String(value)}`);
  return BigInt(text).toString();
}

function sortedIds(annotations: Map<string, Annotation>): string[] {
  return [...annotations.keys()].sort(compareIds);
}

/**
 * Renderings per stored annotation and `show`. Stored annotations are never changed in place (a
 * write stores a new object), so a rendering stays valid for as long as its object is stored.
 * DVID serves `all` from memory at hundreds of MB/s; rendering afresh each time would make this
 * server, not the proxy, the bottleneck of the benchmark.
 */
const renderings = new WeakMap<Annotation, Map<string, string>>();

/** The annotation as DVID shows it (`show`, `fields`), rendered once per stored object and shaping. */
function render(annotation: Annotation, show: Show, fields: readonly string[]): string {
  let byShape = renderings.get(annotation);
  if (!byShape) renderings.set(annotation, (byShape = new Map()));
  const key = `${show}|${fields.join(',')}`;
  let text = byShape.get(key);
  if (text === undefined) byShape.set(key, (text = stringifyJson(shape(annotation, show, fields))));
  return text;
}

function* arrayPieces(ids: readonly string[], render: (id: string) => string): Iterable<string> {
  yield '[';
  for (let i = 0; i < ids.length; i++) yield i === 0 ? render(ids[i]) : `,${render(ids[i])}`;
  yield ']';
}

/** Writes the pieces in chunks, waiting whenever the socket asks to. */
async function streamOut(res: ServerResponse, pieces: Iterable<string>): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  let pending = '';
  for (const piece of pieces) {
    pending += piece;
    if (pending.length < STREAM_CHUNK_BYTES) continue;
    const flushed = res.write(pending);
    pending = '';
    if (!flushed) await new Promise((done) => res.once('drain', done));
    if (res.destroyed) return;
  }
  res.end(pending);
}
