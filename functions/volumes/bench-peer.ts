/**
 * The benchmark's other side, in its own process so that the process under measurement runs only
 * the proxy: it serves one generated object like Cloud Storage (reporting its URL), and downloads
 * the URLs it is sent, discarding the bytes and reporting each time taken. Started with `fork` by
 * volumes.bench.ts; they talk over the IPC channel.
 */
import { get } from 'node:http';
import { GcsTestServer, generatedContent } from '../../shared/testing/gcs-test-server';

export interface ObjectServerReady {
  readonly url: string;
}

export interface DownloadOrder {
  readonly url: string;
}

export interface DownloadResult {
  readonly bytes: number;
  readonly ms: number;
  readonly status: number;
}

function send(message: unknown): void {
  process.send?.(message);
}

function download(url: string): Promise<DownloadResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    get(url, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ bytes, ms: performance.now() - started, status: res.statusCode ?? 0 }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function main(objectSpec: string | undefined): Promise<void> {
  const storage = await new GcsTestServer().start();
  // `bucket/object:size` of the one generated object to serve.
  const [, bucket, name, size] = /^([^/]+)\/(.+):(\d+)$/.exec(objectSpec ?? '') ?? [];
  if (!bucket) throw new Error(`expected bucket/object:size, got ${objectSpec}`);
  storage.put(bucket, name, generatedContent(Number(size)));
  process.on('message', (order: DownloadOrder) => {
    download(order.url).then(send, (error: Error) => send({ bytes: -1, ms: 0, status: 0, error: error.message }));
  });
  send({ url: storage.url } satisfies ObjectServerReady);
}

void main(process.argv[2]).catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
