import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { databaseState, FLYEM_SECRET, type Identity, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';
import { type GoogleCertServer, startGoogleCertServer } from '../../shared/testing/google-certs';

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

describe('POST /v2/server/token', () => {
  it('exchanges a Google token for a three-week FlyEM token carrying the profile claims', async () => {
    const google = certs.sign({ email: 'General@Test.org', name: 'Gen', picture: 'https://p', hd: 'test.org', email_verified: true, sub: '9', exp: Math.floor(Date.now() / 1000) + 3600 });
    const res = await svc.request('POST', '/v2/server/token', { authorization: `Bearer ${google}` });
    expect(res.status).toBe(200);
    expect(res.text.startsWith('"ey')).toBe(true);
    const claims = jwt.verify(res.json, FLYEM_SECRET) as Record<string, unknown>;
    expect(claims).toMatchObject({ email: 'general@test.org', iss: 'flyem-clio-store', name: 'Gen', picture: 'https://p', hd: 'test.org', email_verified: true });
    expect((claims.exp as number) - (claims.iat as number)).toBe(1_814_400);
    expect(claims.sub).toBeUndefined();
    // The new token works, and can renew itself.
    const roles = await svc.request('GET', '/v2/roles', { authorization: `Bearer ${res.json}` });
    expect(roles.json.email).toBe('general@test.org');
    const renewed = await svc.request('POST', '/v2/server/token', { authorization: `Bearer ${res.json}` });
    expect(renewed.status).toBe(200);
    expect((jwt.decode(renewed.json) as Record<string, unknown>).name).toBeUndefined();
  });

  it.each(['unknown', 'reader', 'admin'] as Identity[])('issues a token to any signed-in user (%s)', async (as) => {
    const res = await svc.request('POST', '/v2/server/token', { as });
    expect(res.status).toBe(200);
    expect((jwt.decode(res.json) as Record<string, unknown>).email).toBe(USERS[as].email);
  });

  it('refuses no token, a disabled user, and answers 503 when FLYEM_SECRET is unset', async () => {
    expect((await svc.request('POST', '/v2/server/token')).status).toBe(401);
    expect((await svc.request('POST', '/v2/server/token', { as: 'disabled' })).status).toBe(403);
    const noSecret = await startTestService({ FLYEM_SECRET: '', GOOGLE_CERTS_URL: certs.url });
    try {
      const res = await noSecret.request('POST', '/v2/server/token', { authorization: `Bearer ${certs.sign({ email: 'general@test.org' })}` });
      expect(res.status).toBe(503);
      expect(res.json.detail).toMatch(/FLYEM_SECRET/);
    } finally {
      await noSecret.close();
    }
  });
});

describe('POST /v2/server/refresh-caches', () => {
  it('lets admins reload the caches, picking up changes made directly in Firestore', async () => {
    await svc.request('GET', '/v2/roles', { as: 'reader' });
    await svc.db.collection(COLLECTIONS.users).doc(USERS.reader.email).set({ global_roles: ['clio_write'] });
    await svc.db.collection(COLLECTIONS.datasets).doc('private-ds').update({ public: true });
    const res = await svc.request('POST', '/v2/server/refresh-caches', { as: 'owner' });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    expect((await svc.request('GET', '/v2/roles', { as: 'reader' })).json.global_roles).toEqual(['clio_write']);
    expect((await svc.request('GET', '/v2/datasets/private-ds', { as: 'unknown' })).status).toBe(200);
  });

  it.each(['reader', 'general', 'writer', 'unknown'] as Identity[])('refuses %s with 401', async (as) => {
    expect((await svc.request('POST', '/v2/server/refresh-caches', { as })).status).toBe(401);
  });
});

describe('POST /v2/site-reports', () => {
  const reportId = (email: string) => `${email}-${new Date().toISOString().slice(0, 10)}`;

  it('refuses a report Firestore cannot store (an empty field name, deeper than 20 levels) with 400, writing nothing', async () => {
    const before = await databaseState(svc);
    for (const rawBody of ['{"": 1}', `{"a": ${'{"b":'.repeat(25)}1${'}'.repeat(25)}}`, '{"__x__": 1}']) {
      const res = await svc.request('POST', '/v2/site-reports', { as: 'reader', rawBody });
      expect(res.status, rawBody).toBe(400);
      expect(res.json.detail, rawBody).toMatch(/cannot be stored/);
    }
    expect(await databaseState(svc)).toEqual(before);
  });

  it('stores one report per user per day, the last one winning', async () => {
    const first = await svc.request('POST', '/v2/site-reports', { as: 'reader', body: { projectUrl: 'https://x/v2', user: 'a' } });
    expect(first.status).toBe(200);
    expect(first.json).toBeNull();
    await svc.request('POST', '/v2/site-reports', { as: 'reader', contentType: 'text/plain;charset=UTF-8', rawBody: '{"defaultProd": true}' });
    const doc = await svc.db.collection(COLLECTIONS.siteReports).doc(reportId(USERS.reader.email)).get();
    expect(doc.data()).toEqual({ defaultProd: true });
  });

  it('accepts any signed-in user and refuses a missing token', async () => {
    expect((await svc.request('POST', '/v2/site-reports', { as: 'unknown', body: { a: 1 } })).status).toBe(200);
    expect((await svc.request('POST', '/v2/site-reports', { body: { a: 1 } })).status).toBe(401);
  });

  it.each([
    ['a list', [{ a: 1 }]],
    ['a string', 'report'],
  ])('rejects %s with 422 and writes nothing', async (_name, body) => {
    const res = await svc.request('POST', '/v2/site-reports', { as: 'general', body });
    expect(res.status).toBe(422);
    expect((await svc.db.collection(COLLECTIONS.siteReports).doc(reportId(USERS.general.email)).get()).exists).toBe(false);
  });

  it('is only under /v2', async () => {
    expect((await svc.request('POST', '/site-reports', { as: 'general', body: {} })).status).toBe(404);
    expect((await svc.request('POST', '/test/server/token', { as: 'general' })).status).toBe(404);
  });
});
