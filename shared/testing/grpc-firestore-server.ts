/**
 * A local stand-in for Firestore's gRPC API, for the faults the emulator cannot make: each call's
 * request arrives decoded, and the test answers it message by message, with a status, with an
 * answer that is not gRPC, or not at all.
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { FIRESTORE_CODEC, FIRESTORE_METHODS, type FirestoreMethod } from '../firestore-client/messages';
import { FrameReader, framed, type Message } from '../firestore-client/transport';

export interface FakeCall {
  readonly method: FirestoreMethod;
  readonly request: Message;
  readonly headers: http2.IncomingHttpHeaders;
  /** How many calls came before this one. */
  readonly count: number;
  /** The call's stream itself, for answers that are not gRPC. */
  readonly stream: http2.ServerHttp2Stream;
}

export class FakeReply {
  private started = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly responseType: string,
  ) {}

  /** Sends one message of the answer. */
  send(message: Message): void {
    this.start();
    this.stream.write(framed(FIRESTORE_CODEC.encode(this.responseType, message)));
  }

  /** Ends the answer with a gRPC status (0, OK, by default). */
  end(code = 0, message = ''): void {
    const status = { 'grpc-status': String(code), ...(message && { 'grpc-message': encodeURIComponent(message) }) };
    if (!this.started) {
      // Trailers-only, as servers answer a call that fails before any message.
      this.stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
      return;
    }
    this.stream.once('wantTrailers', () => this.stream.sendTrailers(status));
    this.stream.end();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  }
}

export interface FakeFirestore {
  /** `http://127.0.0.1:{port}`, for the client's baseUrl. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startFakeFirestore(answer: (call: FakeCall, reply: FakeReply) => void): Promise<FakeFirestore> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  let count = 0;
  server.on('stream', (stream, headers) => {
    const method = String(headers[':path']).replace('/google.firestore.v1.Firestore/', '') as FirestoreMethod;
    const types = FIRESTORE_METHODS[method];
    const frames = new FrameReader();
    const messages: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => messages.push(...frames.push(chunk)));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      const request = FIRESTORE_CODEC.decode(types.request, messages[0] ?? Buffer.alloc(0));
      answer({ method, request, headers, count: count++, stream }, new FakeReply(stream, types.response));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}
