/**
 * Puts an HTTP server of the tests or benchmarks on a free port of 127.0.0.1, and takes it down
 * again: the local stand-ins for remote services, and local instances of the functions.
 */
import { createServer, type IncomingMessage, type RequestListener, Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalServer {
  /** `http://127.0.0.1:{port}`, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Stops listening and ends every connection still open (a request left hanging included). */
  close(): Promise<void>;
}

/** Listens on 127.0.0.1, on a port the system picks, with a server or a request handler. */
export async function listenLocally(serve: Server | RequestListener): Promise<LocalServer> {
  const server = serve instanceof Server ? serve : createServer(serve);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** A local stand-in for a remote service: `start()` puts its `handle` on a local port. */
export abstract class LocalTestServer {
  private local: LocalServer | undefined;

  async start(): Promise<this> {
    this.local = await listenLocally((req, res) => void this.handle(req, res));
    return this;
  }

  /** The base URL; empty until started. */
  get url(): string {
    return this.local?.url ?? '';
  }

  /** `host:port`, as settings that name a server without its scheme take it. */
  get host(): string {
    return new URL(this.url).host;
  }

  async close(): Promise<void> {
    await this.local?.close();
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}
