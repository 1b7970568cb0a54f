/**
 * Optional features, each switched on by configuration. A route names the features it needs in
 * `requires`; the request wrapper checks them only after authorization (DECISIONS section 2), so
 * a caller who is refused never learns what this server has configured.
 */
import type { Config } from './config';
import { HttpError } from './errors';

export class Feature<T> {
  readonly name: string;
  /** The environment variables the feature needs (deployment passes the secret ones from Secret Manager). */
  readonly variables: readonly string[];
  private readonly read: (config: Config) => T | undefined;

  constructor(name: string, variables: readonly string[], read: (config: Config) => T | undefined) {
    this.name = name;
    this.variables = variables;
    this.read = read;
  }

  /** The feature's settings; 503 when this server does not have them. */
  settings(config: Config): T {
    const value = this.read(config);
    if (value === undefined) {
      const [first, ...others] = this.variables;
      const needs = others.length === 0 ? `${first} is unset` : `${[first, ...others].join(' and ')} must both be set`;
      throw new HttpError(503, `${this.name} is not available on this server (${needs})`);
    }
    return value;
  }
}

export const FLYEM_TOKENS = new Feature('FlyEM token issuing', ['FLYEM_SECRET'], (config) => config.flyemSecret);

export const NEUPRINT = new Feature('neuPrint', ['NEUPRINT_APPLICATION_CREDENTIALS'], (config) => config.neuprintCredentials);

export const IMAGE_SEARCH = new Feature('image search', ['SIG_BUCKET'], (config) => config.sigBucket);

export const IMAGE_TRANSFER = new Feature('image transfer', ['TRANSFER_FUNC', 'TRANSFER_DEST'], ({ transferFunc, transferDest }) =>
  transferFunc && transferDest ? { url: transferFunc, dest: transferDest } : undefined,
);
