/**
 * The Cloud Storage adapter (signature blocks, transfer output), through @google-cloud/storage
 * at the configured endpoint. Against a loopback endpoint (local test servers) no credentials
 * are used; anywhere else the client authenticates with the instance's default credentials.
 * Failures become 502/504 HttpErrors naming the object. The client library is loaded by the first
 * call, so that a cold start whose first request reads no object does not run it.
 */
import type { Storage } from '@google-cloud/storage';
import type { Config } from './config';
import { isLoopbackUrl, upstreamFailure } from './upstream';

export class CloudStorage {
  private storage: Promise<Storage> | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly config: Config) {
    this.timeoutMs = config.upstreamTimeoutMs;
  }

  private client(): Promise<Storage> {
    const { config } = this;
    this.storage ??= import('@google-cloud/storage').then(
      ({ Storage }) =>
        new Storage({
          apiEndpoint: config.storageApiUrl,
          useAuthWithCustomEndpoint: !isLoopbackUrl(config.storageApiUrl),
          projectId: config.projectId,
          timeout: config.upstreamTimeoutMs,
          // One retry of a transient failure keeps a request well inside the function's own deadline.
          retryOptions: { maxRetries: 1, totalTimeout: Math.ceil(config.upstreamTimeoutMs / 1000) * 2 },
        }),
    );
    return this.storage;
  }

  /** The object's bytes, or undefined when it does not exist. */
  async read(bucket: string, name: string): Promise<Buffer | undefined> {
    try {
      const [contents] = await (await this.client()).bucket(bucket).file(name).download();
      return contents;
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw upstreamFailure(`Cloud Storage (reading gs://${bucket}/${name})`, error, this.timeoutMs);
    }
  }

  /** Creates the object; it must not exist yet, which also makes a retried upload safe. */
  async create(bucket: string, name: string, contents: string | Buffer, contentType: string): Promise<void> {
    try {
      await (await this.client()).bucket(bucket).file(name).save(contents, {
        resumable: false,
        contentType,
        timeout: this.timeoutMs,
        preconditionOpts: { ifGenerationMatch: 0 },
      });
    } catch (error) {
      throw upstreamFailure(`Cloud Storage (writing gs://${bucket}/${name})`, error, this.timeoutMs);
    }
  }
}

const clients = new WeakMap<Config, CloudStorage>();

/** The instance's one Cloud Storage adapter for this configuration, created on first use. */
export function cloudStorage(config: Config): CloudStorage {
  let client = clients.get(config);
  if (!client) {
    client = new CloudStorage(config);
    clients.set(config, client);
  }
  return client;
}
