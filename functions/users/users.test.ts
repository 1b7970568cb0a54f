import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { type Identity, OWNER, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc.close());
beforeEach(async () => {
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.users));
  await seedStandardData(svc.db);
  await svc.ctx.users.refresh();
});

const stored = async (email: string) => (await svc.db.collection(COLLECTIONS.users).doc(email).get()).data();
const NON_ADMINS: Identity[] = ['reader', 'dsGeneral', 'dsWriter', 'general', 'writer', 'unknown'];

describe('GET /v2/users', () => {
  it('lists every user for an admin, with OWNER shown as admin', async () => {
    await svc.db.collection(COLLECTIONS.users).doc(OWNER).set({ name: 'Owner', global_roles: ['clio_general'] });
    const res = await svc.request('GET', '/v2/users', { as: 'admin' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(
      [...Object.values(USERS).filter((u) => u.doc).map((u) => u.email), OWNER].sort(),
    );
    expect(res.json[USERS.reader.email]).toEqual({
      email: USERS.reader.email, name: null, org: null, disabled: false, global_roles: [], datasets: { 'private-ds': ['clio_read'] }, groups: [], google_idinfo: null,
    });
    expect(res.json[OWNER].global_roles).toEqual(['clio_general', 'admin']);
  });

  it('answers on every alias', async () => {
    for (const path of ['/test/users', '/users', '/users/', '/clio_toplevel/users']) {
      expect((await svc.request('GET', path, { as: 'owner' })).status, path).toBe(200);
    }
  });

  it.each(NON_ADMINS)('refuses %s with 401', async (as) => {
    const res = await svc.request('GET', '/v2/users', { as });
    expect(res.status).toBe(401);
    expect(res.json.detail).toMatch(/admin/);
  });

  it('refuses disabled admins and missing tokens', async () => {
    expect((await svc.request('GET', '/v2/users', { as: 'disabled' })).status).toBe(403);
    expect((await svc.request('GET', '/v2/users')).status).toBe(401);
  });
});

describe('POST /v2/users', () => {
  it('creates users and replaces only the fields it names, lower-casing e-mails', async () => {
    await svc.db.collection(COLLECTIONS.users).doc('keep@test.org').set({
      name: 'Keep Me', org: 'FlyEM', groups: ['team'], disabled: false, global_roles: ['clio_read'], datasets: { a: ['clio_read'], b: ['clio_write'] }, extra: 'kept',
    });
    const res = await svc.request('POST', '/v2/users', {
      as: 'admin',
      body: {
        'Keep@Test.org': { datasets: { a: ['clio_general'] } },
        'new@test.org': { global_roles: ['clio_general'], name: 'New', email: 'ignored' },
      },
    });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    expect(await stored('keep@test.org')).toEqual({
      name: 'Keep Me', org: 'FlyEM', groups: ['team'], disabled: false, global_roles: ['clio_read'], datasets: { a: ['clio_general'] }, extra: 'kept',
    });
    expect(await stored('new@test.org')).toEqual({ global_roles: ['clio_general'], name: 'New' });
  });

  it('takes effect at once for the changed user on this instance', async () => {
    expect((await svc.request('GET', '/v2/datasets/private-ds', { as: 'unknown' })).status).toBe(401);
    await svc.request('POST', '/v2/users', { as: 'owner', body: { [USERS.unknown.email]: { datasets: { 'private-ds': ['clio_read'] } } } });
    expect((await svc.request('GET', '/v2/datasets/private-ds', { as: 'unknown' })).status).toBe(200);
    await svc.request('POST', '/v2/users', { as: 'admin', body: { [USERS.unknown.email]: { disabled: true } } });
    expect((await svc.request('GET', '/v2/roles', { as: 'unknown' })).status).toBe(403);
  });

  it("does what the original README's misplaced datasets example meant", async () => {
    const res = await svc.request('POST', '/users', {
      as: 'admin',
      rawBody: '{"plaza.stephen@gmail.com": {"global_roles": ["admin", "clio_general" ]}, "datasets": {"hemibrain": ["clio_write"]}}',
    });
    expect(res.status).toBe(200);
    expect(await stored('plaza.stephen@gmail.com')).toEqual({ global_roles: ['admin', 'clio_general'], datasets: { hemibrain: ['clio_write'] } });
    expect(await stored('datasets')).toBeUndefined();
  });

  it.each(NON_ADMINS)('refuses %s with 401 and writes nothing', async (as) => {
    const res = await svc.request('POST', '/v2/users', { as, body: { 'x@test.org': { global_roles: ['admin'] } } });
    expect(res.status).toBe(401);
    expect(await stored('x@test.org')).toBeUndefined();
  });

  it.each([
    ['roles that are not a list', { 'x@test.org': { global_roles: 'admin' } }, ['body', 'x@test.org', 'global_roles']],
    ['dataset roles that are not lists', { 'x@test.org': { datasets: { a: 'clio_read' } } }, ['body', 'x@test.org', 'datasets', 'a']],
    ['a key that is not an e-mail', { 'not-an-email': { global_roles: [] } }, ['body', 'not-an-email']],
    ['a user that is not an object', { 'x@test.org': ['admin'] }, ['body', 'x@test.org']],
    ['a list body', [{ 'x@test.org': {} }], ['body']],
    ['a wrong-typed disabled flag', { 'x@test.org': { disabled: 'yes' } }, ['body', 'x@test.org', 'disabled']],
  ])('rejects %s with 422 and writes nothing', async (_name, body, loc) => {
    const res = await svc.request('POST', '/v2/users', { as: 'admin', body });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(loc);
    expect(await stored('x@test.org')).toBeUndefined();
  });

  it('accepts the web app body sent as text/plain', async () => {
    const res = await svc.request('POST', '/v2/users', {
      as: 'admin', contentType: 'text/plain;charset=UTF-8', rawBody: JSON.stringify({ 'web@test.org': { global_roles: ['clio_general'], email: 'web@test.org' } }),
    });
    expect(res.status).toBe(200);
    expect(await stored('web@test.org')).toEqual({ global_roles: ['clio_general'] });
  });
});

describe('DELETE /v2/users', () => {
  it('deletes the listed users; missing ones are fine; the deleted lose their roles at once', async () => {
    expect((await svc.request('GET', '/v2/roles', { as: 'general' })).json.global_roles).toEqual(['clio_general']);
    const res = await svc.request('DELETE', '/users', { as: 'admin', body: [USERS.general.email.toUpperCase(), 'plaza.stephen'] });
    expect(res.status).toBe(200);
    expect(await stored(USERS.general.email)).toBeUndefined();
    expect((await svc.request('GET', '/v2/roles', { as: 'general' })).json.global_roles).toEqual([]);
  });

  it.each(NON_ADMINS)('refuses %s and deletes nothing', async (as) => {
    expect((await svc.request('DELETE', '/v2/users', { as, body: [USERS.reader.email] })).status).toBe(401);
    expect(await stored(USERS.reader.email)).toBeDefined();
  });

  it('rejects a body that is not a list of e-mails', async () => {
    const res = await svc.request('DELETE', '/v2/users', { as: 'admin', body: USERS.reader.email });
    expect(res.status).toBe(422);
    expect(await stored(USERS.reader.email)).toBeDefined();
  });
});

describe('GET /v2/roles', () => {
  it.each(Object.keys(USERS).filter((id) => id !== 'disabled') as Identity[])('returns the whole user object to %s', async (as) => {
    const res = await svc.request('GET', '/roles', { as });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['datasets', 'disabled', 'email', 'global_roles', 'google_idinfo', 'groups', 'name', 'org']);
    expect(res.json.email).toBe(USERS[as].email);
  });

  it('shows stored profile fields and groups', async () => {
    await svc.db.collection(COLLECTIONS.users).doc('prof@test.org').set({ name: 'Prof', org: 'Lab', groups: ['UK Drosophila Connectomics'] });
    const res = await svc.request('GET', '/v2/roles', { authorization: `Bearer ${svc.tokenFor('prof@test.org')}` });
    expect(res.json).toMatchObject({ name: 'Prof', org: 'Lab', groups: ['UK Drosophila Connectomics'] });
  });
});
