import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { docData } from '../../shared/firestore';
import { entryOf } from '../../shared/located-entries';
import { DS, type Identity, PUBLIC_DS, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  await seedStandardData(svc.db);
  await svc.ctx.datasets.refresh();
});
afterAll(() => svc.close());
beforeEach(async () => {
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.annotationsV2));
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.annotations));
});

const email = (as: Identity) => USERS[as].email;
const ownerDocs = (dataset: string, owner: string) => svc.db.collection(COLLECTIONS.annotationsV2).doc(dataset).collection(owner);
/** The stored annotations of one owner, by key. */
async function stored(owner: string, dataset = DS): Promise<Record<string, Record<string, unknown>>> {
  const snapshot = await ownerDocs(dataset, owner).get();
  return Object.fromEntries(snapshot.docs.map((doc) => [doc.id, docData(doc)]));
}
const point = (x: number, extra: Record<string, unknown> = {}) => ({ kind: 'point', pos: [x, 2, 3], ...extra });
const post = (as: Identity, body: unknown, query = '', dataset = DS) => svc.request('POST', `/v2/annotations/${dataset}${query}`, { as, body });

describe('POST /v2/annotations/{dataset}', () => {
  it('stores one annotation under its key with exactly the fields sent plus user, and answers {key}', async () => {
    const res = await post('general', { kind: 'point', pos: [1, 2, 3], prop: { a: 'b' }, tags: ['t'], title: 'T', description: 'D', ignored: 1 });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ key: 'Pt1_2_3' });
    expect(await stored(email('general'))).toEqual({
      Pt1_2_3: { kind: 'point', pos: [1, 2, 3], prop: { a: 'b' }, tags: ['t'], title: 'T', description: 'D', user: email('general') },
    });
  });

  it('keys lines and spheres by all six coordinates, keeps signs and truncates fractions', async () => {
    expect((await post('general', { kind: 'lineseg', pos: [-1, 2, -3, 4, 5, 6] })).json).toEqual({ key: 'Ln-1_2_-3_4_5_6' });
    expect((await post('general', { kind: 'sphere', pos: [1.9, 2, 3, 4, 5, -6.5] })).json).toEqual({ key: 'Sp1_2_3_4_5_-6' });
    expect(Object.keys(await stored(email('general')))).toEqual(['Ln-1_2_-3_4_5_6', 'Sp1_2_3_4_5_-6']);
  });

  it('stores an array atomically and answers the keys in input order', async () => {
    const res = await post('general', [point(3), { kind: 'sphere', pos: [1, 1, 1, 2, 2, 2] }, point(1)]);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ keys: ['Pt3_2_3', 'Sp1_1_1_2_2_2', 'Pt1_2_3'] });
    expect(Object.keys(await stored(email('general'))).sort()).toEqual(['Pt1_2_3', 'Pt3_2_3', 'Sp1_1_1_2_2_2']);
  });

  it('answers an empty array with no keys', async () => {
    for (const query of ['', '?replace=false']) {
      const res = await post('general', [], query);
      expect(res.status, query).toBe(200);
      expect(res.json).toEqual({ keys: [] });
    }
  });

  it('writes nothing of an array when one item is invalid', async () => {
    const res = await post('general', [point(1), { kind: 'point', pos: [1, 2] }, point(3)]);
    expect(res.status).toBe(422);
    expect(res.json.detail[0]).toMatchObject({ loc: ['body', 1, 'pos'], msg: 'pos of a point must have 3 coordinates' });
    expect(await stored(email('general'))).toEqual({});
  });

  it('writes nothing of an array when one item is refused or cannot be stored', async () => {
    const refused = await post('general', [point(1), point(2, { user: email('writer') })]);
    expect(refused.status).toBe(401);
    const unstorable = await post('general', [point(1), point(2, { prop: { '': 'empty field name' } })]);
    expect(unstorable.status).toBe(400);
    expect(unstorable.json.detail).toMatch(/cannot be stored/);
    const merged = await post('general', [point(1), point(2, { prop: { __x__: 1 } })], '?replace=false');
    expect(merged.status).toBe(400);
    expect(await stored(email('general'))).toEqual({});
    expect(await stored(email('writer'))).toEqual({});
  });

  it('honours replace and conditional for every item of an array', async () => {
    await post('general', [point(1, { title: 'kept', description: '', tags: ['a'] }), point(2, { title: 'old' })]);
    const res = await post('general', [point(1, { title: 'new', description: 'filled', prop: { p: 1 } }), point(2, { description: 'added' })], '?replace=false&conditional=title,description');
    expect(res.status).toBe(200);
    const docs = await stored(email('general'));
    // title had a value and is conditional: kept; description was empty: filled; others merged in.
    expect(docs.Pt1_2_3).toEqual({ kind: 'point', pos: [1, 2, 3], title: 'kept', description: 'filled', tags: ['a'], prop: { p: 1 }, user: email('general') });
    expect(docs.Pt2_2_3).toEqual({ kind: 'point', pos: [2, 2, 3], title: 'old', description: 'added', user: email('general') });
  });

  it('replaces the whole document by default and merges with replace=false', async () => {
    await post('general', point(1, { title: 'a', tags: ['x'] }));
    await post('general', point(1, { description: 'd' }));
    expect((await stored(email('general'))).Pt1_2_3).toEqual({ kind: 'point', pos: [1, 2, 3], description: 'd', user: email('general') });
    await post('general', point(1, { title: 'b' }), '?replace=false');
    expect((await stored(email('general'))).Pt1_2_3).toMatchObject({ description: 'd', title: 'b' });
  });

  it('protects conditional fields that already have a value, as malevnc relies on for user', async () => {
    await post('writer', point(1, { user: email('general'), description: 'first' }));
    const res = await svc.request('POST', `/v2/annotations/${DS}?replace=false&conditional=user&app=natverse`, {
      as: 'writer',
      rawBody: JSON.stringify(point(1, { user: email('general'), description: 'second', tags: [] })),
      contentType: null,
    });
    expect(res.status).toBe(200);
    expect((await stored(email('general'))).Pt1_2_3).toMatchObject({ user: email('general'), description: 'second', tags: [] });
  });

  it('moves an annotation with move_key, for single annotations only', async () => {
    await post('general', point(1, { title: 'moving' }));
    const moved = await post('general', point(9, { title: 'moving' }), '?move_key=Pt1_2_3');
    expect(moved.json).toEqual({ key: 'Pt9_2_3' });
    expect(Object.keys(await stored(email('general')))).toEqual(['Pt9_2_3']);
    // Same key: nothing to delete.
    await post('general', point(9), '?move_key=Pt9_2_3');
    expect(Object.keys(await stored(email('general')))).toEqual(['Pt9_2_3']);
    // Merge mode moves too.
    await post('general', point(5), '?move_key=Pt9_2_3&replace=false');
    expect(Object.keys(await stored(email('general')))).toEqual(['Pt5_2_3']);
    await post('general', [point(6)], '?move_key=Pt5_2_3');
    expect(Object.keys(await stored(email('general'))).sort()).toEqual(['Pt5_2_3', 'Pt6_2_3']);
  });

  it.each(['dsGeneral', 'dsWriter', 'general', 'writer'] as const)('lets %s write its own annotations', async (as) => {
    expect((await post(as, point(1))).status).toBe(200);
    expect(Object.keys(await stored(email(as)))).toEqual(['Pt1_2_3']);
  });

  it.each(['reader', 'admin', 'owner', 'unknown'] as const)('refuses %s with 401 and writes nothing', async (as) => {
    const res = await post(as, point(1));
    expect(res.status).toBe(401);
    expect(res.json.detail).toMatch(/permission/);
    expect(await stored(email(as))).toEqual({});
  });

  it('lets only clio_write holders write for another user', async () => {
    const refused = await post('general', point(1, { user: email('dsGeneral') }));
    expect(refused.status).toBe(401);
    expect(refused.json.detail).toMatch(/clio_write/);
    for (const as of ['writer', 'dsWriter'] as const) {
      expect((await post(as, point(as.length, { user: email('dsGeneral') }))).status, as).toBe(200);
    }
    expect(Object.keys(await stored(email('dsGeneral'))).sort()).toEqual(['Pt6_2_3', 'Pt8_2_3']);
  });

  it('lets anyone signed in write on a public dataset, but not without a token', async () => {
    expect((await post('unknown', point(1), '', PUBLIC_DS)).status).toBe(200);
    expect((await svc.request('POST', `/v2/annotations/${PUBLIC_DS}`, { body: point(2) })).status).toBe(401);
    expect(Object.keys(await stored(email('unknown'), PUBLIC_DS))).toEqual(['Pt1_2_3']);
  });

  // A problem the shape check finds is reported at its place; a wrong type inside an item is
  // reported on the body, with the place in the message.
  it.each([
    ['an unknown kind', { kind: 'cube', pos: [1, 2, 3] }, '', ['body'], 'body.kind: kind must be point, lineseg or sphere'],
    ['a missing pos', { kind: 'point' }, '', ['body'], 'body.pos'],
    ['a sphere with 3 coordinates', { kind: 'sphere', pos: [1, 2, 3] }, '', ['body', 'pos'], 'pos of a sphere must have 6 coordinates'],
    ['a non-numeric coordinate', { kind: 'point', pos: [1, '2', 3] }, '', ['body'], 'body.pos[1]: pos must hold numbers'],
    ['non-string tags', point(1, { tags: [1] }), '', ['body'], 'body.tags[0]: tags must be strings'],
    ['a prop that is not an object', point(1, { prop: [1] }), '', ['body'], 'body.prop'],
    ['a user that is not an id', point(1, { user: 'a/b' }), '', ['body', 'user'], 'user must not contain "/"'],
    ['a bad item of an array', [point(1), { kind: 'point', pos: [1, 2, 'x'] }], '', ['body'], 'body[1].pos[2]: pos must hold numbers'],
    ['a string body', 'point', '', ['body'], 'body must be an annotation object or an array of them'],
    ['a malformed replace flag', point(1), '?replace=maybe', ['query', 'replace'], 'boolean'],
    ['a malformed move_key', point(1), '?move_key=a/b', ['query', 'move_key'], 'move_key must not contain "/"'],
  ])('rejects %s with 422 and writes nothing', async (_name, body, query, loc, msg) => {
    const res = await post('writer', body, query);
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(loc);
    expect(res.json.detail[0].msg).toContain(msg);
    expect(await stored(email('writer'))).toEqual({});
  });

  it('rejects malformed JSON and an empty body with 422', async () => {
    expect((await svc.request('POST', `/v2/annotations/${DS}`, { as: 'general', rawBody: '[{"kind"' })).status).toBe(422);
    expect((await svc.request('POST', `/v2/annotations/${DS}`, { as: 'general' })).status).toBe(422);
    expect(await stored(email('general'))).toEqual({});
  });

  it('takes the bulk import the web app sends (text/plain array with extra fields) and PUT', async () => {
    const rows = [
      { kind: 'point', pos: [1, 2, 3], prop: { comment: 'c' }, description: 'd', user: email('general'), verified: false, key: 'x' },
      { kind: 'point', pos: [4, 5, 6], prop: {}, description: '', user: email('general') },
    ];
    const res = await svc.request('PUT', `/test/annotations/${DS}/`, { as: 'general', rawBody: JSON.stringify(rows), contentType: 'text/plain;charset=UTF-8' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ keys: ['Pt1_2_3', 'Pt4_5_6'] });
    expect((await stored(email('general'))).Pt1_2_3).not.toHaveProperty('verified');
  });
});

describe('GET /v2/annotations/{dataset}', () => {
  it("lists the caller's annotations with exactly the eight fields, absent ones null, in key order", async () => {
    await post('general', [point(2, { title: 'two' }), { kind: 'lineseg', pos: [1, 1, 1, 2, 2, 2], prop: { p: 1 }, tags: ['t'], description: 'd' }]);
    await post('writer', point(7));
    await ownerDocs(DS, email('general')).doc('odd').set({ title: 'hand-made' });
    const res = await svc.request('GET', `/v2/annotations/${DS}`, { as: 'general' });
    expect(res.status).toBe(200);
    const user = email('general');
    expect(res.json).toEqual([
      { user, key: 'Ln1_1_1_2_2_2', kind: 'lineseg', pos: [1, 1, 1, 2, 2, 2], prop: { p: 1 }, tags: ['t'], title: null, description: 'd' },
      { user, key: 'Pt2_2_3', kind: 'point', pos: [2, 2, 3], prop: null, tags: null, title: 'two', description: null },
      { user, key: 'odd', kind: null, pos: null, prop: null, tags: null, title: 'hand-made', description: null },
    ]);
  });

  it.each(['reader', 'dsGeneral', 'dsWriter', 'general', 'writer'] as const)('lets %s read', async (as) => {
    const res = await svc.request('GET', `/v2/annotations/${DS}`, { as });
    expect(res.status).toBe(200);
    expect(res.json).toEqual([]);
  });

  it.each(['admin', 'owner', 'unknown'] as const)('refuses %s on the private dataset with 401', async (as) => {
    expect((await svc.request('GET', `/v2/annotations/${DS}`, { as })).status).toBe(401);
  });

  it("shows another user's annotations to admins only", async () => {
    await post('general', point(1), '', PUBLIC_DS);
    const refused = await svc.request('GET', `/v2/annotations/${PUBLIC_DS}?user=${email('general')}`, { as: 'writer' });
    expect(refused.status).toBe(401);
    for (const as of ['admin', 'owner'] as const) {
      const res = await svc.request('GET', `/v2/annotations/${PUBLIC_DS}?user=${email('general')}`, { as });
      expect(res.status, as).toBe(200);
      expect(res.json.map((a: { key: string; user: string }) => `${a.user} ${a.key}`), as).toEqual([`${email('general')} Pt1_2_3`]);
    }
    const self = await svc.request('GET', `/v2/annotations/${PUBLIC_DS}?user=${email('general')}`, { as: 'general' });
    expect(self.json).toHaveLength(1);
  });

  it('rejects a user parameter that is not an id', async () => {
    expect((await svc.request('GET', `/v2/annotations/${DS}?user=a/b`, { as: 'general' })).status).toBe(422);
  });

  describe('with groups', () => {
    const GROUP = 'UK Drosophila Connectomics';
    const setGroups = async (memberships: [Identity, string[]][]) => {
      for (const [as, groups] of memberships) await svc.db.collection(COLLECTIONS.users).doc(email(as)).set({ groups }, { merge: true });
      await svc.ctx.users.refresh();
    };
    beforeEach(async () => {
      await setGroups([
        ['general', [GROUP]],
        ['dsGeneral', [GROUP, 'other']],
        ['writer', ['other']],
      ]);
      await post('general', point(1));
      await post('dsGeneral', point(2));
      await post('writer', point(3));
    });
    afterAll(async () => {
      await seedStandardData(svc.db);
      await svc.ctx.users.refresh();
    });
    const keysSeen = async (as: Identity, groups: string) => {
      const res = await svc.request('GET', `/v2/annotations/${DS}?groups=${encodeURIComponent(groups)}`, { as });
      return { status: res.status, seen: res.status === 200 ? res.json.map((a: { user: string; key: string }) => `${a.user} ${a.key}`) : res.json.detail };
    };

    it("adds the annotations of the members of the caller's groups (names with spaces)", async () => {
      expect(await keysSeen('general', GROUP)).toEqual({ status: 200, seen: [`${email('general')} Pt1_2_3`, `${email('dsGeneral')} Pt2_2_3`] });
      // Groups the caller is not in are dropped; only those are named: 400.
      expect(await keysSeen('general', `other, ${GROUP}`)).toEqual({ status: 200, seen: [`${email('general')} Pt1_2_3`, `${email('dsGeneral')} Pt2_2_3`] });
      const none = await keysSeen('general', 'other');
      expect(none.status).toBe(400);
      expect(none.seen).toMatch(/none of the groups/);
    });

    it('follows membership changes', async () => {
      await setGroups([['dsGeneral', ['other']]]);
      expect((await keysSeen('general', GROUP)).seen).toEqual([`${email('general')} Pt1_2_3`]);
      await setGroups([['writer', ['other', GROUP]]]);
      expect((await keysSeen('general', GROUP)).seen).toEqual([`${email('general')} Pt1_2_3`, `${email('writer')} Pt3_2_3`]);
    });

    it('lets admins name any group', async () => {
      await post('writer', point(4), '', PUBLIC_DS);
      const res = await svc.request('GET', `/v2/annotations/${PUBLIC_DS}?groups=other`, { as: 'admin' });
      expect(res.status).toBe(200);
      expect(res.json.map((a: { user: string }) => a.user)).toEqual([email('writer')]);
    });
  });
});

describe('DELETE /v2/annotations/{dataset}/{key}', () => {
  it("deletes the caller's annotation, and succeeds when it is missing", async () => {
    await post('general', [point(1), point(2)]);
    await post('writer', point(1));
    const res = await svc.request('DELETE', `/v2/annotations/${DS}/Pt1_2_3`, { as: 'general' });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    expect(Object.keys(await stored(email('general')))).toEqual(['Pt2_2_3']);
    expect(Object.keys(await stored(email('writer')))).toEqual(['Pt1_2_3']);
    expect((await svc.request('DELETE', `/test/annotations/${DS}/Pt1_2_3/`, { as: 'general' })).status).toBe(200);
  });

  it("deletes another user's annotation only for clio_write holders", async () => {
    await post('general', [point(1), point(2)]);
    const refused = await svc.request('DELETE', `/v2/annotations/${DS}/Pt1_2_3?user_email=${email('general')}`, { as: 'dsGeneral' });
    expect(refused.status).toBe(401);
    for (const [as, key] of [['writer', 'Pt1_2_3'], ['dsWriter', 'Pt2_2_3']] as const) {
      expect((await svc.request('DELETE', `/v2/annotations/${DS}/${key}?user_email=${email('general')}`, { as })).status, as).toBe(200);
    }
    expect(await stored(email('general'))).toEqual({});
  });

  it.each(['reader', 'admin', 'unknown'] as const)('refuses %s with 401 and deletes nothing', async (as) => {
    await post('writer', point(1, { user: email(as) }));
    expect((await svc.request('DELETE', `/v2/annotations/${DS}/Pt1_2_3`, { as })).status).toBe(401);
    expect(Object.keys(await stored(email(as)))).toEqual(['Pt1_2_3']);
  });

  it('is not served at the bare v1 path', async () => {
    expect((await svc.request('DELETE', `/annotations/${DS}/Pt1_2_3`, { as: 'general' })).status).toBe(404);
  });
});

describe('v1 annotations at /annotations/{dataset} and /clio_toplevel/annotations/{dataset}', () => {
  const v1 = () => svc.db.collection(COLLECTIONS.annotations).doc('USER').collection('annotations');
  const v1Docs = async () => (await v1().get()).docs.map(entryOf);

  it('stores any object per caller, dataset and location in the original collection and fields', async () => {
    const res = await svc.request('POST', `/annotations/${DS}?x=50&y=30&z=50`, { as: 'general', body: { foo: 'bar' } });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    const [doc] = await v1Docs();
    expect(doc).toMatchObject({ foo: 'bar', email: email('general'), dataset: DS, location: [50, 30, 50], locationkey: '50_30_50' });
    expect(typeof doc.timestamp).toBe('number');
    await svc.request('PUT', `/clio_toplevel/annotations/${DS}?x=50&y=30&z=50`, { as: 'general', body: { foo: 'baz' } });
    const docs = await v1Docs();
    expect(docs.map((d) => [d.id, d.foo])).toEqual([[doc.id, 'baz']]);
  });

  it("answers the caller's entries keyed by x_y_z and deletes one location", async () => {
    await svc.request('POST', `/annotations/${DS}?x=1&y=2&z=3`, { as: 'general', body: { a: 1 } });
    await svc.request('POST', `/annotations/${DS}?x=4&y=5&z=6`, { as: 'general', body: { a: 2 } });
    await svc.request('POST', `/annotations/${DS}?x=1&y=2&z=3`, { as: 'writer', body: { a: 3 } });
    const res = await svc.request('GET', `/clio_toplevel/annotations/${DS}/`, { as: 'general' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['1_2_3', '4_5_6']);
    expect(res.json['1_2_3']).toMatchObject({ a: 1, email: email('general') });
    expect(res.json['1_2_3'].id).toMatch(/^[A-Za-z0-9]{20}$/);
    expect((await svc.request('DELETE', `/annotations/${DS}?x=1&y=2&z=3`, { as: 'general' })).status).toBe(200);
    expect(Object.keys((await svc.request('GET', `/annotations/${DS}`, { as: 'general' })).json)).toEqual(['4_5_6']);
    expect(await v1Docs()).toHaveLength(2);
  });

  it('needs a reading role to list and a writing role to change, writing nothing when refused', async () => {
    expect((await svc.request('GET', `/annotations/${DS}`, { as: 'reader' })).status).toBe(200);
    for (const as of ['admin', 'unknown'] as const) expect((await svc.request('GET', `/annotations/${DS}`, { as })).status, as).toBe(401);
    for (const as of ['reader', 'admin', 'unknown'] as const) {
      expect((await svc.request('POST', `/annotations/${DS}?x=1&y=2&z=3`, { as, body: {} })).status, as).toBe(401);
      expect((await svc.request('DELETE', `/annotations/${DS}?x=1&y=2&z=3`, { as })).status, as).toBe(401);
    }
    expect(await v1Docs()).toHaveLength(0);
  });

  it('rejects missing coordinates and non-object bodies with 422, writing nothing', async () => {
    expect((await svc.request('POST', `/annotations/${DS}?x=1&y=2`, { as: 'general', body: {} })).status).toBe(422);
    expect((await svc.request('POST', `/annotations/${DS}?x=1&y=2&z=3`, { as: 'general', body: [1] })).status).toBe(422);
    expect((await svc.request('DELETE', `/annotations/${DS}?x=1`, { as: 'general' })).status).toBe(422);
    expect(await v1Docs()).toHaveLength(0);
  });

  it("works verbatim as in the original README, without a token in TEST_USER mode", async () => {
    const readme = await startTestService({ TEST_USER: USERS.writer.email });
    try {
      await seedStandardData(readme.db);
      const json = { contentType: 'application/json' };
      expect((await readme.request('POST', '/annotations/mb20?x=50&y=30&z=50', { ...json, rawBody: '{"foo": "bar"}' })).status).toBe(200);
      const got = await readme.request('GET', '/annotations/mb20', json);
      expect(got.status).toBe(200);
      expect(Object.keys(got.json)).toEqual(['50_30_50']);
      expect(got.json['50_30_50']).toMatchObject({ foo: 'bar', email: USERS.writer.email, dataset: 'mb20' });
      expect((await readme.request('DELETE', '/annotations/mb20?x=50&y=30&z=50', json)).status).toBe(200);
      expect((await readme.request('GET', '/annotations/mb20', json)).json).toEqual({});
    } finally {
      await readme.close();
    }
  });
});
