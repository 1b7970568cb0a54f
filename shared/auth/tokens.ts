/**
 * Bearer tokens: FlyEM tokens (HS256 JWTs this service issues) and Google ID tokens.
 */
import jwt from 'jsonwebtoken';
import type { OAuth2Client } from 'google-auth-library';

export const FLYEM_ISSUER = 'flyem-clio-store';
/** FlyEM tokens live three weeks, as the original issued them. */
export const FLYEM_TOKEN_LIFETIME_S = 3 * 7 * 24 * 3600;
/** Google claims copied into a FlyEM token when the caller signed in with Google. */
const COPIED_GOOGLE_CLAIMS = ['hd', 'email_verified', 'name', 'picture', 'given_name', 'family_name', 'locale'];

/** The e-mail of a valid FlyEM token, or undefined when the token is not one. */
export function verifyFlyemToken(token: string, secret: string): { email: string; expiresAt: number } | undefined {
  try {
    const claims = jwt.verify(token, secret, { algorithms: ['HS256'] });
    if (typeof claims !== 'object' || claims === null) return undefined;
    // A token without expiry or e-mail, or one meant for another audience, is not ours.
    if (typeof claims.exp !== 'number' || typeof claims.email !== 'string' || claims.aud !== undefined) return undefined;
    return { email: claims.email.toLowerCase(), expiresAt: claims.exp };
  } catch {
    return undefined;
  }
}

/** Signs a FlyEM token for `email`, carrying over the caller's Google profile claims if any. */
export function issueFlyemToken(
  secret: string,
  email: string,
  googleIdinfo: Record<string, unknown> | null,
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  const claims: Record<string, unknown> = {};
  for (const name of COPIED_GOOGLE_CLAIMS) {
    if (googleIdinfo && googleIdinfo[name] !== undefined) claims[name] = googleIdinfo[name];
  }
  Object.assign(claims, { email, iat: nowSeconds, exp: nowSeconds + FLYEM_TOKEN_LIFETIME_S, iss: FLYEM_ISSUER });
  return jwt.sign(claims, secret, { algorithm: 'HS256' });
}

export interface GoogleIdentity {
  email: string;
  claims: Record<string, unknown>;
}

/**
 * Verifies Google ID tokens with one long-lived client, so Google's signing certificates are
 * fetched once and reused for as long as their Cache-Control allows. google-auth-library loads at
 * the first Google token: callers with FlyEM or DatasetGateway tokens never need it.
 */
export class GoogleTokenVerifier {
  private client: Promise<OAuth2Client> | undefined;

  constructor(
    private readonly audiences: readonly string[],
    private readonly certsUrl?: string,
  ) {}

  /** The verified identity; throws when the token is invalid, expired, foreign or has no e-mail. */
  async verify(token: string): Promise<GoogleIdentity> {
    this.client ??= import('google-auth-library').then(({ OAuth2Client }) => new OAuth2Client(this.certsUrl ? { endpoints: { oauth2FederatedSignonPemCertsUrl: this.certsUrl } } : {}));
    const ticket = await (await this.client).verifyIdToken({
      idToken: token,
      audience: this.audiences.length > 0 ? [...this.audiences] : undefined,
    });
    const claims = ticket.getPayload();
    if (!claims || typeof claims.email !== 'string') throw new Error('token has no email claim');
    return { email: claims.email.toLowerCase(), claims: { ...claims } };
  }
}
