/**
 * Turns a request's Authorization header into a Caller (DECISIONS section 4): a FlyEM token,
 * else a Google ID token, else TEST_USER when no header is sent on the emulator, else 401.
 */
import type { Config } from '../config';
import type { DatasetCatalog } from '../datasets';
import { HttpError } from '../errors';
import { documentIdProblem } from '../ids';
import { Caller } from './roles';
import { GoogleTokenVerifier, verifyFlyemToken } from './tokens';
import type { UserDirectory } from './users';

const INVALID_CREDENTIALS = 'Could not validate credentials';
const EMAIL = /^[^\s@/]+@[^\s@/]+$/;

/** The verifier's reason for a rejection, without the token or any part of it (its messages can quote them). */
function withoutToken(reason: string, token: string): string {
  const parts = [token, ...token.split('.')].filter((part) => part.length >= 8).sort((a, b) => b.length - a.length);
  return parts.reduce((text, part) => text.replaceAll(part, '[token]'), reason).slice(0, 300);
}

export class Authenticator {
  private readonly config: Config;
  private readonly users: UserDirectory;
  private readonly datasets: DatasetCatalog;
  private readonly google: GoogleTokenVerifier;
  private readonly onGoogleRejection: (reason: string) => void;

  constructor(
    config: Config,
    users: UserDirectory,
    datasets: DatasetCatalog,
    onGoogleRejection: (reason: string) => void,
  ) {
    this.config = config;
    this.users = users;
    this.datasets = datasets;
    this.google = new GoogleTokenVerifier(config.authAudiences, config.googleCertsUrl);
    this.onGoogleRejection = onGoogleRejection;
  }

  async authenticate(authorization: string | undefined): Promise<Caller> {
    const { email, googleIdinfo } = await this.identify(authorization);
    // The e-mail names the caller's user document and per-user collections: a bare address only.
    if (!EMAIL.test(email) || documentIdProblem(email) !== undefined) throw new HttpError(401, INVALID_CREDENTIALS, { 'WWW-Authenticate': 'Bearer' });
    const [user, publicIds] = await Promise.all([this.users.get(email), this.datasets.publicIds()]);
    if (user.disabled) throw new HttpError(403, 'inactive user');
    return new Caller(user, publicIds, googleIdinfo);
  }

  private async identify(authorization: string | undefined): Promise<{ email: string; googleIdinfo: Record<string, unknown> | null }> {
    if (authorization === undefined) {
      if (this.config.testUser && this.config.firestoreEmulatorHost) return { email: this.config.testUser, googleIdinfo: null };
      throw new HttpError(401, 'Not authenticated: send "Authorization: Bearer <token>"', { 'WWW-Authenticate': 'Bearer' });
    }
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new HttpError(401, INVALID_CREDENTIALS, { 'WWW-Authenticate': 'Bearer' });
    const token = match[1];

    if (this.config.flyemSecret) {
      const email = verifyFlyemToken(token, this.config.flyemSecret);
      if (email) return { email, googleIdinfo: null };
    }
    try {
      const identity = await this.google.verify(token);
      return { email: identity.email, googleIdinfo: identity.claims };
    } catch (error) {
      this.onGoogleRejection(withoutToken(error instanceof Error ? error.message : String(error), token));
      throw new HttpError(401, INVALID_CREDENTIALS, { 'WWW-Authenticate': 'Bearer' });
    }
  }
}
