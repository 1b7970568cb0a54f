/**
 * The server family in DatasetGateway mode (reference/datasetgateway.md section 5, items 12 and
 * 15): `POST /v2/server/token` mints through DSG, and `refresh-caches` also empties the DSG caches.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDsgService, type DsgService } from '../../shared/testing/dsg-service';
import { dsgKey } from '../../shared/testing/dsg-identities';
import { USERS } from '../../shared/testing/harness';

const MINT = '/api/v1/create_token';

let d: DsgService;
beforeAll(async () => {
  d = await startDsgService({ FLYEM_SECRET: 'ignored-in-dsg-mode' });
});
afterAll(async () => {
  await d.close();
});
afterEach(() => {
  d.dsg.reset();
  d.svc.ctx.auth.dsg!.clear();
});

describe('12. POST /v2/server/token in DSG mode', () => {
  it("mints a new DSG key with the caller's key, DSG's JSON string passed on verbatim, on every call", async () => {
    const first = await d.svc.request('POST', '/v2/server/token', { as: 'dsGeneral' });
    expect(first.status).toBe(200);
    expect(first.text).toMatch(/^"[0-9a-f]{64}"$/);
    const second = await d.svc.request('POST', '/v2/server/token/', { as: 'dsGeneral' });
    expect(second.json).not.toBe(first.json);
    expect(d.dsg.callsTo(MINT).map((call) => [call.method, call.authorization])).toEqual([
      ['POST', `Bearer ${dsgKey('dsGeneral')}`],
      ['POST', `Bearer ${dsgKey('dsGeneral')}`],
    ]);
    // The new key is a working key.
    expect((await d.svc.request('GET', '/v2/roles', { authorization: `Bearer ${first.json}` })).json.email).toBe(USERS.dsGeneral.email);
  });

  it('forwards the key from the cookie or the query, and a lower-case scheme as a proper Bearer (upstream: "Bearer bearer …")', async () => {
    await d.svc.request('POST', '/v2/server/token', { headers: { cookie: `dsg_token=${dsgKey('writer')}` } });
    await d.svc.request('POST', `/v2/server/token?dsg_token=${dsgKey('admin')}`);
    const lower = await d.svc.request('POST', '/v2/server/token', { authorization: `bearer ${dsgKey('owner')}` });
    expect(lower.status).toBe(200);
    expect(d.dsg.callsTo(MINT).map((call) => call.authorization)).toEqual([`Bearer ${dsgKey('writer')}`, `Bearer ${dsgKey('admin')}`, `Bearer ${dsgKey('owner')}`]);
  });

  it("passes DSG's refusal on with its status and text, and authenticates first", async () => {
    expect((await d.svc.request('POST', '/v2/server/token')).status).toBe(401);
    expect(d.dsg.calls).toEqual([]);
    // Authenticated from the cache, then refused by DSG's minting call.
    await d.svc.request('GET', '/v2/roles', { as: 'writer' });
    d.dsg.fault = { status: 403, body: '{"detail":"Service accounts cannot create tokens."}' };
    const refused = await d.svc.request('POST', '/v2/server/token', { as: 'writer' });
    expect(refused.status).toBe(403);
    expect(refused.json).toEqual({ detail: '{"detail":"Service accounts cannot create tokens."}' });
  });

  it('answers 502 when DSG cannot be reached to mint, without the error text or the key', async () => {
    await d.svc.request('GET', '/v2/roles', { as: 'writer' });
    // The key is cached, so only the minting call meets the dropped connection.
    d.dsg.fault = 'drop';
    const res = await d.svc.request('POST', '/v2/server/token', { as: 'writer' });
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ detail: 'DatasetGateway unavailable' });
    expect(d.dsg.callsTo(MINT)).toHaveLength(1);
    expect(d.svc.logs.some((line) => line.message === 'DatasetGateway token call failed')).toBe(true);
    expect(JSON.stringify(d.svc.logs)).not.toContain(dsgKey('writer'));
  });

  it('with DSG_TOKEN_MODE=long_lived returns the same stable key each time', async () => {
    const stable = await startDsgService({ DSG_TOKEN_MODE: 'long_lived' });
    try {
      const first = await stable.svc.request('POST', '/v2/server/token', { as: 'general' });
      const second = await stable.svc.request('POST', '/v2/server/token', { as: 'general' });
      expect(first.status).toBe(200);
      expect(first.json).toEqual({ token: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(second.json).toEqual(first.json);
      expect(stable.dsg.callsTo('/api/v1/long_lived_token').map((call) => [call.method, call.authorization])).toEqual([
        ['GET', `Bearer ${dsgKey('general')}`],
        ['GET', `Bearer ${dsgKey('general')}`],
      ]);
      expect(stable.dsg.callsTo(MINT)).toEqual([]);
    } finally {
      await stable.close();
    }
  });
});

describe('15. POST /v2/server/refresh-caches in DSG mode', () => {
  it('is for admins, and empties the key and group caches so DSG is asked again', async () => {
    await d.svc.request('GET', '/v2/roles', { as: 'dsWriter' });
    await d.svc.request('GET', '/v2/annotations/private-ds?groups=lab', { as: 'dsWriter' });
    expect((await d.svc.request('POST', '/v2/server/refresh-caches', { as: 'dsWriter' })).status).toBe(401);
    expect((await d.svc.request('POST', '/v2/server/refresh-caches', { as: 'owner' })).status).toBe(200);
    await d.svc.request('GET', '/v2/annotations/private-ds?groups=lab', { as: 'dsWriter' });
    expect(d.dsg.callsTo('/api/v1/user/cache').map((call) => call.authorization)).toEqual([
      `Bearer ${dsgKey('dsWriter')}`,
      `Bearer ${dsgKey('owner')}`,
      `Bearer ${dsgKey('dsWriter')}`,
    ]);
    expect(d.dsg.callsTo('/api/v1/groups/lab/members')).toHaveLength(2);
  });

  it('makes a key revoked at DSG stop working at once', async () => {
    expect((await d.svc.request('GET', '/v2/roles', { as: 'general' })).status).toBe(200);
    d.dsg.keys.delete(dsgKey('general'));
    expect((await d.svc.request('GET', '/v2/roles', { as: 'general' })).status).toBe(200);
    await d.svc.request('POST', '/v2/server/refresh-caches', { as: 'admin' });
    expect((await d.svc.request('GET', '/v2/roles', { as: 'general' })).status).toBe(401);
  });
});
