/**
 * One instance serves many callers at once when a function's concurrency is above 1. Fifty
 * concurrent mixed requests from ten identities: no answer, cached user record or access-log
 * line may carry another request's user, dataset or data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../collections';
import { startTestService, type TestService, type TestResponse } from '../testing/harness';

const PEOPLE = Array.from({ length: 10 }, (_, i) => ({ email: `person${i}@test.org`, dataset: `iso-ds-${i}` }));

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
  const batch = svc.db.batch();
  for (const { email, dataset } of PEOPLE) {
    batch.set(svc.db.collection(COLLECTIONS.users).doc(email), { datasets: { [dataset]: ['clio_general'] } });
    batch.set(svc.db.collection(COLLECTIONS.datasets).doc(dataset), { description: `the dataset of ${email}` });
  }
  await batch.commit();
  await svc.ctx.datasets.refresh();
  for (const { email, dataset } of PEOPLE) {
    const as = { authorization: `Bearer ${svc.tokenFor(email)}` };
    expect((await svc.request('POST', '/v2/kv/iso/k', { ...as, body: { owner: email, write: -1 } })).status).toBe(200);
    expect((await svc.request('POST', `/v2/annotations/${dataset}`, { ...as, body: { kind: 'point', pos: [1, 2, 3], title: email } })).status).toBe(200);
  }
});
afterAll(() => svc.close());

type Kind = 'roles' | 'kv read' | 'kv write' | 'dataset' | 'annotations';
const KINDS: Kind[] = ['roles', 'kv read', 'kv write', 'dataset', 'annotations'];

describe('50 concurrent requests from 10 identities on one instance', () => {
  it('never mixes up users, datasets or data in answers, caches or access-log lines', async () => {
    svc.logs.length = 0;
    const probes = Array.from({ length: 50 }, (_, n) => ({ n, person: PEOPLE[n % 10], kind: KINDS[Math.floor(n / 10)] }));
    const send = ({ n, person, kind }: (typeof probes)[number]): Promise<TestResponse> => {
      const options = { authorization: `Bearer ${svc.tokenFor(person.email)}` };
      const probe = `probe=${n}`;
      switch (kind) {
        case 'roles':
          return svc.request('GET', `/v2/roles?${probe}`, options);
        case 'kv read':
          return svc.request('GET', `/v2/kv/iso/k?${probe}`, options);
        case 'kv write':
          return svc.request('POST', `/v2/kv/iso/k?${probe}`, { ...options, body: { owner: person.email, write: n } });
        case 'dataset':
          return svc.request('GET', `/v2/datasets/${person.dataset}?${probe}`, options);
        case 'annotations':
          return svc.request('GET', `/v2/annotations/${person.dataset}?${probe}`, options);
      }
    };
    const answers = await Promise.all(probes.map(send));

    for (const [index, { person, kind }] of probes.entries()) {
      const res = answers[index];
      expect(res.status, `${kind} ${person.email}`).toBe(200);
      if (kind === 'roles') expect(res.json).toMatchObject({ email: person.email, datasets: { [person.dataset]: ['clio_general'] } });
      if (kind === 'roles') expect(Object.keys(res.json.datasets)).toEqual([person.dataset]);
      if (kind === 'kv read') expect(res.json.owner).toBe(person.email);
      if (kind === 'dataset') expect(res.json.description).toBe(`the dataset of ${person.email}`);
      if (kind === 'annotations') expect(res.json.map((a: { title: string; user: string }) => [a.title, a.user])).toEqual([[person.email, person.email]]);
    }

    // One access-log line per request, labelled with that request's own user and dataset.
    for (const { n, person, kind } of probes) {
      const lines = svc.logs.filter((line) => (line.httpRequest as { requestUrl?: string } | undefined)?.requestUrl?.endsWith(`probe=${n}`));
      expect(lines, `probe ${n}`).toHaveLength(1);
      expect(lines[0].user, `probe ${n}`).toBe(person.email);
      expect(lines[0].dataset, `probe ${n}`).toBe(kind === 'dataset' || kind === 'annotations' ? person.dataset : undefined);
    }

    // The per-instance user cache holds each person's own record.
    for (const { email, dataset } of PEOPLE) {
      const cached = await svc.ctx.users.get(email);
      expect(cached.email).toBe(email);
      expect(cached.datasets).toEqual({ [dataset]: ['clio_general'] });
    }

    // Each person's key holds one of that person's own writes.
    for (const { email } of PEOPLE) {
      const stored = (await svc.db.collection(COLLECTIONS.keyValues).doc(email).collection('iso').doc('k').get()).data();
      expect(stored?.owner).toBe(email);
    }
  });
});
