/**
 * Optional features, each switched on by configuration. A route names the features it needs in
 * `requires`; the request wrapper checks them only after authorization (DECISIONS section 2), so
 * a caller who is refused never learns what this server has configured.
 */
import type { Config } from './config';
import { HttpError } from './errors';

export class Feature<T> {
  readonly name: string;
  private readonly read: (config: Config) => T | undefined;
  /** What the operator must set, for the 503's detail. */
  private readonly needs: string;

  constructor(name: string, needs: string, read: (config: Config) => T | undefined) {
    this.name = name;
    this.needs = needs;
    this.read = read;
  }

  /** The feature's settings; 503 when this server does not have them. */
  settings(config: Config): T {
    const value = this.read(config);
    if (value === undefined) throw new HttpError(503, `${this.name} is not available on this server (${this.needs})`);
    return value;
  }
}

export const FLYEM_TOKENS = new Feature('FlyEM token issuing', 'FLYEM_SECRET is unset', (config) => config.flyemSecret);

export const NEUPRINT = new Feature('neuPrint', 'NEUPRINT_APPLICATION_CREDENTIALS is unset', (config) => config.neuprintCredentials);

export const IMAGE_SEARCH = new Feature('image search', 'SIG_BUCKET is unset', (config) => config.sigBucket);

export const IMAGE_TRANSFER = new Feature('image transfer', 'TRANSFER_FUNC and TRANSFER_DEST must both be set', ({ transferFunc, transferDest }) =>
  transferFunc && transferDest ? { url: transferFunc, dest: transferDest } : undefined,
);
