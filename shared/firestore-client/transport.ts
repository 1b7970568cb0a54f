/**
 * Calls of Firestore's gRPC API over one HTTP/2 connection (node:http2): cleartext to the
 * emulator, TLS to production. A call is one request message and an answer of one message or a
 * stream of them, each framed as gRPC frames them, with the outcome in the answer's trailers.
 * Errors carry the gRPC status number (`code`) as the Google client libraries report them; a lost
 * or refused connection is UNAVAILABLE (14), as gRPC reports it.
 */
import * as http2 from 'node:http2';
import { FIRESTORE_CODEC as codec, FIRESTORE_METHODS, type FirestoreMethod } from './messages';

/** The names of the gRPC status numbers, by number. */
const STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
/** gRPC status numbers for HTTP statuses of answers that are not gRPC (e.g. from a proxy), as gRPC maps them. */
const HTTP_CODES: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14 };

/** What the database answered with, or a call that got no answer. */
export class FirestoreError extends Error {
  /** The status name, e.g. ABORTED. */
  readonly status: string;

  constructor(
    /** gRPC status number. */
    readonly code: number,
    message: string,
  ) {
    const status = STATUS_NAMES[code] ?? 'UNKNOWN';
    super(`${code} ${status}: ${message}`);
    this.name = 'FirestoreError';
    this.status = status;
  }
}

/** UNAVAILABLE for a connection that could not be made or was lost: the database is not there, rather than busy. */
export class ConnectionLost extends FirestoreError {
  constructor(cause: string) {
    super(14, `the connection to Firestore was lost or refused (${cause})`);
  }
}

export type Message = Record<string, unknown>;

export interface TransportSettings {
  /** `http://host:port` of the emulator, or https://firestore.googleapis.com. */
  readonly baseUrl: string;
  /** Headers of every call: the emulator's `Bearer owner`, or a fresh access token. */
  readonly headers: () => Promise<Record<string, string>> | Record<string, string>;
  /** How long a call may wait for the database (with no answer, or between parts of one) before it fails with DEADLINE_EXCEEDED. */
  readonly timeoutMs: number;
}

/** Messages of a streamed answer held before the stream is paused. */
const STREAM_HIGH_WATER = 2000;

export class Transport {
  /** Told of every call as it is sent: the benchmarks count them. */
  onCall: ((method: FirestoreMethod, request: Message) => void) | undefined;
  private readonly origin: string;
  private session: http2.ClientHttp2Session | undefined;
  /** Calls under way on each connection: one with none does not keep the process alive. */
  private readonly calls = new WeakMap<http2.ClientHttp2Session, number>();

  constructor(private readonly settings: TransportSettings) {
    this.origin = new URL(settings.baseUrl).origin;
  }

  /** Closes the connection (tests and benchmarks end with it). */
  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }

  /** Every message of the answer: one for a unary call, all of them for a streamed one. */
  async call(method: FirestoreMethod, request: Message): Promise<Message[]> {
    const answer: Message[] = [];
    await this.send(method, request, (message) => void answer.push(message));
    return answer;
  }

  /** The messages of a streamed answer as they arrive; a slow reader holds the answer back. */
  async *stream(method: FirestoreMethod, request: Message): AsyncGenerator<Message> {
    const queue: Message[] = [];
    let stream: http2.ClientHttp2Stream | undefined;
    let paused = false;
    let wake: (() => void) | undefined;
    let outcome: { error?: unknown } | undefined;
    const receive = (message: Message, from: http2.ClientHttp2Stream) => {
      stream = from;
      queue.push(message);
      // The wait is the reader's, not the database's, so the call's time limit stops meanwhile.
      if (queue.length >= STREAM_HIGH_WATER && !paused) {
        paused = true;
        from.pause();
        from.setTimeout(0);
      }
      wake?.();
    };
    this.send(method, request, receive).then(
      () => ((outcome ??= {}), wake?.()),
      (error: unknown) => ((outcome ??= { error }), wake?.()),
    );
    try {
      for (;;) {
        while (queue.length > 0) {
          yield queue.shift() as Message;
          if (paused && queue.length < STREAM_HIGH_WATER / 2) {
            paused = false;
            stream?.setTimeout(this.settings.timeoutMs);
            stream?.resume();
          }
        }
        if (outcome) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (outcome.error) throw outcome.error;
    } finally {
      // A reader that stops early: the rest of the answer is not wanted.
      if (!outcome) {
        outcome = {};
        stream?.close(http2.constants.NGHTTP2_CANCEL);
      }
    }
  }

  /** The open connection, or a new one. */
  private connection(): { session: http2.ClientHttp2Session; reused: boolean } {
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return { session: current, reused: true };
    const session = http2.connect(this.origin);
    // Its failures reach every call on it as the call's own error.
    session.on('error', () => undefined);
    const forget = () => {
      if (this.session === session) this.session = undefined;
    };
    session.on('close', forget);
    session.on('goaway', forget);
    session.unref();
    this.session = session;
    return { session, reused: false };
  }

  private async send(method: FirestoreMethod, request: Message, onMessage: (message: Message, stream: http2.ClientHttp2Stream) => void, resent = false): Promise<void> {
    const { request: requestType, response: responseType, safeToResend } = FIRESTORE_METHODS[method];
    const auth = await this.settings.headers();
    const frame = framed(codec.encode(requestType, request));
    this.onCall?.(method, request);
    const { session, reused } = this.connection();
    const under = this.calls.get(session) ?? 0;
    this.calls.set(session, under + 1);
    if (under === 0) session.ref();
    let resend = false;
    const resource = (request.database ?? request.parent) as string;
    const stream = session.request({
      ':method': 'POST',
      ':path': `/google.firestore.v1.Firestore/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      // Which database the call is for, as Google's front end routes calls.
      'x-goog-request-params': `${'database' in request ? 'database' : 'parent'}=${encodeURIComponent(resource)}`,
      ...auth,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        let answered = false;
        let httpStatus = 0;
        let grpcStatus: { code: number; message: string } | undefined;
        let failure: unknown;
        const frames = new FrameReader();
        const statusFrom = (headers: http2.IncomingHttpHeaders) => {
          if (headers['grpc-status'] === undefined) return;
          grpcStatus = { code: Number(headers['grpc-status']), message: decodeMessage(headers['grpc-message']) };
        };
        stream.on('response', (headers) => {
          answered = true;
          httpStatus = Number(headers[':status']);
          // A trailers-only answer: the status comes with the headers.
          statusFrom(headers);
        });
        stream.on('data', (chunk: Buffer) => {
          if (httpStatus !== 200 || failure) return;
          try {
            for (const message of frames.push(chunk)) onMessage(codec.decode(responseType, message), stream);
          } catch (error) {
            failure = error instanceof FirestoreError ? error : new FirestoreError(13, `an answer this client cannot read: ${(error as Error).message}`);
            stream.close(http2.constants.NGHTTP2_CANCEL);
          }
        });
        stream.on('trailers', statusFrom);
        stream.on('error', (error) => (failure ??= error));
        stream.setTimeout(this.settings.timeoutMs, () => {
          failure ??= new FirestoreError(4, `no answer within ${this.settings.timeoutMs} ms`);
          stream.close(http2.constants.NGHTTP2_CANCEL);
        });
        stream.on('close', () => {
          if (failure instanceof FirestoreError) return reject(failure);
          if (!failure && grpcStatus && grpcStatus.code !== 0) return reject(new FirestoreError(grpcStatus.code, grpcStatus.message));
          if (!failure && answered && httpStatus !== 200) return reject(new FirestoreError(HTTP_CODES[httpStatus] ?? 2, `HTTP ${httpStatus} instead of a gRPC answer`));
          // Any other failure, or an answer cut off before its status, is the connection's.
          if (failure || !grpcStatus) {
            const cause = failure as NodeJS.ErrnoException | undefined;
            resend = !answered && reused && safeToResend && !resent;
            const what = cause ? `${cause.code}: ${cause.message}` : answered ? 'the answer ended before its status' : `stream closed, code ${stream.rstCode}`;
            return reject(new ConnectionLost(what));
          }
          if (frames.pending) return reject(new FirestoreError(13, 'the answer ended inside a message'));
          resolve();
        });
        stream.end(frame);
      });
    } catch (error) {
      // A kept-alive connection lost before any answer, under a call that changes nothing: sent again once.
      if (resend) return this.send(method, request, onMessage, true);
      throw error;
    } finally {
      const left = (this.calls.get(session) ?? 1) - 1;
      this.calls.set(session, left);
      if (left === 0 && !session.destroyed) session.unref();
    }
  }
}

const decodeMessage = (header: string | string[] | undefined) => {
  const text = String(header ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/** One gRPC message as it goes on the wire: a flag byte (0, not compressed), a 4-byte length, the message. */
export function framed(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** Cuts the bytes of an answer, arriving in any pieces, into its gRPC messages (the frames `framed` makes). */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** Whether part of a message is still waiting for the rest. */
  get pending(): boolean {
    return this.buffered.length > 0;
  }

  push(chunk: Buffer): Buffer[] {
    let bytes = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const messages: Buffer[] = [];
    while (bytes.length >= 5) {
      if (bytes[0] !== 0) throw new FirestoreError(13, 'the answer holds a compressed message, which was not asked for');
      const end = 5 + bytes.readUInt32BE(1);
      if (bytes.length < end) break;
      messages.push(bytes.subarray(5, end));
      bytes = bytes.subarray(end);
    }
    this.buffered = bytes;
    return messages;
  }
}
