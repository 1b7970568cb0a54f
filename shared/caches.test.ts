/**
 * The per-instance caches against the real emulator: TTLs, replace-not-merge reloads, shared
 * reloads under concurrency, and group memberships.
 */
import type { Firestore } from './firestore-client/client';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { UserDirectory } from './auth/users';
import { COLLECTIONS } from './collections';
import { loadConfig } from './config';
import { DatasetCatalog } from './datasets';
import { lazyFirestore } from './firestore';

let firestore: () => Firestore;
let reads = 0;
/** Counts how often the caches go to Firestore. */
const counted = () => {
  reads++;
  return firestore();
};
/** Long enough that the emulator writes made inside it cannot outlast it on a slow machine. */
const TTL_MS = 1500;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

beforeAll(() => {
  firestore = lazyFirestore(
    loadConfig({ FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'), GOOGLE_CLOUD_PROJECT: `demo-caches-${randomBytes(4).toString('hex')}` }),
  );
});

describe('DatasetCatalog', () => {
  it('shares one load between concurrent callers and reloads after its TTL', async () => {
    await firestore().collection(COLLECTIONS.datasets).doc('a').set({ description: 'a', public: true });
    const catalog = new DatasetCatalog(counted, TTL_MS);
    reads = 0;
    const results = await Promise.all(Array.from({ length: 20 }, () => catalog.publicIds()));
    expect(reads).toBe(1);
    expect(results.every((ids) => ids.has('a'))).toBe(true);
    await catalog.get('a');
    expect(reads).toBe(1);
    await sleep(TTL_MS + 100);
    await catalog.get('a');
    expect(reads).toBe(2);
  });

  it('replaces rather than merges: deleted and un-published datasets are forgotten', async () => {
    const datasets = firestore().collection(COLLECTIONS.datasets);
    await datasets.doc('gone').set({ description: 'g', public: true });
    await datasets.doc('private-now').set({ description: 'p', public: true });
    const catalog = new DatasetCatalog(counted);
    expect([...(await catalog.publicIds())]).toEqual(expect.arrayContaining(['gone', 'private-now']));
    await datasets.doc('gone').delete();
    await datasets.doc('private-now').update({ public: false });
    await catalog.refresh();
    expect(await catalog.get('gone')).toBeUndefined();
    expect((await catalog.publicIds()).has('private-now')).toBe(false);
  });

  it('sees its own writes at once, without a reload', async () => {
    const catalog = new DatasetCatalog(counted);
    await catalog.publicIds();
    reads = 0;
    catalog.remember('mine', { description: 'm', public: true });
    expect((await catalog.publicIds()).has('mine')).toBe(true);
    catalog.forget('mine');
    expect(await catalog.get('mine')).toBeUndefined();
    expect(reads).toBe(0);
  });
});

describe('UserDirectory', () => {
  it('reads each user once per TTL, sharing the read between concurrent requests', async () => {
    await firestore().collection(COLLECTIONS.users).doc('u@test.org').set({ global_roles: ['clio_read'] });
    const users = new UserDirectory(counted, undefined, TTL_MS);
    reads = 0;
    const all = await Promise.all(Array.from({ length: 10 }, () => users.get('u@test.org')));
    expect(reads).toBe(1);
    expect(all.every((user) => user.global_roles[0] === 'clio_read')).toBe(true);
    await firestore().collection(COLLECTIONS.users).doc('u@test.org').set({ global_roles: ['clio_write'] });
    expect((await users.get('u@test.org')).global_roles).toEqual(['clio_read']);
    await sleep(TTL_MS + 100);
    expect((await users.get('u@test.org')).global_roles).toEqual(['clio_write']);
  });

  it('does not cache unknown users, so a user created elsewhere is seen at once', async () => {
    const users = new UserDirectory(counted, undefined);
    expect((await users.get('later@test.org')).global_roles).toEqual([]);
    await firestore().collection(COLLECTIONS.users).doc('later@test.org').set({ global_roles: ['clio_general'] });
    expect((await users.get('later@test.org')).global_roles).toEqual(['clio_general']);
  });

  it('rebuilds group memberships on refresh, dropping members who left', async () => {
    const collection = firestore().collection(COLLECTIONS.users);
    await collection.doc('g1@test.org').set({ groups: ['UK Drosophila Connectomics'] });
    await collection.doc('g2@test.org').set({ groups: ['UK Drosophila Connectomics', 'other'] });
    const users = new UserDirectory(counted, undefined);
    expect([...(await users.members('UK Drosophila Connectomics'))].sort()).toEqual(['g1@test.org', 'g2@test.org']);
    await collection.doc('g1@test.org').set({ groups: [] });
    expect((await users.members('UK Drosophila Connectomics')).has('g1@test.org')).toBe(true);
    await users.refresh();
    expect([...(await users.members('UK Drosophila Connectomics'))]).toEqual(['g2@test.org']);
    expect((await users.members('nobody')).size).toBe(0);
  });

  it('applies the OWNER rule case-insensitively without a user document', async () => {
    const users = new UserDirectory(counted, 'boss@test.org');
    expect((await users.get('boss@test.org')).global_roles).toEqual(['admin']);
    expect((await users.get('other@test.org')).global_roles).toEqual([]);
  });
});
