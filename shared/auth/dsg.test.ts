/**
 * DatasetGateway authentication against the DSG stand-in, by the numbers of
 * reference/datasetgateway.md section 5: mode choice, token intake, the user-cache call, the role
 * mapping, the caches, TOS gating, groups, DSG failures, and keys kept out of the logs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../collections';
import { startDsgService, type DsgService } from '../testing/dsg-service';
import { DS_TOS, dsgKey, standardDsgConfig } from '../testing/dsg-identities';
import { DsgTestServer } from '../testing/dsg-test-server';
import { type GoogleCertServer, startGoogleCertServer } from '../testing/google-certs';
import { DS, FLYEM_SECRET, OWNER, PUBLIC_DS, seedStandardData, startTestService, type TestService, USERS } from '../testing/harness';
import { listenLocally } from '../testing/listen-locally';
import { mapDsgUser } from './dsg';
import { issueFlyemToken } from './tokens';

const USER_CACHE = '/api/v1/user/cache';
const bearer = (identity: Parameters<typeof dsgKey>[0]) => `Bearer ${dsgKey(identity)}`;

let d: DsgService;
beforeAll(async () => {
  d = await startDsgService();
});
afterAll(async () => {
  await d.close();
});
afterEach(async () => {
  d.dsg.reset();
  // Every test starts with cold caches.
  d.svc.ctx.auth.dsg!.clear();
});

describe('1-2. mode: DSG_URL chooses DSG mode, which never runs the legacy checks', () => {
  it('accepts a FlyEM token in legacy mode; in DSG mode the same token goes to DSG, which refuses it (401)', async () => {
    const legacy = await startTestService();
    try {
      const jwt = legacy.tokenFor(USERS.admin.email);
      expect((await legacy.request('GET', '/v2/roles', { authorization: `Bearer ${jwt}` })).status).toBe(200);
      const res = await d.svc.request('GET', '/v2/roles', { authorization: `Bearer ${jwt}` });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ detail: 'Could not validate credentials' });
      expect(d.dsg.callsTo(USER_CACHE).map((call) => call.authorization)).toEqual([`Bearer ${jwt}`]);
    } finally {
      await legacy.close();
    }
  });

  it('ignores TEST_USER: a request without a token is 401 and DSG is not asked', async () => {
    const withTestUser = await startDsgService({ TEST_USER: USERS.admin.email });
    try {
      const res = await withTestUser.svc.request('GET', '/v2/roles');
      expect(res.status).toBe(401);
      expect(withTestUser.dsg.calls).toEqual([]);
      expect(withTestUser.svc.logs.some((line) => String(line.message).includes('ignored in dsg mode: FLYEM_SECRET, TEST_USER'))).toBe(true);
    } finally {
      await withTestUser.close();
    }
  });

  it('never reads clio_users: roles stored there for the same e-mail grant nothing', async () => {
    // seedStandardData gave reader@ clio_read on DS and admin@ global admin in clio_users.
    await d.svc.db.collection(COLLECTIONS.users).doc(USERS.unknown.email).set({ global_roles: ['admin', 'clio_general'] });
    const res = await d.svc.request('GET', '/v2/roles', { as: 'unknown' });
    expect(res.json).toMatchObject({ email: USERS.unknown.email, global_roles: [], datasets: {} });
    expect((await d.svc.request('GET', `/v2/annotations/${DS}`, { as: 'reader' })).status).toBe(401);
  });

  it('starts and serves when Firestore holds no clio_users at all (23)', async () => {
    const dsg = await new DsgTestServer(standardDsgConfig()).start();
    const svc = await startTestService({ DSG_URL: `${dsg.url}/` });
    try {
      await svc.db.collection(COLLECTIONS.datasets).doc(DS).set({ description: 'only a dataset' });
      const res = await svc.request('GET', '/v2/datasets', { authorization: bearer('dsGeneral') });
      expect(res.status).toBe(200);
      expect(Object.keys(res.json)).toEqual([DS]);
      // The trailing slash of DSG_URL was dropped.
      expect(dsg.callsTo(USER_CACHE)).toHaveLength(1);
      expect((await svc.db.collection(COLLECTIONS.users).get()).size).toBe(0);
    } finally {
      await svc.close();
      await dsg.close();
    }
  });
});

describe('3-4. token intake: Bearer header, then the dsg_token cookie, then ?dsg_token=', () => {
  it('prefers the header over the cookie over the query, and sends DSG only the chosen key as Bearer', async () => {
    const all = await d.svc.request('GET', `/v2/roles?dsg_token=${dsgKey('writer')}`, {
      authorization: bearer('dsGeneral'),
      headers: { cookie: `other=1; dsg_token=${dsgKey('dsWriter')}` },
    });
    expect(all.json.email).toBe(USERS.dsGeneral.email);
    const cookieAndQuery = await d.svc.request('GET', `/v2/roles?dsg_token=${dsgKey('writer')}`, { headers: { cookie: `dsg_token=${dsgKey('dsWriter')}` } });
    expect(cookieAndQuery.json.email).toBe(USERS.dsWriter.email);
    const query = await d.svc.request('GET', `/v2/roles?dsg_token=${dsgKey('writer')}`);
    expect(query.json.email).toBe(USERS.writer.email);
    expect(d.dsg.callsTo(USER_CACHE).map((call) => [call.authorization, call.cookie, call.search])).toEqual([
      [bearer('dsGeneral'), undefined, '?service=clio'],
      [bearer('dsWriter'), undefined, '?service=clio'],
      [bearer('writer'), undefined, '?service=clio'],
    ]);
  });

  it('matches the scheme in any case, and skips a header of another scheme', async () => {
    expect((await d.svc.request('GET', '/v2/roles', { authorization: `bEaReR ${dsgKey('admin')}` })).json.email).toBe(USERS.admin.email);
    const basic = await d.svc.request('GET', '/v2/roles', { authorization: 'Basic dXNlcjpwdw==', headers: { cookie: `dsg_token=${dsgKey('writer')}` } });
    expect(basic.json.email).toBe(USERS.writer.email);
  });

  it('answers 401 with WWW-Authenticate and asks DSG nothing when there is no token', async () => {
    for (const options of [{}, { authorization: 'Basic abc' }, { headers: { cookie: 'dsg_token=' } }]) {
      const res = await d.svc.request('GET', `/v2/datasets/${DS}?dsg_token=`, options);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ detail: 'Could not validate credentials' });
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(d.dsg.calls).toEqual([]);
  });
});

describe('5. the user-cache call and its failures', () => {
  it.each([401, 403, 500])('treats a DSG %i as an invalid key (401), and does not cache the refusal', async (status) => {
    d.dsg.fault = { status, body: '{"detail":"no"}' };
    const res = await d.svc.request('GET', '/v2/roles', { as: 'admin' });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ detail: 'Could not validate credentials' });
    d.dsg.fault = undefined;
    expect((await d.svc.request('GET', '/v2/roles', { as: 'admin' })).status).toBe(200);
    expect(d.dsg.callsTo(USER_CACHE)).toHaveLength(2);
  });

  it('answers a 200 without an e-mail with 401, not a crash (upstream: 500)', async () => {
    for (const body of ['{"name":"x","admin":true}', '{"email":""}', '[]', 'not json']) {
      d.dsg.fault = { status: 200, body };
      const res = await d.svc.request('GET', '/v2/roles', { as: 'admin' });
      expect(res.status, body).toBe(401);
      expect(res.json).toEqual({ detail: 'Could not validate credentials' });
    }
  });

  it('answers 502 "Auth service unavailable" when DSG cannot be reached, and logs why without the key', async () => {
    const closed = await listenLocally(() => undefined);
    await closed.close();
    const svc = await startTestService({ DSG_URL: closed.url });
    try {
      const res = await svc.request('GET', '/v2/roles', { authorization: bearer('admin') });
      expect(res.status).toBe(502);
      expect(res.json).toMatchObject({ detail: 'Auth service unavailable' });
      const warning = svc.logs.find((line) => line.message === 'DatasetGateway user-cache call failed');
      expect(String(warning?.reason)).toMatch(/could not be reached/);
      expect(JSON.stringify(svc.logs)).not.toContain(dsgKey('admin'));
    } finally {
      await svc.close();
    }
  });

  it('answers 502 within the configured timeout when DSG is slow (15 s), then serves again', async () => {
    const slow = await startDsgService({ DSG_TIMEOUT_MS: '1000' });
    try {
      slow.dsg.delayMs = 15_000;
      const started = Date.now();
      const res = await slow.svc.request('GET', '/v2/roles', { as: 'admin' });
      expect(res.status).toBe(502);
      expect(res.json.detail).toBe('Auth service unavailable');
      expect(Date.now() - started).toBeLessThan(5_000);
      slow.dsg.delayMs = 0;
      expect((await slow.svc.request('GET', '/v2/roles', { as: 'admin' })).status).toBe(200);
    } finally {
      await slow.close();
    }
  });

  it('keeps serving keys cached before DSG went down (2.11)', async () => {
    expect((await d.svc.request('GET', '/v2/roles', { as: 'writer' })).status).toBe(200);
    d.dsg.fault = 'hang';
    d.dsg.delayMs = 0;
    const cached = await d.svc.request('GET', `/v2/datasets/${DS}`, { as: 'writer' });
    expect(cached.status).toBe(200);
    d.dsg.fault = { status: 503, body: 'down' };
    expect((await d.svc.request('GET', '/v2/roles', { as: 'dsWriter' })).status).toBe(401);
  });
});

describe('6. mapping DSG user caches to clio roles', () => {
  const base = { email: 'Someone@Example.org', name: 'Some One', picture_url: 'https://pic' };
  it.each([
    ['view and edit, other permissions ignored, empty entries dropped', { ...base, permissions_v2: { a: ['view'], b: ['edit', 'view'], c: ['manage'], d: [] } }, {
      datasets: { a: ['clio_general'], b: ['clio_general', 'clio_write'] },
      datasets_ignore_tos: { a: ['clio_general'], b: ['clio_general', 'clio_write'] },
    }],
    ['a DSG admin grant', { ...base, permissions_v2: { a: ['admin', 'edit', 'manage', 'view'] }, datasets_admin: ['a'] }, {
      datasets: { a: ['clio_general', 'clio_write', 'dataset_admin'] },
      datasets_ignore_tos: { a: ['clio_general', 'clio_write', 'dataset_admin'] },
    }],
    ['datasets_admin without a v2 grant (TOS pending) in both maps', { ...base, permissions_v2: {}, permissions_v2_ignore_tos: { a: ['view'] }, datasets_admin: ['a'] }, {
      datasets: { a: ['dataset_admin'] },
      datasets_ignore_tos: { a: ['clio_general', 'dataset_admin'] },
    }],
    ['an empty ignore-TOS map falls back to permissions_v2', { ...base, permissions_v2: { a: ['view'] }, permissions_v2_ignore_tos: {} }, {
      datasets: { a: ['clio_general'] },
      datasets_ignore_tos: { a: ['clio_general'] },
    }],
    ['a missing ignore-TOS map falls back too; admin flag', { ...base, admin: true, permissions_v2: { a: ['edit'] } }, {
      global_roles: ['admin'],
      datasets_ignore_tos: { a: ['clio_write'] },
    }],
  ])('%s', (_name, body, expected) => {
    const profile = mapDsgUser(body, undefined)!;
    expect({
      global_roles: profile.user.global_roles,
      datasets: profile.user.datasets,
      datasets_ignore_tos: profile.datasetsIgnoreTos,
    }).toMatchObject({ global_roles: [], ...expected });
  });

  it('copies missing_tos, keeps the e-mail verbatim, maps the picture, and has no org and never disabled', () => {
    const missing = [{ dataset_id: 3, dataset_name: 'a', tos_id: 9, tos_name: 'T', service: 'clio' }];
    const profile = mapDsgUser({ ...base, groups: ['g', 'g', 'h'], missing_tos: missing }, undefined)!;
    expect(profile).toEqual({
      user: { email: 'Someone@Example.org', name: 'Some One', org: null, disabled: false, global_roles: [], datasets: {}, groups: ['g', 'h'] },
      picture: 'https://pic',
      datasetsIgnoreTos: {},
      missingTos: missing,
    });
    expect(mapDsgUser({ email: 'x@y.org' }, undefined)).toMatchObject({ user: { name: '' }, picture: null, missingTos: [] });
  });

  it('makes OWNER an admin, compared case-insensitively (upstream: exactly)', () => {
    expect(mapDsgUser({ email: 'Owner@Test.org' }, OWNER)!.user.global_roles).toEqual(['admin']);
    expect(mapDsgUser({ email: 'owner@test.org', admin: true }, OWNER)!.user.global_roles).toEqual(['admin']);
    expect(mapDsgUser({ email: 'other@test.org' }, OWNER)!.user.global_roles).toEqual([]);
  });

  it('maps a stand-in user end to end, OWNER included', async () => {
    expect((await d.svc.request('GET', '/v2/roles', { as: 'owner' })).json.global_roles).toEqual(['admin']);
    expect((await d.svc.request('GET', '/v2/roles', { as: 'writer' })).json).toMatchObject({
      datasets: { [DS]: ['clio_general', 'clio_write'], [PUBLIC_DS]: ['clio_general', 'clio_write'] },
      picture: '',
    });
  });
});

describe('7-8. the per-key cache', () => {
  it('asks DSG once for two API calls, and twice for two /profile calls', async () => {
    await d.svc.request('GET', '/v2/roles', { as: 'dsGeneral' });
    await d.svc.request('GET', `/v2/datasets/${DS}`, { as: 'dsGeneral' });
    expect(d.dsg.callsTo(USER_CACHE)).toHaveLength(1);
    await d.svc.request('GET', '/profile', { as: 'dsGeneral' });
    await d.svc.request('GET', '/profile', { as: 'dsGeneral' });
    expect(d.dsg.callsTo(USER_CACHE)).toHaveLength(3);
  });

  it('bypasses the cache on {URL_PREFIX}/profile too (upstream compares with the bare /profile)', async () => {
    const prefixed = await startDsgService({ URL_PREFIX: '/clio' });
    try {
      await prefixed.svc.request('GET', '/clio/v2/roles', { as: 'dsGeneral' });
      await prefixed.svc.request('GET', '/clio/profile', { as: 'dsGeneral' });
      await prefixed.svc.request('GET', '/clio/profile', { as: 'dsGeneral' });
      expect(prefixed.dsg.callsTo(USER_CACHE)).toHaveLength(3);
    } finally {
      await prefixed.close();
    }
  });

  it('sees a new grant only after 600 s or refresh-caches (which now clears the DSG caches)', async () => {
    expect((await d.svc.request('GET', `/v2/datasets/${PUBLIC_DS}/`, { as: 'dsGeneral' })).status).toBe(200);
    d.dsg.grant(USERS.dsGeneral.email, 'third', 'view');
    await d.svc.db.collection(COLLECTIONS.datasets).doc('third').set({ description: 'third' });
    await d.svc.ctx.datasets.refresh();
    expect((await d.svc.request('GET', '/v2/datasets/third', { as: 'dsGeneral' })).status).toBe(401);
    expect((await d.svc.request('POST', '/v2/server/refresh-caches', { as: 'admin' })).status).toBe(200);
    expect((await d.svc.request('GET', '/v2/datasets/third', { as: 'dsGeneral' })).status).toBe(200);
  });

  it('drops a key from the cache when a fresh read (/profile) finds DSG refusing it (upstream keeps it)', async () => {
    expect((await d.svc.request('GET', '/v2/roles', { as: 'writer' })).status).toBe(200);
    d.dsg.keys.delete(dsgKey('writer'));
    expect((await d.svc.request('GET', '/v2/roles', { as: 'writer' })).status).toBe(200);
    expect((await d.svc.request('GET', '/profile', { as: 'writer' })).status).toBe(401);
    expect((await d.svc.request('GET', '/v2/roles', { as: 'writer' })).status).toBe(401);
    expect(d.dsg.callsTo(USER_CACHE)).toHaveLength(3);
  });

  it('keeps the key for forwarding but never serialises it', async () => {
    const res = await d.svc.request('GET', '/v2/roles', { as: 'writer' });
    expect(res.json).not.toHaveProperty('token');
    expect(res.text).not.toContain(dsgKey('writer'));
  });
});

describe('9. terms of service gate everything but the dataset list', () => {
  it('lists a dataset whose TOS is pending, but refuses to read it or write to it until the TOS is accepted', async () => {
    const list = await d.svc.request('GET', '/v2/datasets', { as: 'reader' });
    expect(Object.keys(list.json).sort()).toEqual([DS, PUBLIC_DS]);
    expect((await d.svc.request('GET', '/v2/roles', { as: 'reader' })).json).toMatchObject({
      datasets: {},
      datasets_ignore_tos: { [DS]: ['clio_general'] },
      missing_tos: [{ dataset_name: DS, tos_id: DS_TOS.id, tos_name: DS_TOS.name }],
    });
    expect((await d.svc.request('GET', `/v2/datasets/${DS}`, { as: 'reader' })).status).toBe(401);
    expect((await d.svc.request('GET', `/v2/annotations/${DS}`, { as: 'reader' })).status).toBe(401);
    const write = await d.svc.request('POST', `/v2/annotations/${DS}`, { as: 'reader', body: { kind: 'point', pos: [1, 2, 3] } });
    expect(write.status).toBe(401);
    // A Firestore-public dataset bypasses TOS.
    expect((await d.svc.request('POST', `/v2/annotations/${PUBLIC_DS}`, { as: 'reader', body: { kind: 'point', pos: [1, 2, 3] } })).status).toBe(200);
    // Accepted at DSG (and the caches refreshed), the dataset opens.
    d.dsg.acceptTos(USERS.reader.email, DS_TOS.id);
    d.svc.ctx.auth.dsg!.clear();
    expect((await d.svc.request('GET', `/v2/datasets/${DS}`, { as: 'reader' })).status).toBe(200);
    expect((await d.svc.request('POST', `/v2/annotations/${DS}`, { as: 'reader', body: { kind: 'point', pos: [1, 2, 3] } })).status).toBe(200);
  });
});

describe('10. groups come from DSG, asked with the caller\'s key', () => {
  const pos = [10, 20, 30];
  beforeAll(async () => {
    await d.svc.request('POST', `/v2/annotations/${DS}`, { as: 'dsGeneral', body: { kind: 'point', pos } });
    await d.svc.request('POST', `/v2/annotations/${DS}`, { as: 'dsWriter', body: { kind: 'point', pos } });
  });
  const owners = (res: { json: { user: string }[] }) => res.json.map((a) => a.user).sort();

  it('reads the members of the caller\'s groups (names URL-encoded), caching them per group', async () => {
    const res = await d.svc.request('GET', `/v2/annotations/${DS}?groups=${encodeURIComponent('lab,odd group/1')}`, { as: 'dsWriter' });
    expect(res.status).toBe(200);
    expect(owners(res)).toEqual([USERS.dsGeneral.email, USERS.dsWriter.email].sort());
    const calls = d.dsg.calls.filter((call) => call.path.startsWith('/api/v1/groups/'));
    expect(calls.map((call) => [call.path, call.authorization]).sort()).toEqual([
      ['/api/v1/groups/lab/members', bearer('dsWriter')],
      ['/api/v1/groups/odd%20group%2F1/members', bearer('dsWriter')],
    ]);
    await d.svc.request('GET', `/v2/annotations/${DS}?groups=lab`, { as: 'dsGeneral' });
    expect(d.dsg.calls.filter((call) => call.path.startsWith('/api/v1/groups/'))).toHaveLength(2);
  });

  it('skips a group DSG does not list, keeping the others', async () => {
    d.dsg.unlistedGroups.add('lab');
    const res = await d.svc.request('GET', `/v2/annotations/${DS}?groups=${encodeURIComponent('lab,odd group/1')}`, { as: 'dsWriter' });
    expect(res.status).toBe(200);
    expect(owners(res)).toEqual([USERS.dsWriter.email]);
  });

  it('limits non-admins to their own groups', async () => {
    const res = await d.svc.request('GET', `/v2/annotations/${DS}?groups=odd%20group%2F1`, { as: 'dsGeneral' });
    expect(res.status).toBe(400);
    expect(d.dsg.calls.filter((call) => call.path.startsWith('/api/v1/groups/'))).toEqual([]);
  });
});

describe('24. keys never reach the logs', () => {
  it('redacts ?dsg_token= in the access log and logs how the caller was identified', async () => {
    d.svc.logs.length = 0;
    await d.svc.request('GET', `/v2/roles?app=x&dsg_token=${dsgKey('writer')}`);
    await d.svc.request('GET', `/v2/roles?dsg_token=${dsgKey('writer')}x`);
    await d.svc.request('GET', '/v2/roles', { headers: { cookie: `dsg_token=${dsgKey('admin')}` } });
    await d.svc.request('GET', `/v2/roles?dsg%5Ftoken=${dsgKey('general')}&x=dsg_token%3D`);
    const access = d.svc.logs.filter((line) => line.httpRequest);
    expect(access.map((line) => (line.httpRequest as { requestUrl: string }).requestUrl)).toEqual([
      '/v2/roles?app=x&dsg_token=[redacted]',
      '/v2/roles?dsg_token=[redacted]',
      '/v2/roles',
      '/v2/roles?dsg%5Ftoken=[redacted]&x=dsg_token%3D',
    ]);
    expect(access.map((line) => line.message)).toEqual(access.map((line) => `GET ${(line.httpRequest as { requestUrl: string }).requestUrl} ${line.httpRequest && (line.httpRequest as { status: number }).status}`));
    expect(access.map((line) => [line.auth, line.user])).toEqual([
      ['dsg', USERS.writer.email],
      ['dsg', undefined],
      ['dsg', USERS.admin.email],
      ['dsg', USERS.general.email],
    ]);
    const all = JSON.stringify(d.svc.logs);
    for (const identity of ['writer', 'admin', 'general'] as const) expect(all).not.toContain(dsgKey(identity));
  });
});

describe('hybrid mode (AUTH_MODE=hybrid): DSG keys to DSG, FlyEM and Google tokens to the legacy checks', () => {
  let certs: GoogleCertServer;
  let hybrid: DsgService;
  beforeAll(async () => {
    certs = await startGoogleCertServer();
    hybrid = await startDsgService({ AUTH_MODE: 'hybrid', GOOGLE_CERTS_URL: certs.url, TEST_USER: USERS.admin.email });
  });
  afterAll(async () => {
    await hybrid.close();
    await certs.close();
  });

  it('routes each token kind, logs which way it went, never the token', async () => {
    const flyem = issueFlyemToken(FLYEM_SECRET, USERS.reader.email, null);
    const google = certs.sign({ email: 'General@Test.org' });
    hybrid.svc.logs.length = 0;
    const legacy = await hybrid.svc.request('GET', '/v2/roles', { authorization: `Bearer ${flyem}` });
    expect(legacy.json).toMatchObject({ email: USERS.reader.email, datasets: { [DS]: ['clio_read'] }, google_idinfo: null });
    const fromGoogle = await hybrid.svc.request('GET', '/v2/roles', { authorization: `Bearer ${google}` });
    expect(fromGoogle.json).toMatchObject({ email: USERS.general.email, global_roles: ['clio_general'] });
    expect(hybrid.dsg.calls).toEqual([]);
    const viaDsg = await hybrid.svc.request('GET', '/v2/roles', { as: 'reader' });
    expect(viaDsg.json).toMatchObject({ email: USERS.reader.email, datasets: {}, missing_tos: [expect.objectContaining({ tos_id: 1 })] });
    const cookie = await hybrid.svc.request('GET', '/v2/roles', { headers: { cookie: `dsg_token=${dsgKey('writer')}` } });
    expect(cookie.json.email).toBe(USERS.writer.email);
    const bad = await hybrid.svc.request('GET', '/v2/roles', { authorization: 'Bearer a.b.c' });
    expect(bad.status).toBe(401);
    // TEST_USER is ignored in hybrid mode: no token goes to DSG's path and is refused.
    expect((await hybrid.svc.request('GET', '/v2/roles')).status).toBe(401);
    expect(hybrid.dsg.callsTo(USER_CACHE)).toHaveLength(2);
    const access = hybrid.svc.logs.filter((line) => line.httpRequest).map((line) => line.auth);
    expect(access).toEqual(['flyem', 'google', 'dsg', 'dsg', 'legacy', 'dsg']);
    const all = JSON.stringify(hybrid.svc.logs);
    for (const token of [flyem, google, dsgKey('reader'), dsgKey('writer')]) expect(all).not.toContain(token);
  });

  it('keeps rejected legacy tokens out of the logs too (google-auth-library quotes them in its messages)', async () => {
    const google = certs.sign({ email: 'general@test.org' });
    const forged = `${google.slice(0, -4)}AAAA`;
    hybrid.svc.logs.length = 0;
    expect((await hybrid.svc.request('GET', '/v2/roles', { authorization: `Bearer ${forged}` })).status).toBe(401);
    const rejection = hybrid.svc.logs.find((line) => line.message === 'Google ID token rejected');
    expect(rejection?.reason).toMatch(/\[token\]/);
    const all = JSON.stringify(hybrid.svc.logs);
    for (const part of [forged, ...forged.split('.')]) expect(all).not.toContain(part);
  });

  it('answers /profile and /dataset-access only to DSG logins', async () => {
    const flyem = issueFlyemToken(FLYEM_SECRET, USERS.admin.email, null);
    const res = await hybrid.svc.request('GET', '/profile', { authorization: `Bearer ${flyem}` });
    expect(res.status).toBe(401);
    expect(res.json.detail).toMatch(/needs a DatasetGateway login/);
    expect((await hybrid.svc.request('GET', `/dataset-access?dataset=${DS}&redirect=https%3A%2F%2Fa.example`, { authorization: `Bearer ${flyem}` })).status).toBe(401);
    expect((await hybrid.svc.request('GET', '/profile', { as: 'admin' })).json.email).toBe(USERS.admin.email);
  });

  it('keeps user management for legacy admins and sends DSG callers to DSG (501)', async () => {
    const flyem = issueFlyemToken(FLYEM_SECRET, USERS.admin.email, null);
    const legacy = await hybrid.svc.request('GET', '/v2/users', { authorization: `Bearer ${flyem}` });
    expect(legacy.status).toBe(200);
    expect(legacy.json[USERS.reader.email]).toMatchObject({ datasets: { [DS]: ['clio_read'] } });
    const viaDsg = await hybrid.svc.request('GET', '/v2/users', { as: 'admin' });
    expect(viaDsg.status).toBe(501);
    expect(viaDsg.json.detail).toBe(`User management has moved to DatasetGateway (${hybrid.dsg.url})`);
  });

  it('issues FlyEM tokens to legacy callers and DSG keys to DSG callers', async () => {
    const flyem = issueFlyemToken(FLYEM_SECRET, USERS.general.email, null);
    const legacy = await hybrid.svc.request('POST', '/v2/server/token', { authorization: `Bearer ${flyem}` });
    expect(legacy.status).toBe(200);
    expect(legacy.json.split('.')).toHaveLength(3);
    const viaDsg = await hybrid.svc.request('POST', '/v2/server/token', { as: 'general' });
    expect(viaDsg.json).toMatch(/^[0-9a-f]{64}$/);
    expect(hybrid.dsg.callsTo('/api/v1/create_token')).toHaveLength(1);
  });

  it('reads group members from clio_users for legacy callers', async () => {
    await hybrid.svc.db.collection(COLLECTIONS.users).doc(USERS.dsGeneral.email).set({ groups: ['team'] }, { merge: true });
    await hybrid.svc.db.collection(COLLECTIONS.users).doc(USERS.dsWriter.email).set({ groups: ['team'] }, { merge: true });
    await hybrid.svc.ctx.users.refresh();
    await hybrid.svc.request('POST', `/v2/annotations/${DS}`, { authorization: `Bearer ${issueFlyemToken(FLYEM_SECRET, USERS.dsGeneral.email, null)}`, body: { kind: 'point', pos: [1, 1, 1] } });
    const res = await hybrid.svc.request('GET', `/v2/annotations/${DS}?groups=team`, { authorization: `Bearer ${issueFlyemToken(FLYEM_SECRET, USERS.dsWriter.email, null)}` });
    expect(res.json.map((a: { user: string }) => a.user)).toEqual([USERS.dsGeneral.email]);
    expect(hybrid.dsg.calls.filter((call) => call.path.startsWith('/api/v1/groups/'))).toEqual([]);
  });
});

describe('legacy mode is unchanged', () => {
  let legacy: TestService;
  beforeAll(async () => {
    legacy = await startTestService();
    await seedStandardData(legacy.db);
  });
  afterAll(async () => {
    await legacy.close();
  });

  it('ignores dsg_token cookies and queries', async () => {
    const res = await legacy.request('GET', `/v2/roles?dsg_token=${dsgKey('admin')}`, { headers: { cookie: `dsg_token=${dsgKey('admin')}` } });
    expect(res.status).toBe(401);
    const access = legacy.logs.filter((line) => line.httpRequest).at(-1)!;
    expect((access.httpRequest as { requestUrl: string }).requestUrl).toBe('/v2/roles?dsg_token=[redacted]');
  });
});
