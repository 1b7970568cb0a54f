/**
 * Authentication over real HTTP (GET /v2/roles shows who the service thinks the caller is):
 * FlyEM tokens, Google ID tokens signed with a local key and served by a local certificate
 * endpoint, TEST_USER, OWNER, unknown and disabled users.
 */
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLYEM_SECRET, OWNER, seedStandardData, startTestService, type TestService, USERS } from '../testing/harness';
import { type GoogleCertServer, startGoogleCertServer } from '../testing/google-certs';

let certs: GoogleCertServer;
let svc: TestService;
beforeAll(async () => {
  certs = await startGoogleCertServer();
  svc = await startTestService({ GOOGLE_CERTS_URL: certs.url });
  await seedStandardData(svc.db);
});
afterAll(async () => {
  await svc.close();
  await certs.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const now = () => Math.floor(Date.now() / 1000);

async function expectRejected(authorization: string, service = svc): Promise<void> {
  const res = await service.request('GET', '/v2/roles', { authorization });
  expect(res.status, authorization.slice(0, 60)).toBe(401);
  expect(res.json).toEqual({ detail: 'Could not validate credentials' });
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
}

describe('FlyEM tokens', () => {
  it('accepts a valid token and identifies its (lower-cased) email', async () => {
    const res = await svc.request('GET', '/v2/roles', bearer(svc.tokenFor('Reader@Test.org')));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ email: 'reader@test.org', datasets: { 'private-ds': ['clio_read'] }, google_idinfo: null });
  });

  it('matches the token scheme case-insensitively', async () => {
    expect((await svc.request('GET', '/v2/roles', { authorization: `bearer ${svc.tokenFor('reader@test.org')}` })).status).toBe(200);
  });

  it.each([
    ['expired', () => jwt.sign({ email: 'reader@test.org', exp: now() - 10 }, FLYEM_SECRET, { algorithm: 'HS256' })],
    ['signed with another secret', () => jwt.sign({ email: 'reader@test.org', exp: now() + 100 }, 'wrong', { algorithm: 'HS256' })],
    ['without exp', () => jwt.sign({ email: 'reader@test.org' }, FLYEM_SECRET, { algorithm: 'HS256' })],
    ['without email', () => jwt.sign({ sub: 'x', exp: now() + 100 }, FLYEM_SECRET, { algorithm: 'HS256' })],
    ['with an audience', () => jwt.sign({ email: 'reader@test.org', exp: now() + 100, aud: 'x' }, FLYEM_SECRET, { algorithm: 'HS256' })],
    ['alg none', () => `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ email: 'admin@test.org', exp: now() + 100 })).toString('base64url')}.`],
    ['malformed', () => 'not-a-token'],
    ['of three garbage segments', () => 'a.b.c'],
  ])('rejects a token %s with 401', async (_name, make) => {
    await expectRejected(`Bearer ${make()}`);
  });

  it('rejects other schemes and an empty bearer', async () => {
    await expectRejected(`Basic ${Buffer.from('a:b').toString('base64')}`);
    await expectRejected('Bearer ');
  });

  it('keeps a verified token only until it expires: a token used again and again is refused once its exp passes', async () => {
    // Expires in 6 s: kept for about 1 s (5 s before its exp), then verified again, and refused after exp.
    const token = jwt.sign({ email: 'reader@test.org', exp: now() + 6 }, FLYEM_SECRET, { algorithm: 'HS256' });
    for (let i = 0; i < 20; i++) expect((await svc.request('GET', '/v2/roles', bearer(token))).status).toBe(200);
    await new Promise((done) => setTimeout(done, 6500));
    await expectRejected(`Bearer ${token}`);
  });

  it('keeps a verified token per exact token: a tampered copy of a cached token is refused', async () => {
    const token = svc.tokenFor('reader@test.org');
    expect((await svc.request('GET', '/v2/roles', bearer(token))).status).toBe(200);
    const [header, payload, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), email: 'admin@test.org' })).toString('base64url');
    await expectRejected(`Bearer ${header}.${forged}.${signature}`);
    await expectRejected(`Bearer ${token}x`);
  });

  it('is not accepted when the server has no FLYEM_SECRET', async () => {
    const noSecret = await startTestService({ FLYEM_SECRET: '', GOOGLE_CERTS_URL: certs.url });
    try {
      await expectRejected(`Bearer ${svc.tokenFor('reader@test.org')}`, noSecret);
    } finally {
      await noSecret.close();
    }
  });
});

describe('Google ID tokens', () => {
  it('accepts a valid token, lower-cases its email and shows its claims in /roles', async () => {
    const token = certs.sign({ email: 'General@Test.org', email_verified: true, name: 'Gen Eral', sub: '42' });
    const res = await svc.request('GET', '/v2/roles', bearer(token));
    expect(res.status).toBe(200);
    expect(res.json.email).toBe('general@test.org');
    expect(res.json.global_roles).toEqual(['clio_general']);
    expect(res.json.google_idinfo).toMatchObject({ email: 'General@Test.org', name: 'Gen Eral', iss: 'https://accounts.google.com' });
  });

  it('fetches the signing certificates once and reuses them', async () => {
    const before = certs.fetches();
    for (let i = 0; i < 3; i++) {
      expect((await svc.request('GET', '/v2/roles', bearer(certs.sign({ email: 'general@test.org' })))).status).toBe(200);
    }
    expect(certs.fetches() - before).toBeLessThanOrEqual(0);
  });

  it.each([
    ['expired', () => certs.sign({ email: 'general@test.org', iat: now() - 7200, exp: now() - 3600 })],
    ['from another issuer', () => certs.sign({ email: 'general@test.org', iss: 'https://evil.example' })],
    ['signed by an unknown key', () => certs.sign({ email: 'general@test.org' }, { key: certs.foreignKey })],
    ['with an unknown key id', () => certs.sign({ email: 'general@test.org' }, { kid: 'nope' })],
    ['without an email claim', () => certs.sign({ sub: '1' })],
  ])('rejects a token %s', async (_name, make) => {
    await expectRejected(`Bearer ${make()}`);
  });

  it('enforces AUTH_AUDIENCES when set', async () => {
    const strict = await startTestService({ GOOGLE_CERTS_URL: certs.url, AUTH_AUDIENCES: 'clio-web.apps.googleusercontent.com, other' });
    try {
      await expectRejected(`Bearer ${certs.sign({ email: 'general@test.org' })}`, strict);
      const ok = await strict.request('GET', '/v2/roles', bearer(certs.sign({ email: 'general@test.org', aud: 'other' })));
      expect(ok.status).toBe(200);
      expect(strict.logs.some((line) => /AUTH_AUDIENCES/.test(String(line.message)))).toBe(false);
    } finally {
      await strict.close();
    }
  });

  it('accepts any audience when AUTH_AUDIENCES is unset, and warns about it at start', async () => {
    const res = await svc.request('GET', '/v2/roles', bearer(certs.sign({ email: 'general@test.org', aud: 'anything' })));
    expect(res.status).toBe(200);
    expect(svc.logs.filter((line) => /AUTH_AUDIENCES is unset/.test(String(line.message)))).toHaveLength(1);
  });
});

describe('users behind the identity', () => {
  it('treats an e-mail without a user document as a signed-in user with no roles', async () => {
    const res = await svc.request('GET', '/v2/roles', { as: 'unknown' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ email: USERS.unknown.email, name: null, org: null, disabled: false, global_roles: [], datasets: {}, groups: [], google_idinfo: null });
  });

  it('makes OWNER an admin without a user document, whatever the case of its e-mail', async () => {
    const res = await svc.request('GET', '/v2/roles', bearer(svc.tokenFor(OWNER.toUpperCase())));
    expect(res.json.global_roles).toEqual(['admin']);
    expect((await svc.request('GET', '/v2/users', bearer(svc.tokenFor(OWNER)))).status).toBe(200);
  });

  it('refuses a disabled user with 403 inactive user', async () => {
    const res = await svc.request('GET', '/v2/roles', { as: 'disabled' });
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ detail: 'inactive user' });
  });

  it('refuses a request without a token', async () => {
    const res = await svc.request('GET', '/v2/roles');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });
});

describe('TEST_USER', () => {
  it('acts as TEST_USER for requests without a token, but still rejects invalid tokens', async () => {
    const dev = await startTestService({ TEST_USER: 'Writer@Test.org', GOOGLE_CERTS_URL: certs.url });
    try {
      await seedStandardData(dev.db);
      const res = await dev.request('GET', '/v2/roles');
      expect(res.status).toBe(200);
      expect(res.json.email).toBe('writer@test.org');
      expect(res.json.global_roles).toEqual(['clio_general', 'clio_write']);
      await expectRejected('Bearer garbage', dev);
      const expired = jwt.sign({ email: 'writer@test.org', exp: now() - 1 }, FLYEM_SECRET, { algorithm: 'HS256' });
      await expectRejected(`Bearer ${expired}`, dev);
      // A valid token still wins over TEST_USER.
      expect((await dev.request('GET', '/v2/roles', { as: 'reader' })).json.email).toBe('reader@test.org');
    } finally {
      await dev.close();
    }
  });
});
