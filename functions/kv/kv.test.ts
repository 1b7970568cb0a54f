import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { toPlain } from '../../shared/firestore';
import { type Identity, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';
import { documentSize, MAX_DOCUMENT_BYTES } from '../../shared/stored-data';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  await seedStandardData(svc.db);
});
afterAll(() => svc.close());
beforeEach(async () => {
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.keyValues));
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.pullRequests));
});

const emailOf = (as: Identity) => USERS[as].email;
const kvDoc = (email: string, scope: string, key: string) =>
  svc.db.collection(COLLECTIONS.keyValues).doc(email).collection(scope).doc(key);
const prDoc = (email: string, scope: string, key: string) =>
  svc.db.collection(COLLECTIONS.pullRequests).doc(email).collection(scope).doc(key);
const storedKv = async (as: Identity, scope: string, key: string) => (await kvDoc(emailOf(as), scope, key).get()).data();
const post = (as: Identity, scope: string, key: string, body: unknown) => svc.request('POST', `/v2/kv/${scope}/${key}`, { as, body });

const SIGNED_IN: Identity[] = ['reader', 'dsGeneral', 'dsWriter', 'general', 'writer', 'admin', 'unknown', 'owner'];

describe('POST and GET /v2/kv/{scope}/{key}', () => {
  it('round-trips nested objects; the server sets _timestamp and shows it only with timestamp=true', async () => {
    const value = {
      name: 'merge state',
      nested: { list: [1, 'two', { three: 3.5, deeper: { four: [true, false, null] } }], empty: {}, none: null },
      emptyList: [],
      unicode: 'ßé😀',
      negative: -7,
      fraction: 0.125,
    };
    const before = Date.now() / 1000;
    const res = await post('writer', 'merges-ds', 'mainToOthers', { ...value, _timestamp: 5 });
    const after = Date.now() / 1000;
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();

    const read = await svc.request('GET', '/v2/kv/merges-ds/mainToOthers', { as: 'writer' });
    expect(read.status).toBe(200);
    expect(read.json).toEqual(value);

    const withTime = await svc.request('GET', '/v2/kv/merges-ds/mainToOthers?timestamp=true', { as: 'writer' });
    expect(withTime.json._timestamp).toBeGreaterThanOrEqual(before);
    expect(withTime.json._timestamp).toBeLessThanOrEqual(after);
    const stored = await storedKv('writer', 'merges-ds', 'mainToOthers');
    // Firestore holds what was posted (its integers read back as bigints) plus the server's _timestamp.
    expect(toPlain(stored)).toEqual({ ...value, _timestamp: withTime.json._timestamp });
  });

  it('keeps uint64 body ids beyond 2^53 exact, as keys and values, through Firestore and back', async () => {
    const raw =
      '{"mainToOthers":{"18014398509481985":[18014398509481985,9223372036854775807,-9223372036854775808,42]},"one":18014398509481985}';
    const res = await svc.request('POST', '/v2/kv/merges-ds/mainToOthers', { as: 'writer', rawBody: raw });
    expect(res.status).toBe(200);
    const stored = await storedKv('writer', 'merges-ds', 'mainToOthers');
    expect(stored?.one).toBe(18014398509481985n);
    expect(stored?.mainToOthers['18014398509481985']).toEqual([18014398509481985n, 9223372036854775807n, -9223372036854775808n, 42n]);

    const read = await svc.request('GET', '/v2/kv/merges-ds/mainToOthers', { as: 'writer' });
    expect(read.text).toBe(raw);
    const all = await svc.request('GET', '/v2/kv/merges-ds', { as: 'writer' });
    expect(all.text).toBe(`{"mainToOthers":${raw}}`);
  });

  it('refuses integers that Firestore cannot hold exactly (beyond 64 bits) with 422 and writes nothing', async () => {
    const res = await svc.request('POST', '/v2/kv/s/k', { as: 'writer', rawBody: '{"ids":{"a":[1,18446744073709551615]}}' });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].msg).toMatch(/2\^63/);
    expect(await storedKv('writer', 's', 'k')).toBeUndefined();
  });

  it('replaces the whole value on a second POST', async () => {
    await post('writer', 's', 'k', { a: 1, b: 2 });
    await post('writer', 's', 'k', { c: 3 });
    expect((await svc.request('GET', '/v2/kv/s/k', { as: 'writer' })).json).toEqual({ c: 3 });
  });

  it.each(SIGNED_IN)('lets %s use its own space, stored under its e-mail', async (as) => {
    expect((await post(as, 'scope', 'key', { who: as })).status).toBe(200);
    expect(await storedKv(as, 'scope', 'key')).toMatchObject({ who: as });
    const read = await svc.request('GET', '/v2/kv/scope/key', { as });
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ who: as });
  });

  it('refuses a disabled user (403), a missing token and a bad token (401), writing nothing', async () => {
    const disabled = await post('disabled', 's', 'k', { a: 1 });
    expect(disabled.status).toBe(403);
    expect(disabled.json.detail).toBe('inactive user');
    expect(await storedKv('disabled', 's', 'k')).toBeUndefined();
    for (const authorization of [undefined, 'Bearer not-a-token']) {
      const res = await svc.request('POST', '/v2/kv/s/k', { authorization, body: { a: 1 } });
      expect(res.status).toBe(401);
      expect((await svc.request('GET', '/v2/kv/s', { authorization })).status).toBe(401);
    }
    const users = await svc.db.collection(COLLECTIONS.keyValues).listDocuments();
    expect(users).toEqual([]);
  });

  it("never reaches another user's space", async () => {
    await post('writer', 'shared-name', 'k', { secret: true });
    const other = await svc.request('GET', '/v2/kv/shared-name/k', { as: 'admin' });
    expect(other.status).toBe(404);
    expect((await svc.request('GET', '/v2/kv/shared-name', { as: 'admin' })).json).toEqual({});
    expect((await svc.request('DELETE', '/v2/kv/shared-name/k', { as: 'admin' })).status).toBe(200);
    await post('admin', 'shared-name', 'k', { mine: true });
    expect(await storedKv('writer', 'shared-name', 'k')).toMatchObject({ secret: true });
    expect((await svc.request('GET', '/v2/kv/shared-name/k', { as: 'writer' })).json).toEqual({ secret: true });
  });

  it('answers 404 with a detail for a key without a value', async () => {
    const res = await svc.request('GET', '/v2/kv/s/missing', { as: 'writer' });
    expect(res.status).toBe(404);
    expect(res.json.detail).toMatch(/missing/);
  });

  it('reads a stored document that has no _timestamp (hand-written data)', async () => {
    await kvDoc(emailOf('writer'), 's', 'old').set({ legacy: 'yes', timestamp: 12.5 });
    expect((await svc.request('GET', '/v2/kv/s/old', { as: 'writer' })).json).toEqual({ legacy: 'yes', timestamp: 12.5 });
    expect((await svc.request('GET', '/v2/kv/s/old?timestamp=true', { as: 'writer' })).json).toEqual({ legacy: 'yes', timestamp: 12.5 });
  });

  it.each([
    ['an array', '[1,2]'],
    ['a string', '"text"'],
    ['a number', '7'],
    ['null', 'null'],
    ['nothing', ''],
    ['malformed JSON', '{"a":'],
  ])('refuses %s as a value with 422 and writes nothing', async (_what, rawBody) => {
    const res = await svc.request('POST', '/v2/kv/s/k', { as: 'writer', rawBody });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc[0]).toBe('body');
    expect(await storedKv('writer', 's', 'k')).toBeUndefined();
  });

  it('parses JSON bodies sent as text/plain or without a Content-Type', async () => {
    for (const contentType of ['text/plain;charset=UTF-8', null]) {
      const res = await svc.request('POST', '/v2/kv/s/k', { as: 'writer', rawBody: '{"via":"text"}', contentType });
      expect(res.status).toBe(200);
    }
    expect((await svc.request('GET', '/v2/kv/s/k', { as: 'writer' })).json).toEqual({ via: 'text' });
  });

  it.each([
    ['a key with an encoded slash', '/v2/kv/s/a%2Fb'],
    ['a reserved key', '/v2/kv/s/__key__'],
    ['a reserved scope', '/v2/kv/__scope__/k'],
  ])('refuses %s with 422', async (_what, path) => {
    const res = await svc.request('POST', path, { as: 'writer', body: { a: 1 } });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc[0]).toBe('path');
    expect((await svc.request('GET', path, { as: 'writer' })).status).toBe(422);
    expect(await svc.db.collection(COLLECTIONS.keyValues).listDocuments()).toEqual([]);
  });

  it.each([
    ['nesting deeper than Firestore allows', JSON.stringify({ v: JSON.parse(`${'{"d":'.repeat(25)}1${'}'.repeat(25)}`) }), /deeper than 20/],
    ['an empty field name', '{"":1}', /empty/],
    ['arrays directly inside arrays', '{"pairs":[[1,2],[3,4]]}', /array/],
  ])('refuses a value with %s with 400 and writes nothing', async (_what, rawBody, detail) => {
    const res = await svc.request('POST', '/v2/kv/s/k', { as: 'writer', rawBody });
    expect(res.status).toBe(400);
    expect(res.json.detail).toMatch(detail);
    expect(await storedKv('writer', 's', 'k')).toBeUndefined();
  });
});

describe('large values', () => {
  it('round-trips a value of about 1 MB exactly', async () => {
    const text = 'αβγδ0123456789'.repeat(55_000); // 990,000 bytes of UTF-8
    const value = { text, ids: Array.from({ length: 1000 }, (_, i) => i * 7) };
    expect(documentSize(`${COLLECTIONS.keyValues}/${emailOf('writer')}/s/big`, value)).toBeLessThan(MAX_DOCUMENT_BYTES);
    expect((await post('writer', 's', 'big', value)).status).toBe(200);
    const read = await svc.request('GET', '/v2/kv/s/big', { as: 'writer' });
    expect(read.json).toEqual(value);
  });

  it.each([
    ['one field over 1 MiB', { text: 'x'.repeat(1_100_000) }],
    ['many fields adding up to over 1 MiB', Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`part${i}`, 'y'.repeat(100_000)]))],
  ])('refuses %s with 413, keeping the previous value', async (_what, value) => {
    await post('writer', 's', 'big', { previous: true });
    const res = await post('writer', 's', 'big', value);
    expect(res.status).toBe(413);
    expect(res.json.detail).toMatch(/1048576 bytes/);
    expect(await storedKv('writer', 's', 'big')).toMatchObject({ previous: true });
  });

  it('counts sizes as Firestore does, so its own limit agrees with ours near the boundary', async () => {
    // Firestore itself refuses documents over the limit; ours must refuse first, and not earlier.
    const path = `${COLLECTIONS.keyValues}/${emailOf('writer')}/s/edge`;
    const base = documentSize(path, { _timestamp: 1, text: '' });
    const fits = { text: 'z'.repeat(MAX_DOCUMENT_BYTES - base - 200) };
    expect((await post('writer', 's', 'edge', fits)).status).toBe(200);
    const over = { text: 'z'.repeat(MAX_DOCUMENT_BYTES - base + 1) };
    expect((await post('writer', 's', 'edge', over)).status).toBe(413);
  });
});

describe('GET /v2/kv/{scope}', () => {
  it('returns every key of the scope, {} for an empty one, _timestamp only with timestamp=true', async () => {
    expect((await svc.request('GET', '/v2/kv/s', { as: 'general' })).json).toEqual({});
    await post('general', 's', 'a', { n: 1 });
    await post('general', 's', 'b', { n: 2 });
    await post('general', 'other', 'c', { n: 3 });
    const res = await svc.request('GET', '/v2/kv/s', { as: 'general' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ a: { n: 1 }, b: { n: 2 } });
    const timed = await svc.request('GET', '/v2/kv/s?timestamp=1', { as: 'general' });
    expect(Object.keys(timed.json.a).sort()).toEqual(['_timestamp', 'n']);
    expect(typeof timed.json.b._timestamp).toBe('number');
  });

  it('rejects a malformed timestamp flag with 422', async () => {
    const res = await svc.request('GET', '/v2/kv/s?timestamp=maybe', { as: 'general' });
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(['query', 'timestamp']);
  });
});

describe('DELETE /v2/kv/{scope}/{key}', () => {
  it('deletes the value and answers null; deleting a missing key is fine', async () => {
    await post('reader', 's', 'k', { a: 1 });
    await post('reader', 's', 'keep', { a: 2 });
    const res = await svc.request('DELETE', '/v2/kv/s/k', { as: 'reader' });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    expect(await storedKv('reader', 's', 'k')).toBeUndefined();
    expect(await storedKv('reader', 's', 'keep')).toBeDefined();
    expect((await svc.request('DELETE', '/v2/kv/s/k', { as: 'reader' })).status).toBe(200);
  });

  it('refuses a missing token and a disabled user', async () => {
    await post('reader', 's', 'k', { a: 1 });
    expect((await svc.request('DELETE', '/v2/kv/s/k')).status).toBe(401);
    expect((await svc.request('DELETE', '/v2/kv/s/k', { as: 'disabled' })).status).toBe(403);
    expect(await storedKv('reader', 's', 'k')).toBeDefined();
  });
});

describe('paths', () => {
  it('answers under /test too, with and without a trailing slash, ignoring unknown parameters', async () => {
    expect((await svc.request('POST', '/test/kv/s/k/', { as: 'writer', body: { t: 1 } })).status).toBe(200);
    for (const path of ['/v2/kv/s/k', '/v2/kv/s/k/', '/test/kv/s/k', '/v2/kv/s/k?app=clio-py']) {
      expect((await svc.request('GET', path, { as: 'writer' })).json, path).toEqual({ t: 1 });
    }
    expect((await svc.request('GET', '/test/kv/s/', { as: 'writer' })).json).toEqual({ k: { t: 1 } });
  });

  it('answers 405 with Allow for a wrong method and 404 below a key', async () => {
    const res = await svc.request('PUT', '/v2/kv/s/k', { as: 'writer', body: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('POST');
    expect((await svc.request('GET', '/v2/kv/s/k/extra', { as: 'writer' })).status).toBe(404);
  });
});

describe('POST /v2/pull-request', () => {
  it('copies the key-value to the pull requests with a fresh _timestamp, exactly', async () => {
    const raw = '{"mainToOthers":{"18014398509481985":[18014398509481985,7]}}';
    await svc.request('POST', '/v2/kv/merges-ds/mainToOthers', { as: 'writer', rawBody: raw });
    const kvTime = (await storedKv('writer', 'merges-ds', 'mainToOthers'))?._timestamp;
    const res = await svc.request('POST', '/v2/pull-request', { as: 'writer', body: { pull: 'kv/merges-ds/mainToOthers' } });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    const copy = (await prDoc(emailOf('writer'), 'merges-ds', 'mainToOthers').get()).data();
    expect(copy?.mainToOthers).toEqual({ '18014398509481985': [18014398509481985n, 7n] });
    expect(copy?._timestamp).toBeGreaterThan(kvTime);
  });

  it.each([
    ['too few parts', 'kv/scope'],
    ['too many parts', 'kv/scope/key/extra'],
    ['another store', 'dvid/scope/key'],
    ['an empty reference', ''],
    ['an empty scope', 'kv//key'],
    ['a reserved key', 'kv/scope/__key__'],
  ])('refuses %s with 400 and writes nothing', async (_what, pull) => {
    await post('writer', 'scope', 'key', { a: 1 });
    const res = await svc.request('POST', '/v2/pull-request', { as: 'writer', body: { pull } });
    expect(res.status).toBe(400);
    expect(typeof res.json.detail).toBe('string');
    expect(await svc.db.collection(COLLECTIONS.pullRequests).listDocuments()).toEqual([]);
  });

  it('refuses a body without a string "pull" with 422', async () => {
    for (const body of [{}, { pull: 3 }, ['kv/a/b']]) {
      const res = await svc.request('POST', '/v2/pull-request', { as: 'writer', body });
      expect(res.status).toBe(422);
      expect(res.json.detail[0].loc[0]).toBe('body');
    }
  });

  it('answers 404 when the key-value does not exist, writing nothing', async () => {
    await post('admin', 'scope', 'key', { a: 1 });
    const res = await svc.request('POST', '/v2/pull-request', { as: 'writer', body: { pull: 'kv/scope/key' } });
    expect(res.status).toBe(404);
    expect(res.json.detail).toMatch(/key/);
    expect(await svc.db.collection(COLLECTIONS.pullRequests).listDocuments()).toEqual([]);
  });

  it('refuses a disabled user and a missing token', async () => {
    expect((await svc.request('POST', '/v2/pull-request', { as: 'disabled', body: { pull: 'kv/a/b' } })).status).toBe(403);
    expect((await svc.request('POST', '/v2/pull-request', { body: { pull: 'kv/a/b' } })).status).toBe(401);
  });
});

describe('GET /v2/pull-request', () => {
  beforeEach(async () => {
    for (const [as, scope] of [['writer', 'merges-a'], ['writer', 'merges-b'], ['reader', 'merges-a']] as const) {
      await post(as, scope, 'mainToOthers', { [`${as}-main`]: [1, 2] });
      await svc.request('POST', '/v2/pull-request', { as, body: { pull: `kv/${scope}/mainToOthers` } });
    }
    // A key-value that was never submitted is not a pull request.
    await post('general', 'merges-a', 'mainToOthers', { never: [3] });
  });

  const shape = (res: { json: Record<string, Record<string, Record<string, unknown>>> }) =>
    Object.fromEntries(Object.entries(res.json).map(([email, scopes]) => [email, Object.keys(scopes).sort()]));

  it("returns the caller's own pull requests by default, with _timestamp", async () => {
    for (const query of ['', '?user_email=', `?user_email=${encodeURIComponent(emailOf('writer').toUpperCase())}`]) {
      const res = await svc.request('GET', `/v2/pull-request${query}`, { as: 'writer' });
      expect(res.status, query).toBe(200);
      expect(shape(res), query).toEqual({ [emailOf('writer')]: ['merges-a', 'merges-b'] });
      const entry = res.json[emailOf('writer')]['merges-a'].mainToOthers;
      expect(entry['writer-main']).toEqual([1, 2]);
      expect(typeof entry._timestamp).toBe('number');
    }
  });

  it('answers {} for a caller without pull requests', async () => {
    expect((await svc.request('GET', '/v2/pull-request', { as: 'general' })).json).toEqual({});
  });

  it.each(['admin', 'owner'] as const)('lets %s read one other user or all users', async (as) => {
    const one = await svc.request('GET', `/v2/pull-request?user_email=${emailOf('reader')}`, { as });
    expect(shape(one)).toEqual({ [emailOf('reader')]: ['merges-a'] });
    const all = await svc.request('GET', '/v2/pull-request?user_email=all', { as });
    expect(shape(all)).toEqual({ [emailOf('reader')]: ['merges-a'], [emailOf('writer')]: ['merges-a', 'merges-b'] });
  });

  it.each(['reader', 'writer', 'general', 'dsWriter', 'unknown'] as const)("refuses %s another user's or everyone's (401)", async (as) => {
    const other = as === 'reader' ? 'writer' : 'reader';
    for (const query of [`user_email=${emailOf(other)}`, 'user_email=all']) {
      const res = await svc.request('GET', `/v2/pull-request?${query}`, { as });
      expect(res.status, query).toBe(401);
      expect(res.json.detail).toMatch(/admin/);
    }
  });

  it('refuses a disabled user, a missing token and a malformed user_email', async () => {
    expect((await svc.request('GET', '/v2/pull-request', { as: 'disabled' })).status).toBe(403);
    expect((await svc.request('GET', '/v2/pull-request')).status).toBe(401);
    expect((await svc.request('GET', '/v2/pull-request?user_email=a%2Fb', { as: 'admin' })).status).toBe(422);
  });
});

describe("the web app's merge flow and neuclease's reader", () => {
  it('stores the merge state, submits it, and serves it as neuclease reads it', async () => {
    const scope = 'merges-private-ds-v1.2';
    const main = '18014398509481985';
    // MergeBackendCloud treats 404 as "no merges yet".
    expect((await svc.request('GET', `/v2/kv/${scope}/mainToOthers`, { as: 'dsWriter' })).status).toBe(404);
    const mainToOthers = `{"${main}":[18014398509481986,18014398509481987]}`;
    const otherToMain = `{"18014398509481986":${main},"18014398509481987":${main}}`;
    for (const [key, rawBody] of [
      ['mainToOthers', mainToOthers],
      ['otherToMain', otherToMain],
      ['mainOrdered', `{"array":[${main}]}`],
    ]) {
      expect((await svc.request('POST', `/v2/kv/${scope}/${key}`, { as: 'dsWriter', rawBody })).status).toBe(200);
    }
    expect((await svc.request('GET', `/v2/kv/${scope}/mainToOthers`, { as: 'dsWriter' })).text).toBe(mainToOthers);
    expect((await svc.request('GET', `/v2/kv/${scope}/otherToMain`, { as: 'dsWriter' })).text).toBe(otherToMain);

    const pulled = await svc.request('POST', '/v2/pull-request', { as: 'dsWriter', body: { pull: `kv/${scope}/mainToOthers` } });
    expect(pulled.status).toBe(200);

    // neuclease: fetch_pull_requests(user_email='all') → {email: {scope: {"mainToOthers": {...}}}}
    const res = await svc.request('GET', '/v2/pull-request?user_email=all', { as: 'admin' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json)).toEqual([emailOf('dsWriter')]);
    const scopes = res.json[emailOf('dsWriter')];
    expect(Object.keys(scopes)).toEqual([scope]);
    expect(Object.keys(scopes[scope])).toEqual(['mainToOthers']);
    const entry = scopes[scope].mainToOthers;
    expect(Number.isFinite(entry._timestamp)).toBe(true);
    expect(Object.keys(entry).filter((k) => k !== '_timestamp').every((k) => /^\d+$/.test(k))).toBe(true);
    expect(res.text).toContain(`"${main}":[18014398509481986,18014398509481987]`);
  });
});
