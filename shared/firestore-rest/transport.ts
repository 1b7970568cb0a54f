/**
 * Calls of Firestore's REST API over keep-alive HTTP/1.1: plain HTTP to the emulator, HTTPS to
 * production. Errors carry the gRPC status number of the answer (`code`), as the Google client
 * libraries report them, or the socket's own code (ECONNREFUSED, ...) when there was no answer.
 */
import * as http from 'node:http';
import * as https from 'node:https';

/** gRPC status numbers by the REST API's `status` names. */
const STATUS_CODES: Record<string, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};
/** gRPC status numbers for HTTP statuses that come without a Google error body (e.g. from a proxy). */
const HTTP_CODES: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 429: 8, 499: 1, 500: 13, 501: 12, 503: 14, 504: 4 };

/** What the database answered with, or a request that got no answer in time. */
export class FirestoreError extends Error {
  constructor(
    /** gRPC status number. */
    readonly code: number,
    /** The REST status name, e.g. ABORTED. */
    readonly status: string,
    message: string,
  ) {
    super(`${code} ${status}: ${message}`);
    this.name = 'FirestoreError';
  }
}

/** Calls that change nothing, which may be sent again when a reused connection was closed under them. */
const RETRY_ON_RESET = new Set(['GET', 'batchGet', 'runQuery', 'runAggregationQuery', 'listCollectionIds', 'rollback']);

export interface TransportSettings {
  /** `http://host:port` of the emulator, or https://firestore.googleapis.com. */
  readonly baseUrl: string;
  /** Headers of every call: the emulator's `Bearer owner`, or a fresh access token. */
  readonly headers: () => Promise<Record<string, string>> | Record<string, string>;
  /** How long one call may take before it fails with DEADLINE_EXCEEDED. */
  readonly timeoutMs: number;
}

export class Transport {
  /** Told of every call as it is sent, by method name (`GET` for listings): the benchmarks count them. */
  onCall: ((method: string, body: unknown) => void) | undefined;
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;

  constructor(private readonly settings: TransportSettings) {
    this.url = new URL(settings.baseUrl);
    const secure = this.url.protocol === 'https:';
    this.request = secure ? https.request : http.request;
    const options = { keepAlive: true, scheduling: 'lifo' as const };
    this.agent = secure ? new https.Agent(options) : new http.Agent(options);
  }

  /** Closes the kept-alive connections (tests and benchmarks end with it). */
  close(): void {
    this.agent.destroy();
  }

  /** One call whose answer is one JSON value (or, for the streamed methods, a JSON array). */
  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const text = await this.send(method, path, body, undefined);
    const answer: unknown = text === '' ? {} : JSON.parse(text);
    if (Array.isArray(answer)) for (const element of answer) throwIfError(element);
    return answer;
  }

  /** A streamed call (`batchGet`, `runQuery`): each element of the answer's JSON array as it arrives. */
  async *stream(path: string, body: unknown): AsyncGenerator<Record<string, unknown>> {
    const splitter = new ArraySplitter();
    const queue: Record<string, unknown>[] = [];
    let response: http.IncomingMessage | undefined;
    let paused = false;
    let wake: (() => void) | undefined;
    let outcome: { error?: unknown } | undefined;
    const receive = (chunk: string, from: http.IncomingMessage) => {
      response = from;
      if (outcome) {
        from.destroy();
        return;
      }
      for (const element of splitter.push(chunk)) {
        const parsed = JSON.parse(element) as Record<string, unknown>;
        try {
          throwIfError(parsed);
        } catch (error) {
          // What came before the error is good; nothing after it is read.
          outcome = { error };
          from.destroy();
          break;
        }
        queue.push(parsed);
      }
      // Backpressure: a slow reader holds back the answer rather than letting it pile up here.
      // The wait is the reader's, not the database's, so the call's idle limit stops meanwhile.
      if (queue.length >= STREAM_HIGH_WATER && !paused) {
        paused = true;
        from.pause();
        from.socket.setTimeout(0);
      }
      wake?.();
    };
    this.send('POST', path, body, receive).then(
      () => ((outcome ??= {}), wake?.()),
      (error: unknown) => ((outcome ??= { error }), wake?.()),
    );
    try {
      for (;;) {
        while (queue.length > 0) {
          yield queue.shift() as Record<string, unknown>;
          if (paused && queue.length < STREAM_HIGH_WATER / 2) {
            paused = false;
            response?.socket.setTimeout(this.settings.timeoutMs);
            response?.resume();
          }
        }
        if (outcome) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (outcome.error) throw outcome.error;
    } finally {
      // A reader that stops early: the rest of the answer is not wanted, nor its connection kept.
      if (!outcome) {
        outcome = {};
        response?.destroy();
      }
    }
  }

  /** Sends one call; the body comes back as text, or chunk by chunk through `onChunk` when it is a 200. */
  private async send(
    method: string,
    path: string,
    body: unknown,
    onChunk: ((chunk: string, response: http.IncomingMessage) => void) | undefined,
    retried = false,
  ): Promise<string> {
    const headers: Record<string, string> = { ...(await this.settings.headers()), accept: 'application/json' };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const url = new URL(path, this.url);
    const name = method === 'GET' ? 'GET' : (/:(\w+)$/.exec(url.pathname)?.[1] ?? method);
    this.onCall?.(name, body);
    return new Promise<string>((resolve, reject) => {
      let answered = false;
      const request = this.request(url, { method, headers, agent: this.agent }, (response) => {
        answered = true;
        response.setEncoding('utf8');
        const ok = response.statusCode === 200;
        let text = '';
        response.on('data', (chunk: string) => {
          if (ok && onChunk) onChunk(chunk, response);
          else text += chunk;
        });
        response.on('end', () => (ok ? resolve(text) : reject(answerError(response.statusCode ?? 0, text))));
        response.on('error', reject);
      });
      request.setTimeout(this.settings.timeoutMs, () => request.destroy(new FirestoreError(4, 'DEADLINE_EXCEEDED', `no answer within ${this.settings.timeoutMs} ms`)));
      request.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive connection the database closed just as it was reused: safe to send again
        // only when the call changes nothing (Node's documented pattern for reused sockets).
        if (!retried && !answered && request.reusedSocket && error.code === 'ECONNRESET' && RETRY_ON_RESET.has(name)) {
          this.send(method, path, body, onChunk, true).then(resolve, reject);
        } else reject(error);
      });
      request.end(payload);
    });
  }
}

/** Elements of a streamed answer held before its socket is paused. */
const STREAM_HIGH_WATER = 2000;

/** The `error` of a Google API answer. */
type GoogleError = { status?: string; message?: string };

const errorOf = (error: GoogleError, fallbackMessage: string) =>
  new FirestoreError(STATUS_CODES[error.status ?? ''] ?? 2, error.status ?? 'UNKNOWN', error.message ?? fallbackMessage);

/** A streamed answer that fails after its 200 says so in an element of its array. */
function throwIfError(element: unknown): void {
  const error = (element as { error?: GoogleError } | null)?.error;
  if (error) throw errorOf(error, 'the stream failed');
}

function answerError(statusCode: number, text: string): FirestoreError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // The streamed methods wrap their error in an array.
  const error = ((Array.isArray(parsed) ? parsed[0] : parsed) as { error?: GoogleError } | undefined)?.error;
  const byHttpStatus = Object.keys(STATUS_CODES).find((name) => STATUS_CODES[name] === HTTP_CODES[statusCode]);
  return errorOf({ status: byHttpStatus, ...error }, `HTTP ${statusCode}: ${text.slice(0, 200)}`);
}

/**
 * Cuts a JSON array arriving in pieces into the text of its elements (objects), tracking only
 * nesting and strings, so that a long answer is parsed element by element rather than whole.
 */
export class ArraySplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private pending = '';

  push(chunk: string): string[] {
    const out: string[] = [];
    // An element that began in an earlier chunk continues from this chunk's start.
    let start = this.depth >= 2 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92) this.escaped = true;
        else if (c === 34) this.inString = false;
      } else if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) {
        this.depth++;
        if (this.depth === 2) start = i;
      } else if (c === 125 || c === 93) {
        this.depth--;
        if (this.depth === 1) {
          out.push(this.pending + chunk.slice(start, i + 1));
          this.pending = '';
          start = -1;
        }
      }
    }
    if (start >= 0) this.pending += chunk.slice(start);
    return out;
  }
}
