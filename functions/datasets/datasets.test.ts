import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, type TestService } from '../../shared/testing/harness';
import { compareTags } from './tags';
import { substituteTemplates } from './templates';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(() => svc.close());
beforeEach(async () => {
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.datasets));
  await seedStandardData(svc.db);
  await svc.ctx.datasets.refresh();
});

const stored = async (id: string) => (await svc.db.collection(COLLECTIONS.datasets).doc(id).get()).data();

describe('GET /v2/datasets', () => {
  const visibleTo: [Identity, string[]][] = [
    ['reader', [DS, PUBLIC_DS]],
    ['dsGeneral', [DS, PUBLIC_DS]],
    ['dsWriter', [DS, PUBLIC_DS]],
    ['general', [DS, PUBLIC_DS]],
    ['writer', [DS, PUBLIC_DS]],
    ['admin', [PUBLIC_DS]],
    ['owner', [PUBLIC_DS]],
    ['unknown', [PUBLIC_DS]],
  ];
  it.each(visibleTo)('shows %s the datasets it can read', async (as, ids) => {
    const res = await svc.request('GET', '/v2/datasets', { as });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual([...ids].sort());
  });

  it('refuses a disabled user and a missing token', async () => {
    expect((await svc.request('GET', '/v2/datasets', { as: 'disabled' })).status).toBe(403);
    const res = await svc.request('GET', '/v2/datasets');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('returns every stored field and substitutes {tag} and {uuid} unless templates=true', async () => {
    await svc.db.collection(COLLECTIONS.datasets).doc('tmpl').set({
      description: 'templated',
      tag: 'v0.3.33',
      uuid: 'abc',
      public: true,
      transfer: ['model'],
      layers: [{ location: 'gs://b/{tag}/seg', '{uuid}-key': ['{uuid}'] }],
    });
    const res = await svc.request('GET', '/v2/datasets', { as: 'unknown' });
    expect(res.json.tmpl).toEqual({
      description: 'templated',
      tag: 'v0.3.33',
      uuid: 'abc',
      public: true,
      transfer: ['model'],
      layers: [{ location: 'gs://b/v0.3.33/seg', 'abc-key': ['abc'] }],
    });
    const raw = await svc.request('GET', '/v2/datasets?templates=true', { as: 'unknown' });
    expect(raw.json.tmpl.layers[0].location).toBe('gs://b/{tag}/seg');
  });

  it('substitutes inside a renamed key and inside its value too (the original left that value as stored)', async () => {
    await svc.db.collection(COLLECTIONS.datasets).doc(DS).set({
      description: 'keys',
      tag: 'v1.2',
      uuid: 'abc',
      '{uuid}-seg': 'gs://b/{tag}',
      nested: { '{tag}': { '{uuid}': ['{tag}/{uuid}'] } },
    });
    const expected = { description: 'keys', tag: 'v1.2', uuid: 'abc', 'abc-seg': 'gs://b/v1.2', nested: { 'v1.2': { abc: ['v1.2/abc'] } } };
    expect((await svc.request('GET', `/v2/datasets/${DS}`, { as: 'reader' })).json).toEqual(expected);
    expect((await svc.request('GET', '/v2/datasets', { as: 'reader' })).json[DS]).toEqual(expected);
    // templates=true answers the document as stored.
    expect((await svc.request('GET', `/v2/datasets/${DS}?templates=true`, { as: 'reader' })).json['{uuid}-seg']).toBe('gs://b/{tag}');
  });

  it('answers on every alias, with and without a trailing slash, ignoring unknown parameters', async () => {
    for (const path of ['/v2/datasets/', '/test/datasets', '/datasets', '/datasets/', '/clio_toplevel/datasets', '/v2/datasets?app=clio-py']) {
      const res = await svc.request('GET', path, { as: 'general' });
      expect(res.status, path).toBe(200);
      expect(Object.keys(res.json).sort(), path).toEqual([DS, PUBLIC_DS].sort());
    }
  });

  it('rejects a malformed templates flag with 422', async () => {
    const res = await svc.request('GET', '/v2/datasets?templates=maybe', { as: 'general' });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(['query', 'templates']);
  });
});

describe('GET /v2/datasets/{dataset}', () => {
  it('returns a readable dataset with templates substituted', async () => {
    await svc.db.collection(COLLECTIONS.datasets).doc(DS).set({ description: 'x', tag: 'v2', location: 'gs://b/{tag}' });
    const res = await svc.request('GET', `/v2/datasets/${DS}`, { as: 'reader' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ description: 'x', tag: 'v2', location: 'gs://b/v2' });
    expect((await svc.request('GET', `/v2/datasets/${DS}?templates=1`, { as: 'reader' })).json.location).toBe('gs://b/{tag}');
  });

  it('lets anyone signed in read a public dataset', async () => {
    for (const as of ['unknown', 'admin', 'reader'] as const) {
      expect((await svc.request('GET', `/v2/datasets/${PUBLIC_DS}`, { as })).status).toBe(200);
    }
  });

  it('refuses callers without a reading role (401) and says 404 for a missing dataset', async () => {
    for (const as of ['unknown', 'admin', 'owner'] as const) {
      const res = await svc.request('GET', `/v2/datasets/${DS}`, { as });
      expect(res.status, as).toBe(401);
      expect(res.json.detail).toMatch(/permission/);
    }
    const missing = await svc.request('GET', '/v2/datasets/nope', { as: 'general' });
    expect(missing.status).toBe(404);
    expect(missing.json.detail).toMatch(/not found/);
  });
});

describe('POST /v2/datasets', () => {
  it('creates new datasets and updates existing ones, for admins and OWNER', async () => {
    const res = await svc.request('POST', '/v2/datasets', {
      as: 'admin',
      body: { mb20: { description: '4nm MB', location: 'gs://' }, [DS]: { description: 'updated', tag: 'v1.10' } },
    });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    expect(await stored('mb20')).toEqual({ description: '4nm MB', location: 'gs://' });
    expect(await stored(DS)).toEqual({ description: 'updated', tag: 'v1.10' });
    const byOwner = await svc.request('POST', '/v2/datasets', { as: 'owner', body: { other: { description: 'o' } } });
    expect(byOwner.status).toBe(200);
    expect(await stored('other')).toEqual({ description: 'o' });
  });

  it('makes a new public dataset visible at once on this instance', async () => {
    await svc.request('POST', '/v2/datasets', { as: 'admin', body: { fresh: { description: 'f', public: true } } });
    const res = await svc.request('GET', '/v2/datasets/fresh', { as: 'unknown' });
    expect(res.status).toBe(200);
  });

  it.each(['reader', 'general', 'writer', 'dsWriter', 'unknown'] as const)('refuses %s with 401 and writes nothing', async (as) => {
    const res = await svc.request('POST', '/v2/datasets', { as, body: { mb20: { description: 'x' } } });
    expect(res.status).toBe(401);
    expect(await stored('mb20')).toBeUndefined();
  });

  it('compares tags numerically and writes nothing when any entry would go back', async () => {
    const older = await svc.request('POST', '/v2/datasets', {
      as: 'admin',
      body: { brand: { description: 'new' }, [DS]: { description: 'older', tag: 'v1.1' } },
    });
    expect(older.status).toBe(400);
    expect(older.json.detail).toMatch(/v1\.2/);
    expect(await stored('brand')).toBeUndefined();
    expect((await stored(DS))?.description).toBe('private test dataset');

    const noTag = await svc.request('POST', '/v2/datasets', { as: 'admin', body: { [DS]: { description: 'no tag' } } });
    expect(noTag.status).toBe(400);
    // v1.10 is newer than v1.2 although it sorts before it as a string.
    expect((await svc.request('POST', '/v2/datasets', { as: 'admin', body: { [DS]: { description: 'n', tag: 'v1.10' } } })).status).toBe(200);
    expect((await svc.request('POST', '/v2/datasets', { as: 'admin', body: { [DS]: { description: 'n', tag: 'v1.9' } } })).status).toBe(400);
  });

  it.each([
    ['a missing description', { mb20: { title: 'x' } }, ['body', 'mb20', 'description']],
    ['a wrong-typed field', { mb20: { description: 'x', public: 'yes' } }, ['body', 'mb20', 'public']],
    ['an array body', [{ description: 'x' }], ['body']],
    ['a dataset that is not an object', { mb20: 'x' }, ['body', 'mb20']],
    ['an invalid id', { 'a/b': { description: 'x' } }, ['body', 'a/b']],
  ])('rejects %s with 422 and writes nothing', async (_name, body, loc) => {
    const res = await svc.request('POST', '/v2/datasets', { as: 'admin', body });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(loc);
    expect(await stored('mb20')).toBeUndefined();
  });

  it('reads JSON bodies sent without Content-Type or as text/plain, and rejects malformed JSON', async () => {
    for (const contentType of [null, 'text/plain;charset=UTF-8']) {
      const res = await svc.request('POST', '/v2/datasets', { as: 'admin', rawBody: '{"ct": {"description": "d"}}', contentType });
      expect(res.status, String(contentType)).toBe(200);
    }
    expect(await stored('ct')).toEqual({ description: 'd' });
    const bad = await svc.request('POST', '/v2/datasets', { as: 'admin', rawBody: '{"ct2": ', contentType: 'application/json' });
    expect(bad.status).toBe(422);
    expect(bad.json.detail[0].type).toBe('value_error.jsondecode');
    const empty = await svc.request('POST', '/v2/datasets', { as: 'admin' });
    expect(empty.status).toBe(422);
    expect(empty.json.detail[0]).toMatchObject({ loc: ['body'], type: 'value_error.missing' });
  });
});

describe('DELETE /v2/datasets', () => {
  it('deletes the listed datasets (missing ones are fine) and forgets them', async () => {
    const res = await svc.request('DELETE', '/v2/datasets', { as: 'admin', body: [PUBLIC_DS, 'never-existed'] });
    expect(res.status).toBe(200);
    expect(await stored(PUBLIC_DS)).toBeUndefined();
    expect((await svc.request('GET', `/v2/datasets/${PUBLIC_DS}`, { as: 'unknown' })).status).toBe(401);
  });

  it.each(['general', 'writer', 'reader'] as const)('refuses %s and deletes nothing', async (as) => {
    expect((await svc.request('DELETE', '/v2/datasets', { as, body: [DS] })).status).toBe(401);
    expect(await stored(DS)).toBeDefined();
  });

  it('rejects a body that is not a list of ids', async () => {
    const res = await svc.request('DELETE', '/v2/datasets', { as: 'admin', body: { ids: [DS] } });
    expect(res.status).toBe(422);
    expect(await stored(DS)).toBeDefined();
  });
});

describe('dataset helpers', () => {
  it('orders tags numerically', () => {
    expect(compareTags('v0.10', 'v0.9')).toBe(1);
    expect(compareTags('v1.2.3', 'v1.2.3')).toBe(0);
    expect(compareTags('v1.2', 'v1.2.1')).toBe(-1);
    expect(compareTags('beta', 'alpha')).toBe(1);
  });

  it('leaves documents without tag or uuid unchanged', () => {
    const doc = { description: '{tag}' };
    expect(substituteTemplates(doc)).toBe(doc);
  });
});
