/**
 * A local stand-in for Google's certificate endpoint (`oauth2/v1/certs`: a JSON object of key id
 * → PEM key) plus a signer for RS256 ID tokens made with a locally generated key.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { listenLocally } from './listen-locally';

export interface GoogleCertServer {
  readonly url: string;
  /** How many times the certificates were fetched (they should be cached). */
  readonly fetches: () => number;
  sign(claims: Record<string, unknown>, options?: { key?: KeyObject; kid?: string }): string;
  /** A key Google never published, for bad-signature cases. */
  readonly foreignKey: KeyObject;
  close(): Promise<void>;
}

export async function startGoogleCertServer(): Promise<GoogleCertServer> {
  const kid = 'test-key-1';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const foreignKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  let fetches = 0;
  const local = await listenLocally((_req, res) => {
    fetches++;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.end(JSON.stringify({ [kid]: publicKey.export({ type: 'spki', format: 'pem' }) }));
  });
  return {
    url: `${local.url}/oauth2/v1/certs`,
    fetches: () => fetches,
    foreignKey,
    sign(claims, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss: 'https://accounts.google.com', aud: 'test-client.apps.googleusercontent.com', iat: now, exp: now + 3600, ...claims };
      return jwt.sign(payload, options.key ?? privateKey, { algorithm: 'RS256', keyid: options.kid ?? kid });
    },
    close: local.close,
  };
}
