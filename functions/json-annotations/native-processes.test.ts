/**
 * Two instances in two processes writing one body of a Firestore-native dataset at once: this test
 * process, and the built bundle (dist/json-annotations) under the Functions Framework. They share
 * nothing but the database, so only Firestore's transactions keep them from losing a change.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { join } from 'node:path';
import { COLLECTIONS } from '../../shared/collections';
import { DS, FLYEM_SECRET, seedStandardData, startTestService, type TestService, USERS } from '../../shared/testing/harness';
import { firstAnswer, type FunctionProcess, spawnFunction } from '../../infra/function-process';

const BASE = `/v2/json-annotations/${DS}/neurons`;
const WRITERS = 50;

let svc: TestService;
let other: FunctionProcess;
beforeAll(async () => {
  svc = await startTestService();
  await seedStandardData(svc.db);
  await svc.db.collection(COLLECTIONS.datasets).doc(DS).set({ neurons: { store: 'firestore' } }, { merge: true });
  await svc.ctx.datasets.refresh();
  other = await spawnFunction(join(__dirname, '../../dist/json-annotations'), 'json-annotations', {
    FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'),
    GOOGLE_CLOUD_PROJECT: svc.projectId,
    FLYEM_SECRET,
    METADATA_SERVER_DETECTION: 'none',
  });
  await firstAnswer(other, () => fetch(`${other.url}${BASE}/id-number/1`, { headers: { authorization: `Bearer ${svc.tokenFor(USERS.writer.email)}` } }));
});
afterAll(async () => {
  other?.stop();
  await svc.close();
});

it(`keeps every change of ${WRITERS} writers on one body, half in each of two processes`, async () => {
  const headers = { authorization: `Bearer ${svc.tokenFor(USERS.writer.email)}` };
  const writes = Array.from({ length: WRITERS }, (_, i) => {
    const url = `${i % 2 ? svc.url : other.url}${BASE}`;
    return fetch(url, { method: 'POST', headers, body: `{"bodyid": 88, "f${i}": ${i}}` }).then(async (res) => [res.status, await res.text()] as const);
  });
  for (const [status, text] of await Promise.all(writes)) expect(status, text).toBe(200);
  const [head] = (await svc.request('GET', `${BASE}/id-number/88`, { as: 'writer' })).json;
  for (let i = 0; i < WRITERS; i++) expect(head[`f${i}`], `f${i}`).toBe(i);
  const history = (await svc.request('GET', `${BASE}/history/88?size=100`, { as: 'writer' })).json.changes;
  expect(history.map((change: { seq: number }) => change.seq)).toEqual(Array.from({ length: WRITERS }, (_, i) => i + 1));
}, 120_000);
