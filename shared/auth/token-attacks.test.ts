/**
 * Forged, altered and malformed tokens, each aimed at an admin: every one is 401 on a read and
 * on writes, and nothing is written. Google tokens are signed with locally made keys and served
 * by a local certificate endpoint; the service enforces an audience, as production should.
 */
import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GoogleCertServer, startGoogleCertServer } from '../testing/google-certs';
import { databaseState, FLYEM_SECRET, seedStandardData, startTestService, type TestService, USERS } from '../testing/harness';

const AUDIENCE = 'clio-web.apps.googleusercontent.com';
const ADMIN = USERS.admin.email;

let certs: GoogleCertServer;
let svc: TestService;
/** The PEM of the key Google's (stand-in) endpoint publishes. */
let publishedKey: string;

beforeAll(async () => {
  certs = await startGoogleCertServer();
  svc = await startTestService({ GOOGLE_CERTS_URL: certs.url, AUTH_AUDIENCES: AUDIENCE });
  await seedStandardData(svc.db);
  publishedKey = Object.values((await (await fetch(certs.url)).json()) as Record<string, string>)[0];
});
afterAll(async () => {
  await svc.close();
  await certs.close();
});

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT with any header and claims, signed with HMAC-SHA256 over `secret` (whatever the header claims). */
function hmacToken(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string): string {
  const unsigned = `${b64(header)}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** The token with its payload replaced (the signature kept), or with one signature character changed. */
const withPayload = (token: string, claims: Record<string, unknown>) => token.replace(/\.[^.]+\./, `.${b64(claims)}.`);
const withFlippedSignature = (token: string) => token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);

const flyem = (claims: Record<string, unknown>) => jwt.sign(claims, FLYEM_SECRET, { algorithm: 'HS256', noTimestamp: true });
const google = (claims: Record<string, unknown>) => certs.sign({ aud: AUDIENCE, ...claims });
const valid = () => ({ email: ADMIN, exp: now() + 3600 });

const ATTACKS: [string, () => string][] = [
  ['FlyEM: alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(valid())}.`],
  ['FlyEM: expired', () => flyem({ email: ADMIN, exp: now() - 1 })],
  ['FlyEM: not yet valid', () => flyem({ ...valid(), nbf: now() + 3600 })],
  ['FlyEM: payload tampered (e-mail swapped to the admin)', () => withPayload(flyem({ email: USERS.reader.email, exp: now() + 3600 }), valid())],
  ['FlyEM: signature tampered', () => withFlippedSignature(flyem(valid()))],
  ['FlyEM: signed with another secret', () => jwt.sign(valid(), 'guessed-secret', { algorithm: 'HS256' })],
  ['FlyEM: HS512 with the right secret', () => jwt.sign(valid(), FLYEM_SECRET, { algorithm: 'HS512' })],
  ['FlyEM: without email', () => flyem({ exp: now() + 3600 })],
  ['FlyEM: without exp', () => flyem({ email: ADMIN })],
  ['FlyEM: e-mail as a list', () => flyem({ email: [ADMIN], exp: now() + 3600 })],
  ['FlyEM: e-mail padded with whitespace', () => flyem({ email: ` ${ADMIN} `, exp: now() + 3600 })],
  ['FlyEM: e-mail with a newline', () => flyem({ email: `${ADMIN}\nx`, exp: now() + 3600 })],
  ['FlyEM: e-mail naming a path', () => flyem({ email: `../${ADMIN}`, exp: now() + 3600 })],
  ['Google: an HS256 token with Google claims', () => hmacToken({ alg: 'HS256', typ: 'JWT', kid: 'test-key-1' }, { iss: 'https://accounts.google.com', aud: AUDIENCE, ...valid(), iat: now() }, 'some-secret')],
  ['Google: key confusion (HS256 keyed with the published RSA key)', () => hmacToken({ alg: 'HS256', typ: 'JWT', kid: 'test-key-1' }, { iss: 'https://accounts.google.com', aud: AUDIENCE, ...valid(), iat: now() }, publishedKey)],
  ['Google: alg none', () => `${b64({ alg: 'none', kid: 'test-key-1' })}.${b64({ iss: 'https://accounts.google.com', aud: AUDIENCE, ...valid(), iat: now() })}.`],
  ['Google: expired', () => google({ email: ADMIN, iat: now() - 7200, exp: now() - 3600 })],
  ['Google: not yet valid (issued in the future)', () => google({ email: ADMIN, iat: now() + 3600, exp: now() + 7200 })],
  ['Google: wrong issuer', () => google({ email: ADMIN, iss: 'https://accounts.google.evil.example' })],
  ['Google: wrong audience', () => google({ email: ADMIN, aud: 'someone-else.apps.googleusercontent.com' })],
  ['Google: payload tampered', () => withPayload(google({ email: USERS.reader.email }), { iss: 'https://accounts.google.com', aud: AUDIENCE, ...valid(), iat: now() })],
  ['Google: signature tampered', () => withFlippedSignature(google({ email: ADMIN }))],
  ['Google: signed by a key Google never published', () => certs.sign({ aud: AUDIENCE, email: ADMIN }, { key: certs.foreignKey })],
  ['Google: e-mail as a list', () => google({ email: [ADMIN] })],
  ['Google: without e-mail', () => google({ sub: '1' })],
  ['Google: e-mail padded with whitespace', () => google({ email: ` ${ADMIN} ` })],
  ['garbage of 15 KiB', () => 'x'.repeat(15 * 1024)],
];

describe('token attacks', () => {
  it.each(ATTACKS)('%s: 401 on a read and on writes, nothing written', async (_name, make) => {
    const token = make();
    const authorization = `Bearer ${token}`;
    const before = await databaseState(svc);
    const roles = await svc.request('GET', '/v2/roles', { authorization });
    expect(roles.status).toBe(401);
    expect(roles.json).toEqual({ detail: 'Could not validate credentials' });
    for (const [method, path, body] of [
      ['POST', '/v2/datasets', { hijacked: { description: 'x' } }],
      ['POST', '/v2/users', { 'attacker@evil.example': { global_roles: ['admin'] } }],
      ['POST', '/v2/kv/attack/k', { a: 1 }],
    ] as const) {
      const res = await svc.request(method, path, { authorization, body });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    expect(await databaseState(svc)).toEqual(before);
    // The token appears in no log line.
    expect(svc.logs.some((line) => JSON.stringify(line).includes(token.slice(-40)))).toBe(false);
  });

  it('the genuine tokens these attacks start from are accepted, so each refusal is the attack\'s doing', async () => {
    for (const token of [flyem(valid()), google({ email: ADMIN })]) {
      const res = await svc.request('GET', '/v2/roles', { authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(res.json.email).toBe(ADMIN);
    }
    // Case is not identity: a differently cased e-mail is the same, lower-cased user (DECISIONS section 4).
    const upper = await svc.request('GET', '/v2/roles', { authorization: `Bearer ${flyem({ email: ADMIN.toUpperCase(), exp: now() + 3600 })}` });
    expect(upper.json.email).toBe(ADMIN);
  });

  it('a 64 KiB token is refused by the HTTP server before authentication (431), and nothing is written', async () => {
    const before = await databaseState(svc);
    const res = await fetch(`${svc.url}/v2/kv/attack/k`, { method: 'POST', headers: { authorization: `Bearer ${'x'.repeat(64 * 1024)}` }, body: '{}' });
    expect(res.status).toBe(431);
    expect(await databaseState(svc)).toEqual(before);
  });
});
