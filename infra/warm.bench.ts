/**
 * Warm-instance costs (issue 15), each beside its baseline in the same process and the same run:
 *   - authentication with warm caches, FlyEM and Google tokens (microseconds per call);
 *   - p50/p99 latency of four requests through the whole wrapper with a FlyEM token, against a
 *     bare node:http handler doing the same Firestore operations with the bare client;
 *   - the Firestore calls each route makes on a warm instance (counted from the client's log).
 * The functions run behind the local server the tests use (the same wrapper that is deployed).
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import type { Transport } from '../shared/firestore-client/transport';
import type { Benchmark, BenchContext } from './bench';
import { issueFlyemToken } from '../shared/auth/tokens';
import { COLLECTIONS } from '../shared/collections';
import { loadConfig } from '../shared/config';
import { type AppContext, createContext } from '../shared/context';
import { Logger } from '../shared/log';
import { listenLocally, type LocalServer } from '../shared/testing/listen-locally';
import { startGoogleCertServer } from '../shared/testing/google-certs';
import { createLocalServer } from '../emulator/serve';
import { FAMILIES } from '../functions/registry';
import { annotationKey } from '../functions/annotations/store';
import { googleFirestore } from '../shared/testing/google-firestore';
import { benchAnnotation as annotation, BENCH_DATASET as DATASET, BENCH_USER as USER, seedBenchData } from './bench-data';
import { figures, formatRange, percentile } from './figures';
import { mountedPaths } from '../shared/http/routes';
import { GcsTestServer } from '../shared/testing/gcs-test-server';
import { fillPath, type InputContext, requestInput } from '../shared/testing/route-inputs';
import { DvidTestServer } from '../functions/json-annotations/dvid-test-server';

const SECRET = 'warm-bench-secret';
const ROUNDS = 5;
const REQUESTS_PER_ROUND = 200;


interface Setup {
  readonly ctx: AppContext;
  readonly ours: LocalServer;
  readonly bare: LocalServer;
  readonly db: Firestore;
  readonly token: string;
  close(): Promise<void>;
}

/** Our functions and the bare handler, on one fresh project with a dataset, a user, a kv key and 100 annotations. */
async function setUp(bench: BenchContext, extraEnv: Record<string, string> = {}): Promise<Setup> {
  const projectId = `demo-bench-warm-${randomBytes(4).toString('hex')}`;
  const env = { FIRESTORE_EMULATOR_HOST: bench.firestoreEmulatorHost, GOOGLE_CLOUD_PROJECT: projectId, FLYEM_SECRET: SECRET, ...extraEnv };
  const config = loadConfig(env);
  const ctx = createContext(config, new Logger(() => undefined));
  const db = googleFirestore(bench.firestoreEmulatorHost, projectId);
  await seedBenchData(db, [USER]);
  const ours = await listenLocally(createLocalServer(FAMILIES, ctx));
  const bare = await listenLocally(bareHandler(db));
  return {
    ctx,
    ours,
    bare,
    db,
    token: issueFlyemToken(SECRET, USER, null),
    close: async () => {
      await Promise.all([ours.close(), bare.close()]);
      await Promise.all([db.terminate(), ctx.db().terminate()]);
    },
  };
}

/** The same Firestore operations with the bare client, answered as JSON: the floor our wrapper is compared with. */
function bareHandler(db: Firestore) {
  return createServer((req, res) => {
    const reply = (value: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(value));
    };
    const work = async () => {
      if (req.url === '/dataset') return reply((await db.collection(COLLECTIONS.datasets).doc(DATASET).get()).data());
      if (req.url === '/kv') return reply((await db.collection(COLLECTIONS.keyValues).doc(USER).collection('bench').doc('key').get()).data());
      if (req.url === '/annotations') return reply((await db.collection(COLLECTIONS.annotationsV2).doc(DATASET).collection(USER).get()).docs.map((doc) => doc.data()));
      // The same JSON body ours gets, read and parsed as a bare function would.
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const item = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReturnType<typeof annotation>;
      await db.collection(COLLECTIONS.annotationsV2).doc(DATASET).collection(`${USER}-bare`).doc(annotationKey(item)).set({ ...item, user: USER });
      return reply({ key: annotationKey(item) });
    };
    void work();
  });
}

interface Operation {
  readonly name: string;
  readonly ours: (setup: Setup, i: number) => Promise<Response>;
  readonly bare: (setup: Setup, i: number) => Promise<Response>;
}

const OPERATIONS: readonly Operation[] = [
  { name: 'GET dataset', ours: (s) => get(s, `/v2/datasets/${DATASET}`), bare: (s) => fetch(`${s.bare.url}/dataset`) },
  { name: 'GET kv key', ours: (s) => get(s, '/v2/kv/bench/key'), bare: (s) => fetch(`${s.bare.url}/kv`) },
  { name: 'GET 100 annotations', ours: (s) => get(s, `/v2/annotations/${DATASET}`), bare: (s) => fetch(`${s.bare.url}/annotations`) },
  {
    name: 'POST one annotation',
    ours: (s, i) => fetch(`${s.ours.url}/v2/annotations/${DATASET}`, { method: 'POST', headers: { authorization: `Bearer ${s.token}` }, body: JSON.stringify(annotation(100_000 + i)) }),
    bare: (s, i) => fetch(`${s.bare.url}/write`, { method: 'POST', body: JSON.stringify(annotation(200_000 + i)) }),
  },
];

const get = (s: Setup, path: string) => fetch(`${s.ours.url}${path}`, { headers: { authorization: `Bearer ${s.token}` } });

async function timedRequest(send: () => Promise<Response>): Promise<number> {
  const started = performance.now();
  const res = await send();
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`answered ${res.status}`);
  return performance.now() - started;
}

export const warmLatencyBenchmark: Benchmark = {
  name: 'warm latency: four requests through the whole wrapper (FlyEM token) / a bare handler doing the same Firestore operations',
  goal: 'p50 <= 1.2x, p99 <= 1.3x',
  async run(bench) {
    const setup = await setUp(bench);
    let sequence = 0;
    try {
      const lines = [`${ROUNDS} rounds of ${REQUESTS_PER_ROUND} sequential requests per side, sides alternating in blocks of 20; ratios per round, median (range)`];
      for (const operation of OPERATIONS) {
        for (let i = 0; i < 50; i++) {
          await timedRequest(() => operation.ours(setup, sequence++));
          await timedRequest(() => operation.bare(setup, sequence++));
        }
        const p50: number[] = [];
        const p99: number[] = [];
        let ourP50 = 0;
        let bareP50 = 0;
        // CPU of this process per request (the server side and the fetch client, the same for both sides).
        const cpu = { ours: 0, bare: 0 };
        const cpuOf = async (side: 'ours' | 'bare', send: () => Promise<number>) => {
          const before = process.cpuUsage();
          const ms = await send();
          const used = process.cpuUsage(before);
          cpu[side] += used.user + used.system;
          return ms;
        };
        for (let round = 0; round < ROUNDS; round++) {
          const ours: number[] = [];
          const bare: number[] = [];
          for (let block = 0; block < REQUESTS_PER_ROUND / 20; block++) {
            for (let i = 0; i < 20; i++) ours.push(await cpuOf('ours', () => timedRequest(() => operation.ours(setup, sequence++))));
            for (let i = 0; i < 20; i++) bare.push(await cpuOf('bare', () => timedRequest(() => operation.bare(setup, sequence++))));
          }
          ours.sort((a, b) => a - b);
          bare.sort((a, b) => a - b);
          p50.push(percentile(ours, 50) / percentile(bare, 50));
          p99.push(percentile(ours, 99) / percentile(bare, 99));
          ourP50 += percentile(ours, 50) / ROUNDS;
          bareP50 += percentile(bare, 50) / ROUNDS;
        }
        bench.record({ metric: `warm p50 ${operation.name} / bare`, value: `${formatRange(figures(p50), 2)}x`, goal: '<= 1.2x', met: figures(p50).median <= 1.2 });
        bench.record({ metric: `warm p99 ${operation.name} / bare`, value: `${formatRange(figures(p99), 2)}x`, goal: '<= 1.3x', met: figures(p99).median <= 1.3 });
        lines.push(
          `${operation.name.padEnd(20)} ours p50 ${ourP50.toFixed(2)} ms, bare ${bareP50.toFixed(2)} ms;  p50 ratio ${formatRange(figures(p50), 2)}x  p99 ratio ${formatRange(figures(p99), 2)}x;  ` +
            `CPU per request ours ${(cpu.ours / (ROUNDS * REQUESTS_PER_ROUND)).toFixed(0)} µs, bare ${(cpu.bare / (ROUNDS * REQUESTS_PER_ROUND)).toFixed(0)} µs`,
        );
      }
      return lines;
    } finally {
      await setup.close();
    }
  },
};

export const authenticationBenchmark: Benchmark = {
  name: 'authentication with warm caches (FlyEM and Google tokens), per call',
  goal: '< 0.1 ms per request',
  async run(bench) {
    const certs = await startGoogleCertServer();
    const setup = await setUp(bench, { GOOGLE_CERTS_URL: certs.url, AUTH_AUDIENCES: 'test-client.apps.googleusercontent.com' });
    try {
      const tokens = { FlyEM: setup.token, Google: certs.sign({ email: USER, email_verified: true }) };
      const lines: string[] = [];
      for (const [kind, token] of Object.entries(tokens)) {
        const credentials = { authorization: `Bearer ${token}` };
        for (let i = 0; i < 2000; i++) await setup.ctx.auth.authenticate(credentials);
        const perCall: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          const calls = 20_000;
          const started = performance.now();
          for (let i = 0; i < calls; i++) await setup.ctx.auth.authenticate(credentials);
          perCall.push(((performance.now() - started) / calls) * 1000);
        }
        lines.push(`${kind.padEnd(6)} token: ${formatRange(figures(perCall), 1)} µs per call (${ROUNDS} rounds of 20,000)`);
        bench.record({ metric: `authentication, warm, ${kind} token`, value: `${formatRange(figures(perCall), 1)} µs`, goal: '< 100 µs', met: figures(perCall).median < 100 });
      }
      return lines;
    } finally {
      await setup.close();
      await certs.close();
    }
  },
};

/** The Firestore calls the service's client sends while `work` runs, by kind. */
async function firestoreCalls(transport: Transport, work: () => Promise<void>): Promise<string> {
  const calls = new Map<string, number>();
  transport.onCall = (method, body) => {
    const request = body as { writes?: unknown[]; documents?: unknown[] };
    const kind = request.writes ? `Commit(${request.writes.length} writes)` : request.documents ? `BatchGetDocuments(${request.documents.length} docs)` : method;
    calls.set(kind, (calls.get(kind) ?? 0) + 1);
  };
  try {
    await work();
  } finally {
    transport.onCall = undefined;
  }
  return calls.size === 0 ? 'none' : [...calls].map(([kind, count]) => `${count} ${kind}`).join(', ');
}

/**
 * Every route of the route table (legacy mode), asked twice with the valid inputs the route sweeps
 * use, by a caller allowed everything, against local stand-ins for DVID and Cloud Storage; the
 * Firestore calls of the second request are printed. Upstream-only routes print "none".
 */
export const firestoreOperationsBenchmark: Benchmark = {
  name: 'Firestore calls per request on a warm instance, every route',
  goal: 'printed; the minimum the data needs (0 reads for the caller on a warm instance)',
  async run(bench) {
    const gcs = await new GcsTestServer().start();
    const dvid = await DvidTestServer.start();
    dvid.addNode('u1');
    const setup = await setUp(bench, { STORAGE_API_URL: gcs.url, SIG_BUCKET: 'signatures' });
    const everything = 'everything@example.org';
    const context: InputContext = { dataset: DATASET, email: everything, atlasEntryId: 'no-such-entry' };
    await setup.db.collection(COLLECTIONS.users).doc(everything).set({ global_roles: ['admin', 'clio_general', 'clio_write'] });
    await setup.db.collection(COLLECTIONS.datasets).doc(DATASET).set({ dvid: dvid.url, tag: 'v1.2', uuid: 'u1' }, { merge: true });
    await setup.db.collection(COLLECTIONS.volumes).doc(DATASET).set({ bucket: 'volume-bucket', path: 'p' });
    await setup.ctx.datasets.refresh();
    const token = issueFlyemToken(SECRET, everything, null);
    try {
      const lines: string[] = ['route (status of the counted request): Firestore calls'];
      for (const family of FAMILIES) {
        for (const route of family.routes.filter((one) => !one.modes || one.modes.includes('legacy'))) {
          const input = requestInput(route, context);
          const url = `${setup.ours.url}${fillPath(route, mountedPaths(route)[0], context)}${input.query ? `?${input.query}` : ''}`;
          const send = async () => {
            const res = await fetch(url, { method: route.method, headers: { authorization: `Bearer ${token}` }, body: input.body === undefined ? undefined : JSON.stringify(input.body) });
            await res.arrayBuffer();
            return res.status;
          };
          await send();
          let status = 0;
          const calls = await firestoreCalls(setup.ctx.db().transport, async () => void (status = await send()));
          lines.push(`${`${route.method} ${route.path}`.padEnd(58)} (${status}) ${calls}`);
          if (route.path === '/roles') bench.record({ metric: 'Firestore calls of GET /v2/roles (the caller only), warm', value: calls, goal: 'none', met: calls === 'none' });
        }
      }
      bench.record({ metric: 'Firestore calls per request, every route', value: `listed above (${lines.length - 1} routes)`, goal: 'printed' });
      return lines;
    } finally {
      await setup.close();
      await Promise.all([gcs.close(), dvid.close()]);
    }
  },
};
