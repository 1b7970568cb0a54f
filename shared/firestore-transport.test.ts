/**
 * Both transports of the Firestore client (FIRESTORE_TRANSPORT=grpc|rest) against the emulator,
 * through the service: transactions, batched writes, batched reads, queries, the paged reads of
 * `all`, and uint64 values must give the same answers. The REST client needs explicit emulator
 * credentials (googleapis/nodejs-firestore#1811), which shared/firestore.ts gives it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from './collections';
import { seedStandardData, startTestService, type TestService } from './testing/harness';

const services: Record<'grpc' | 'rest', TestService | undefined> = { grpc: undefined, rest: undefined };
beforeAll(async () => {
  for (const transport of ['grpc', 'rest'] as const) {
    const svc = await startTestService({ FIRESTORE_TRANSPORT: transport });
    await seedStandardData(svc.db);
    await svc.db.collection(COLLECTIONS.datasets).doc('native').set({ description: 'native', neurons: { store: 'firestore' } });
    services[transport] = svc;
  }
});
afterAll(async () => {
  for (const svc of Object.values(services)) await svc?.close();
});

/** The answers of one flow that uses every kind of Firestore call the service makes. */
async function flow(svc: TestService): Promise<unknown[]> {
  const answers: unknown[] = [];
  const ask = async (method: string, path: string, options: Parameters<TestService['request']>[2]) => {
    const res = await svc.request(method, path, options);
    answers.push([method, path, res.status, res.text.replace(/\d{10}\.\d+/g, '<time>').replace(/"_?(time|timestamp|_time)":"?[^,"}]*"?/g, '"$1":<time>')]);
    return res;
  };
  await ask('POST', '/v2/datasets', { as: 'admin', body: { transported: { description: 'by transaction', tag: 'v1', public: true } } });
  await ask('GET', '/v2/datasets/transported', { as: 'admin' });
  await ask('POST', '/v2/kv/scope/key', { as: 'writer', body: { big: 18446744073709551615n.toString(), n: 1 } });
  await ask('GET', '/v2/kv/scope', { as: 'writer' });
  await ask('POST', '/v2/annotations/private-ds', { as: 'writer', body: [{ kind: 'point', pos: [1, 2, 3] }, { kind: 'point', pos: [4, 5, 6] }] });
  await ask('GET', '/v2/annotations/private-ds', { as: 'writer' });
  await ask('POST', '/v2/json-annotations/native/neurons', { as: 'writer', rawBody: '[{"bodyid": 18446744073709551615, "type": "a"}, {"bodyid": 5, "type": "b"}]' });
  await ask('GET', '/v2/json-annotations/native/neurons/id-number/5,18446744073709551615', { as: 'writer' });
  await ask('POST', '/v2/json-annotations/native/neurons/query', { as: 'writer', body: { type: 'a' } });
  await ask('GET', '/v2/json-annotations/native/neurons/all?size=1', { as: 'writer' });
  await ask('GET', '/v2/json-annotations/native/neurons/all', { as: 'writer' });
  return answers;
}

describe('the REST and gRPC transports', () => {
  it('give the same answers to a flow of transactions, batches, batched reads, queries and paged reads', async () => {
    const grpc = await flow(services.grpc!);
    const rest = await flow(services.rest!);
    expect(grpc.every((answer) => [200].includes((answer as unknown[])[2] as number)), JSON.stringify(grpc)).toBe(true);
    expect(rest).toEqual(grpc);
    expect(JSON.stringify(rest)).toContain('18446744073709551615');
  });
});
