import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { loadConfig } from '../../shared/config';
import { createContext } from '../../shared/context';
import { type Entry, entryOf } from '../../shared/located-entries';
import { Logger } from '../../shared/log';
import { DS, FLYEM_SECRET, type Identity, OWNER, PUBLIC_DS, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';
import { listenLocally } from '../../shared/testing/listen-locally';
import { createLocalServer } from '../../emulator/serve';
import { FAMILIES } from '../registry';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  await seedStandardData(svc.db);
  await svc.ctx.datasets.refresh();
});
afterAll(() => svc.close());

const entries = () => svc.db.collection(COLLECTIONS.annotations).doc('ATLAS').collection('annotations');
const storedEntries = async (): Promise<Entry[]> => (await entries().get()).docs.map(entryOf);
beforeEach(() => svc.db.recursiveDelete(entries()));

const email = (as: Identity) => USERS[as].email;
const point = (as: Identity, extra: Record<string, unknown> = {}) => ({ title: 'weird point', description: 'strange', user: email(as), ...extra });
const post = (as: Identity, dataset: string, body: unknown, xyz = 'x=50&y=30&z=50') => svc.request('POST', `/v2/atlas/${dataset}?${xyz}`, { as, body });

describe('POST /v2/atlas/{dataset}', () => {
  it('creates an unverified entry, keeps client fields and answers the stored entry with its id', async () => {
    const before = Date.now() / 1000;
    const res = await post('general', DS, point('general', { kind: 'point', pos: [50, 30, 50], id: 'client-id', timestamp: 1 }));
    expect(res.status).toBe(200);
    const [stored] = await storedEntries();
    expect(res.json).toEqual(stored);
    expect(stored).toMatchObject({
      title: 'weird point',
      description: 'strange',
      user: email('general'),
      kind: 'point',
      pos: [50, 30, 50],
      dataset: DS,
      location: [50, 30, 50],
      locationkey: '50_30_50',
      verified: false,
    });
    // The server's id and timestamp replace what the client sent.
    expect(stored.id).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(stored.timestamp as number).toBeGreaterThanOrEqual(before);
  });

  it('keeps one entry per user, dataset and location: a re-POST replaces it and keeps its id', async () => {
    const first = await post('general', DS, point('general', { extra: 1 }));
    const second = await svc.request('PUT', `/v2/atlas/${DS}?x=50&y=30&z=50`, { as: 'general', body: point('general', { title: 'renamed' }) });
    expect(second.status).toBe(200);
    expect(second.json.id).toBe(first.json.id);
    const stored = await storedEntries();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ title: 'renamed', id: first.json.id });
    expect(stored[0]).not.toHaveProperty('extra');
    await post('general', DS, point('general'), 'x=1&y=2&z=3');
    await post('general', PUBLIC_DS, point('general'));
    await post('writer', DS, point('writer'));
    expect(await storedEntries()).toHaveLength(4);
  });

  it('leaves exactly one entry after 50 concurrent POSTs of one location by one user', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => post('general', DS, point('general', { n: i }))));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const stored = await storedEntries();
    expect(stored).toHaveLength(1);
    expect(new Set(results.map((r) => r.json.id))).toEqual(new Set([stored[0].id]));
  });

  it('leaves exactly one entry per location when two instances write the same locations at once', async () => {
    // A second instance on the same database: its own context, caches and write queue.
    const config = loadConfig({ FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'), GOOGLE_CLOUD_PROJECT: svc.projectId, FLYEM_SECRET, OWNER });
    const peer = await listenLocally(createLocalServer(FAMILIES, createContext(config, new Logger(() => undefined))));
    try {
      const peerUrl = peer.url;
      const viaPeer = (x: number) =>
        fetch(`${peerUrl}/v2/atlas/${DS}?x=${x}&y=7&z=7`, {
          method: 'POST',
          headers: { authorization: `Bearer ${svc.tokenFor(email('general'))}` },
          body: JSON.stringify(point('general')),
        }).then((r) => r.status);
      const viaSvc = (x: number) => post('general', DS, point('general'), `x=${x}&y=7&z=7`).then((r) => r.status);
      const locations = Array.from({ length: 8 }, (_, x) => x);
      const statuses = await Promise.all(locations.flatMap((x) => [viaSvc(x), viaPeer(x)]));
      expect(statuses).toEqual(Array(16).fill(200));
      const stored = await storedEntries();
      expect(stored.map((e) => e.locationkey).sort()).toEqual(locations.map((x) => `${x}_7_7`).sort());
    } finally {
      await peer.close();
    }
  });

  it('folds duplicates left by the original into the newest one', async () => {
    const old = { user: email('general'), dataset: DS, location: [50, 30, 50], locationkey: '50_30_50', title: 't' };
    await entries().doc('older').set({ ...old, id: 'older', timestamp: 1, verified: false });
    await entries().doc('newer').set({ ...old, id: 'newer', timestamp: 2 });
    const listed = await svc.request('GET', `/v2/atlas/${DS}`, { as: 'general' });
    expect(listed.json['50_30_50']).toMatchObject({ id: 'newer', verified: false });
    const res = await post('general', DS, point('general'));
    expect(res.json.id).toBe('newer');
    expect((await storedEntries()).map((e) => e.id)).toEqual(['newer']);
  });

  it.each(['dsGeneral', 'dsWriter', 'general', 'writer'] as const)('lets %s write its own entry', async (as) => {
    expect((await post(as, DS, point(as))).status).toBe(200);
    expect(await storedEntries()).toHaveLength(1);
  });

  it.each(['reader', 'admin', 'owner', 'unknown'] as const)('refuses %s on the private dataset with 401, writing nothing', async (as) => {
    const res = await post(as, DS, point(as));
    expect(res.status).toBe(401);
    expect(res.json.detail).toMatch(/permission/);
    expect(await storedEntries()).toHaveLength(0);
  });

  it('lets anyone signed in write on a public dataset', async () => {
    expect((await post('unknown', PUBLIC_DS, point('unknown'))).status).toBe(200);
    expect((await svc.request('POST', `/v2/atlas/${PUBLIC_DS}?x=1&y=1&z=1`, { body: point('unknown') })).status).toBe(401);
  });

  it('writes for another user only for clio_write holders', async () => {
    const refused = await post('general', DS, point('dsGeneral'));
    expect(refused.status).toBe(401);
    expect(await storedEntries()).toHaveLength(0);
    for (const as of ['writer', 'dsWriter'] as const) {
      const res = await post(as, DS, point('dsGeneral'), `x=${as.length}&y=0&z=0`);
      expect(res.status, as).toBe(200);
      expect(res.json.user).toBe(email('dsGeneral'));
    }
    // The entry belongs to the named user: it shows in their GET.
    expect(Object.keys((await svc.request('GET', `/v2/atlas/${DS}`, { as: 'dsGeneral' })).json)).toHaveLength(2);
  });

  it('lets only clio_write holders set verified or change a verified entry; a re-POST keeps the flag', async () => {
    const verify = await post('general', DS, point('general', { verified: true }));
    expect(verify.status).toBe(401);
    expect(await storedEntries()).toHaveLength(0);

    const created = await post('general', DS, point('general'));
    expect(created.json.verified).toBe(false);
    // The web app's verify toggle re-POSTs the whole entry with the flag flipped.
    const verified = await post('writer', DS, { ...created.json, verified: true });
    expect(verified.status).toBe(200);
    expect(verified.json).toMatchObject({ id: created.json.id, verified: true, user: email('general') });

    const change = await post('general', DS, point('general', { title: 'changed' }));
    expect(change.status).toBe(401);
    expect((await storedEntries())[0]).toMatchObject({ title: 'weird point', verified: true });

    const edited = await post('dsWriter', DS, point('general', { title: 'edited' }));
    expect(edited.status).toBe(200);
    expect(edited.json).toMatchObject({ title: 'edited', verified: true });
    const unverified = await post('dsWriter', DS, point('general', { verified: false }));
    expect(unverified.json.verified).toBe(false);
  });

  it.each([
    ['a missing title', { user: USERS.general.email }, '', ['body', 'title']],
    ['a missing user', { title: 't' }, '', ['body', 'user']],
    ['an empty user', { title: 't', user: '' }, '', ['body', 'user']],
    ['a non-boolean verified', { title: 't', user: USERS.general.email, verified: 'yes' }, '', ['body', 'verified']],
    ['an array body', [{ title: 't', user: USERS.general.email }], '', ['body']],
    ['a missing coordinate', { title: 't', user: USERS.general.email }, 'x=1&y=2', ['query', 'z']],
  ])('rejects %s with 422 and writes nothing', async (_name, body, xyz, loc) => {
    const res = await post('general', DS, body, xyz || undefined);
    expect(res.status).toBe(422);
    expect(res.json.detail[0].loc).toEqual(loc);
    expect(await storedEntries()).toHaveLength(0);
  });
});

describe('GET /v2/atlas/{dataset}', () => {
  it("answers the caller's own entries of the dataset keyed by x_y_z", async () => {
    await post('general', DS, point('general', { kind: 'point', pos: [50, 30, 50] }));
    await post('general', DS, point('general'), 'x=-1&y=0&z=1');
    await post('writer', DS, point('writer'));
    await post('general', PUBLIC_DS, point('general'));
    await entries().doc('legacy').set({ user: email('general'), dataset: DS, locationkey: '9_9_9', title: 'no flag' });
    const res = await svc.request('GET', `/v2/atlas/${DS}`, { as: 'general' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['-1_0_1', '50_30_50', '9_9_9']);
    expect(res.json['50_30_50']).toMatchObject({ kind: 'point', pos: [50, 30, 50], user: email('general'), verified: false });
    expect(res.json['9_9_9']).toEqual({ user: email('general'), dataset: DS, locationkey: '9_9_9', title: 'no flag', id: 'legacy', verified: false });
  });

  it.each(['reader', 'dsGeneral', 'dsWriter', 'general', 'writer'] as const)('lets %s read', async (as) => {
    const res = await svc.request('GET', `/v2/atlas/${DS}`, { as });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({});
  });

  it.each(['admin', 'owner', 'unknown'] as const)('refuses %s with 401', async (as) => {
    expect((await svc.request('GET', `/v2/atlas/${DS}`, { as })).status).toBe(401);
  });
});

describe('GET /v2/atlas/all', () => {
  beforeEach(async () => {
    const seed: [string, Record<string, unknown>][] = [
      ['e1', { dataset: DS, user: email('general'), verified: true }],
      ['e2', { dataset: DS, user: email('general') }],
      ['e3', { dataset: DS, user: email('dsGeneral'), verified: false }],
      ['e4', { dataset: PUBLIC_DS, user: email('writer'), verified: false }],
      ['e5', { dataset: PUBLIC_DS, user: email('writer'), verified: true }],
      ['e6', { dataset: 'elsewhere', user: email('writer'), verified: true }],
    ];
    for (const [id, doc] of seed) await entries().doc(id).set({ ...doc, id, title: id, locationkey: '1_2_3', timestamp: 1 });
  });

  const visible: [Identity, string[]][] = [
    // verified ones, own ones, and unverified ones where the caller holds clio_write, on readable datasets
    ['general', ['e1', 'e2', 'e5', 'e6']],
    ['reader', ['e1', 'e5']],
    ['dsGeneral', ['e1', 'e3', 'e5']],
    ['dsWriter', ['e1', 'e2', 'e3', 'e5']],
    ['writer', ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']],
    ['unknown', ['e5']],
    ['admin', ['e5']],
  ];
  it.each(visible)('shows %s %j', async (as, ids) => {
    const res = await svc.request('GET', '/v2/atlas/all', { as });
    expect(res.status).toBe(200);
    expect(res.json.map((e: Entry) => e.id)).toEqual(ids);
  });

  it('reads a missing verified as false without writing it', async () => {
    const res = await svc.request('GET', '/v2/atlas/all', { as: 'general' });
    expect(res.json.find((e: Entry) => e.id === 'e2')).toMatchObject({ verified: false, title: 'e2' });
    expect((await entries().doc('e2').get()).data()).not.toHaveProperty('verified');
  });

  it('needs a token, and answers on the legacy paths', async () => {
    expect((await svc.request('GET', '/v2/atlas/all')).status).toBe(401);
    for (const path of ['/test/atlas/all', '/atlas/all/', '/clio_toplevel/atlas/all']) {
      expect((await svc.request('GET', path, { as: 'unknown' })).json, path).toHaveLength(1);
    }
  });
});

describe('DELETE /v2/atlas/{dataset}', () => {
  it("deletes only the caller's entry at that location", async () => {
    await post('general', DS, point('general'));
    await post('general', DS, point('general'), 'x=1&y=1&z=1');
    await post('writer', DS, point('writer'));
    const res = await svc.request('DELETE', `/v2/atlas/${DS}?x=50&y=30&z=50`, { as: 'general' });
    expect(res.status).toBe(200);
    expect(res.json).toBeNull();
    const left = await storedEntries();
    expect(left.map((e) => `${e.user} ${e.locationkey}`).sort()).toEqual([`${email('general')} 1_1_1`, `${email('writer')} 50_30_50`]);
  });

  it('refuses callers who cannot write and rejects bad coordinates, deleting nothing', async () => {
    await post('general', DS, point('general'));
    for (const as of ['reader', 'admin', 'unknown'] as const) {
      expect((await svc.request('DELETE', `/v2/atlas/${DS}?x=50&y=30&z=50`, { as })).status, as).toBe(401);
    }
    expect((await svc.request('DELETE', `/v2/atlas/${DS}?x=50&y=30&z=abc`, { as: 'general' })).status).toBe(422);
    expect(await storedEntries()).toHaveLength(1);
  });
});

describe('POST /v2/atlas-verify/{id}', () => {
  it('toggles verification for clio_write holders on the entry dataset, on every alias', async () => {
    const { json: created } = await post('general', DS, point('general'));
    const paths = ['/v2', '/test', '', '/clio_toplevel'];
    let expected = false;
    for (const [i, root] of paths.entries()) {
      const as = i % 2 ? 'dsWriter' : 'writer';
      const res = await svc.request('POST', `${root}/atlas-verify/${created.id}`, { as });
      expected = !expected;
      expect(res.status, root).toBe(200);
      expect(res.json).toMatchObject({ id: created.id, verified: expected, title: 'weird point' });
      expect((await storedEntries())[0].verified).toBe(expected);
    }
  });

  it('refuses others with 401 and says 404 for an unknown id', async () => {
    const { json: onPrivate } = await post('general', DS, point('general'));
    const { json: onPublic } = await post('general', PUBLIC_DS, point('general'));
    for (const as of ['general', 'dsGeneral', 'reader', 'admin', 'owner'] as const) {
      expect((await svc.request('POST', `/v2/atlas-verify/${onPrivate.id}`, { as })).status, as).toBe(401);
    }
    // A dataset-level clio_write covers that dataset only.
    expect((await svc.request('POST', `/v2/atlas-verify/${onPublic.id}`, { as: 'dsWriter' })).status).toBe(401);
    expect((await storedEntries()).every((e) => e.verified === false)).toBe(true);
    const missing = await svc.request('POST', '/v2/atlas-verify/nope', { as: 'writer' });
    expect(missing.status).toBe(404);
    expect(missing.json.detail).toMatch(/not found/);
  });
});

describe("the original README's atlas examples", () => {
  it('work verbatim at the bare paths without a token in TEST_USER mode', async () => {
    const readme = await startTestService({ TEST_USER: USERS.writer.email });
    try {
      await seedStandardData(readme.db);
      const opts = (body?: string) => ({ rawBody: body, contentType: 'application/json' });
      const mb20 = await readme.request('POST', '/atlas/mb20?x=50&y=30&z=50', opts('{"title": "weird point", "description": "it is raally strange", "user": "foo@bar"}'));
      expect(mb20.status).toBe(200);
      expect(mb20.json).toMatchObject({ title: 'weird point', user: 'foo@bar', dataset: 'mb20', locationkey: '50_30_50', verified: false });
      const abg = await readme.request('POST', '/atlas/AbG?x=50&y=30&z=50', opts('{"title": "weird point", "description": "it is also strange", "user": "foo@bar"}'));
      expect(abg.status).toBe(200);
      // Per dataset, a user sees their own entries; these belong to foo@bar.
      const own = await readme.request('GET', '/atlas/mb20', opts());
      expect(own.status).toBe(200);
      expect(own.json).toEqual({});
      const all = await readme.request('GET', '/atlas/all', opts());
      expect(all.json.map((e: Entry) => e.dataset).sort()).toEqual(['AbG', 'mb20']);
      expect((await readme.request('DELETE', '/atlas/mb20?x=50&y=30&z=50', opts())).status).toBe(200);
      const toggled = await readme.request('POST', `/clio_toplevel/atlas-verify/${mb20.json.id}`, opts());
      expect(toggled.status).toBe(200);
      expect(toggled.json.verified).toBe(true);
    } finally {
      await readme.close();
    }
  });
});
