/**
 * The users family in DatasetGateway mode (reference/datasetgateway.md section 5, items 11, 13,
 * 16-22): `/users` moved to DSG, `/roles` in DSG's shape, and the browser routes `/login`,
 * `/profile`, `/logout` and `/dataset-access`, which legacy mode does not have.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDsgService, type DsgService } from '../../shared/testing/dsg-service';
import { DS_TOS, dsgKey } from '../../shared/testing/dsg-identities';
import { databaseState, DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, statusByIdentity, type TestService, USERS } from '../../shared/testing/harness';

let d: DsgService;
beforeAll(async () => {
  d = await startDsgService();
});
afterAll(async () => {
  await d.close();
});
afterEach(() => {
  d.dsg.reset();
  d.svc.ctx.auth.dsg!.clear();
});

const cookieOf = (identity: Identity) => ({ cookie: `dsg_token=${dsgKey(identity)}` });

describe('11. /users in DSG mode: 501 after authentication, for everyone', () => {
  it.each([
    ['GET', '/v2/users', undefined],
    ['GET', '/test/users/', undefined],
    ['GET', '/users', undefined],
    ['POST', '/v2/users/', { [USERS.unknown.email]: { global_roles: ['admin'] } }],
    ['DELETE', '/v2/users', [USERS.reader.email]],
  ] as const)('%s %s', async (method, path, body) => {
    const before = await databaseState(d.svc);
    expect(await statusByIdentity(d.svc, method, path, { body })).toEqual({
      noToken: 401,
      badToken: 401,
      reader: 501,
      dsGeneral: 501,
      dsWriter: 501,
      general: 501,
      writer: 501,
      admin: 501,
      disabled: 401,
      unknown: 501,
      owner: 501,
    });
    expect(await databaseState(d.svc)).toEqual(before);
    const res = await d.svc.request(method, path, { as: 'admin', body });
    expect(res.json).toMatchObject({ detail: `User management has moved to DatasetGateway (${d.dsg.url})` });
  });

  it('is 502 when DSG cannot be asked', async () => {
    const slow = await startDsgService({ DSG_TIMEOUT_MS: '200' });
    try {
      slow.dsg.fault = 'hang';
      expect((await slow.svc.request('GET', '/v2/users', { as: 'admin' })).status).toBe(502);
    } finally {
      await slow.close();
    }
  });
});

describe('13. GET /v2/roles in DSG mode', () => {
  it("answers upstream HEAD's User model: exact keys, no google_idinfo, no token", async () => {
    const res = await d.svc.request('GET', '/v2/roles', { as: 'dsWriter' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      email: USERS.dsWriter.email,
      name: 'DS Writer',
      org: null,
      picture: '',
      disabled: false,
      global_roles: [],
      datasets: { [DS]: ['clio_general', 'clio_write'] },
      datasets_ignore_tos: { [DS]: ['clio_general', 'clio_write'] },
      missing_tos: [],
      groups: ['lab', 'odd group/1'],
    });
  });
});

describe('16. GET /login', () => {
  const locationOf = async (query: string, svc = d.svc) => {
    const res = await svc.request('GET', `/login${query}`);
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!);
  };

  it("302s to DSG's authorize page with redirect, service (default clio) and dataset, form-encoded in that order", async () => {
    const target = 'https://clio.example/app?x=1 2&y=ä';
    const plain = await locationOf(`?redirect=${encodeURIComponent(target)}`);
    expect(`${plain.origin}${plain.pathname}`).toBe(`${d.dsg.url}/api/v1/authorize`);
    expect([...plain.searchParams]).toEqual([['redirect', target], ['service', 'clio']]);
    expect(plain.search).toBe(`?redirect=${new URLSearchParams({ r: target }).toString().slice(2)}&service=clio`);
    const full = await locationOf(`?dataset=${DS}&service=neuprint&redirect=${encodeURIComponent(target)}`);
    expect([...full.searchParams]).toEqual([['redirect', target], ['service', 'neuprint'], ['dataset', DS]]);
    const noService = await locationOf(`?redirect=${encodeURIComponent(target)}&service=`);
    expect([...noService.searchParams]).toEqual([['redirect', target]]);
    expect(d.dsg.calls).toEqual([]);
  });

  it('needs a redirect (422)', async () => {
    const res = await d.svc.request('GET', '/login');
    expect(res.status).toBe(422);
    expect(res.json.detail[0]).toMatchObject({ loc: ['query', 'redirect'], msg: 'field required' });
  });

  it('refuses redirects off the allowed origins (upstream: an open redirect)', async () => {
    const listed = await startDsgService({ ALLOWED_ORIGINS: 'https://clio.example,https://other.example' });
    try {
      expect((await locationOf('?redirect=https%3A%2F%2Fother.example%2Fa', listed.svc)).searchParams.get('redirect')).toBe('https://other.example/a');
      for (const bad of ['https://evil.example/', 'javascript:alert(1)', '/relative', '//evil.example/']) {
        const res = await listed.svc.request('GET', `/login?redirect=${encodeURIComponent(bad)}`);
        expect(res.status, bad).toBe(422);
        expect(res.json.detail[0].loc).toEqual(['query', 'redirect']);
      }
    } finally {
      await listed.close();
    }
  });

  it('still redirects while DSG is down (2.11)', async () => {
    d.dsg.fault = 'hang';
    expect((await d.svc.request('GET', '/login?redirect=https%3A%2F%2Fa.example')).status).toBe(302);
  });
});

describe('17. GET /profile', () => {
  it('answers the nine keys from a fresh DSG read, with the cookie the web app sends', async () => {
    const res = await d.svc.request('GET', '/profile', { headers: cookieOf('reader') });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      email: USERS.reader.email,
      name: 'Reader',
      picture: '',
      global_roles: [],
      datasets: {},
      datasets_ignore_tos: { [DS]: ['clio_general'] },
      missing_tos: [{ dataset_id: DS, dataset_name: DS, tos_id: DS_TOS.id, tos_name: DS_TOS.name }],
      groups: [],
      dsg_url: d.dsg.url,
    });
    expect(d.dsg.callsTo('/api/v1/user/cache').map((call) => call.authorization)).toEqual([`Bearer ${dsgKey('reader')}`]);
  });

  it('is 401 without a login, and 502 while DSG is down even for a cached key', async () => {
    expect((await d.svc.request('GET', '/profile')).status).toBe(401);
    expect((await d.svc.request('GET', '/v2/roles', { headers: cookieOf('writer') })).status).toBe(200);
    d.dsg.fault = { status: 500, body: 'x' };
    expect((await d.svc.request('GET', '/profile', { headers: cookieOf('writer') })).status).toBe(401);
    const hanging = await startDsgService({ DSG_TIMEOUT_MS: '300' });
    try {
      expect((await hanging.svc.request('GET', '/v2/roles', { headers: cookieOf('writer') })).status).toBe(200);
      hanging.dsg.fault = 'hang';
      const res = await hanging.svc.request('GET', '/profile', { headers: cookieOf('writer') });
      expect(res.status).toBe(502);
      expect(res.json.detail).toBe('Auth service unavailable');
      // The cached key still works for the API.
      expect((await hanging.svc.request('GET', '/v2/roles', { headers: cookieOf('writer') })).status).toBe(200);
    } finally {
      await hanging.close();
    }
  });
});

describe('18. GET and POST /logout', () => {
  it.each(['GET', 'POST'])('%s revokes the key at DSG and in our cache, deletes the cookie on .janelia.org and redirects', async (method) => {
    const key = dsgKey('writer');
    expect((await d.svc.request('GET', '/v2/roles', { headers: cookieOf('writer') })).status).toBe(200);
    const res = await d.svc.request(method, '/logout?redirect=%2Fafter', { headers: cookieOf('writer') });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/after');
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie.split('; ').sort()).toEqual(['Domain=.janelia.org', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'Max-Age=0', 'Path=/', 'SameSite=Lax', 'dsg_token='].sort());
    expect(d.dsg.callsTo('/api/v1/logout').map((call) => [call.method, call.authorization, call.cookie])).toEqual([['GET', `Bearer ${key}`, `dsg_token=${key}`]]);
    expect(d.dsg.keys.has(key)).toBe(false);
    // Evicted here too: the next use asks DSG, which no longer knows the key.
    expect((await d.svc.request('GET', '/v2/roles', { headers: cookieOf('writer') })).status).toBe(401);
    expect(d.dsg.callsTo('/api/v1/user/cache')).toHaveLength(2);
  });

  it('redirects to / by default, without a cookie asks DSG nothing, and works while DSG is down', async () => {
    const res = await d.svc.request('GET', '/logout');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/');
    expect(d.dsg.calls).toEqual([]);
    const down = await startDsgService({ DSG_TIMEOUT_MS: '200' });
    try {
      down.dsg.fault = 'hang';
      const res = await down.svc.request('GET', '/logout', { headers: cookieOf('admin') });
      expect(res.status).toBe(302);
      expect(res.headers.get('set-cookie')).toMatch(/^dsg_token=;/);
      expect(down.svc.logs.some((line) => line.message === 'DatasetGateway logout failed; the cookie is deleted anyway')).toBe(true);
      expect(JSON.stringify(down.svc.logs)).not.toContain(dsgKey('admin'));
    } finally {
      await down.close();
    }
  });

  it('uses DSG_COOKIE_DOMAIN (empty: a host-only cookie) and refuses foreign redirects', async () => {
    const local = await startDsgService({ DSG_COOKIE_DOMAIN: '', ALLOWED_ORIGINS: 'https://clio.example' });
    try {
      const res = await local.svc.request('POST', '/logout?redirect=https%3A%2F%2Fclio.example%2F');
      expect(res.headers.get('location')).toBe('https://clio.example/');
      expect(res.headers.get('set-cookie')).not.toMatch(/Domain/i);
      expect((await local.svc.request('GET', '/logout?redirect=https%3A%2F%2Fevil.example%2F')).status).toBe(422);
      expect((await local.svc.request('GET', '/logout?redirect=%2F%2Fevil.example')).status).toBe(422);
    } finally {
      await local.close();
    }
    const custom = await startDsgService({ DSG_COOKIE_DOMAIN: '.example.org' });
    try {
      expect((await custom.svc.request('GET', '/logout')).headers.get('set-cookie')).toContain('Domain=.example.org');
    } finally {
      await custom.close();
    }
  });
});

describe('21. GET /dataset-access', () => {
  it('says whether the caller may read, and whether a clio TOS is in the way, from a fresh read', async () => {
    const redirect = 'https://clio.example/ds';
    const gated = await d.svc.request('GET', `/dataset-access?dataset=${DS}&redirect=${encodeURIComponent(redirect)}`, { headers: cookieOf('reader') });
    expect(gated.status).toBe(200);
    expect(gated.json).toEqual({
      access: false,
      tos_required: true,
      tos_url: `${d.dsg.url}/web/tos/service-check/?service=clio&dataset=${DS}&next=${encodeURIComponent(redirect)}`,
    });
    const open = await d.svc.request('GET', `/dataset-access?dataset=${DS}&redirect=${encodeURIComponent(redirect)}`, { headers: cookieOf('dsGeneral') });
    expect(open.json).toMatchObject({ access: true, tos_required: false });
    const publicDs = await d.svc.request('GET', `/dataset-access?dataset=${PUBLIC_DS}&redirect=${encodeURIComponent(redirect)}`, { headers: cookieOf('unknown') });
    expect(publicDs.json).toMatchObject({ access: true, tos_required: false });
    expect(d.dsg.callsTo('/api/v1/user/cache')).toHaveLength(3);
    await d.svc.request('GET', `/dataset-access?dataset=${DS}&redirect=${encodeURIComponent(redirect)}`, { headers: cookieOf('reader') });
    expect(d.dsg.callsTo('/api/v1/user/cache')).toHaveLength(4);
  });

  it('ignores TOS of other services, and needs a login, a dataset and a redirect', async () => {
    const other = await startDsgService({}, {
      tos: [{ id: 5, name: 'neuPrint terms', dataset: DS, service: 'neuprint' }],
      users: { [USERS.dsGeneral.email]: { keys: ['k'], grants: { [DS]: 'view' } } },
    });
    try {
      const res = await other.svc.request('GET', `/dataset-access?dataset=${DS}&redirect=https%3A%2F%2Fa.example`, { authorization: 'Bearer k' });
      expect(res.json).toMatchObject({ access: true, tos_required: false });
    } finally {
      await other.close();
    }
    expect((await d.svc.request('GET', `/dataset-access?dataset=${DS}&redirect=https%3A%2F%2Fa.example`)).status).toBe(401);
    const missing = await d.svc.request('GET', '/dataset-access', { headers: cookieOf('reader') });
    expect(missing.status).toBe(422);
    expect(missing.json.detail.map((issue: { loc: string[] }) => issue.loc)).toEqual([['query', 'dataset'], ['query', 'redirect']]);
  });
});

describe('19-20, 22. the browser routes in legacy mode, OPTIONS and CORS', () => {
  let legacy: TestService;
  beforeAll(async () => {
    legacy = await startTestService({ TEST_USER: USERS.admin.email });
    await seedStandardData(legacy.db);
  });
  afterAll(async () => {
    await legacy.close();
  });

  it.each([
    ['GET', '/profile'],
    ['GET', '/login?redirect=https%3A%2F%2Fa.example'],
    ['GET', '/logout'],
    ['POST', '/logout'],
    ['GET', '/dataset-access?dataset=private-ds&redirect=x'],
  ])('legacy mode: %s %s is 404 (so the dual-mode web app shows no DSG login)', async (method, path) => {
    const res = await legacy.request(method, path, { as: 'admin' });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ detail: 'Not Found' });
  });

  it('answers OPTIONS on the browser routes in both modes with the CORS headers', async () => {
    for (const svc of [legacy, d.svc]) {
      for (const path of ['/profile', '/login', '/logout', '/dataset-access']) {
        const res = await svc.request('OPTIONS', path, { headers: { origin: 'https://clio.example', 'access-control-request-method': 'GET' } });
        expect(res.status).toBe(200);
        expect(res.headers.get('access-control-allow-origin')).toBe('https://clio.example');
        expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      }
    }
  });

  it('echoes the Origin with credentials on DSG-mode answers, so cookies can be sent', async () => {
    const res = await d.svc.request('GET', '/profile', { headers: { ...cookieOf('admin'), origin: 'https://clio.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://clio.example');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });
});
