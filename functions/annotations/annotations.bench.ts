/**
 * Benchmarks of the annotations function against the bare Firestore client doing the same work
 * on the same emulator, alternately, in one run: GET of one user's 10,000 annotations against one
 * collection read, and POST of 500 annotations against one batched write of the same documents.
 * The function runs in this process behind the same local server and wrapper the tests use.
 */
import { randomBytes } from 'node:crypto';
import { Firestore } from '@google-cloud/firestore';
import type { Benchmark, BenchContext } from '../../infra/bench';
import { figures, formatRange, median } from '../../infra/figures';
import { issueFlyemToken } from '../../shared/auth/tokens';
import { COLLECTIONS } from '../../shared/collections';
import { loadConfig } from '../../shared/config';
import { createContext } from '../../shared/context';
import { Logger } from '../../shared/log';
import { listenLocally } from '../../shared/testing/listen-locally';
import { createLocalServer } from '../../emulator/serve';
import { annotations } from './routes';
import { annotationKey } from './store';

const USER = 'bench@example.org';
const SECRET = 'annotations-bench-secret';
const READ_COUNT = 10_000;
const WRITE_COUNT = 500;
const ROUNDS = 11;

interface BenchService {
  url: string;
  token: string;
  bare: Firestore;
  close(): Promise<void>;
}

/** The function on a local port, a fresh project, a user allowed to write, and a bare client beside it. */
async function startBenchService(ctx: BenchContext): Promise<BenchService> {
  const projectId = `demo-bench-annotations-${randomBytes(4).toString('hex')}`;
  const config = loadConfig({ FIRESTORE_EMULATOR_HOST: ctx.firestoreEmulatorHost, GOOGLE_CLOUD_PROJECT: projectId, FLYEM_SECRET: SECRET });
  const appContext = createContext(config, new Logger(() => undefined));
  const server = await listenLocally(createLocalServer([annotations], appContext));
  const [host, port] = ctx.firestoreEmulatorHost.split(':');
  const bare = new Firestore({ projectId, host, port: Number(port), ssl: false, customHeaders: { Authorization: 'Bearer owner' } });
  await bare.collection(COLLECTIONS.users).doc(USER).set({ global_roles: ['clio_general'] });
  return {
    url: server.url,
    token: issueFlyemToken(SECRET, USER, null),
    bare,
    close: async () => {
      await server.close();
      await Promise.all([bare.terminate(), appContext.db().terminate()]);
    },
  };
}

const annotation = (i: number) => ({
  kind: 'point' as const,
  pos: [1000 + i, 2000 + (i % 97), 3000 + (i % 13)],
  prop: { comment: `annotation ${i}`, timestamp: String(1_700_000_000_000 + i) },
  tags: ['bench'],
  description: 'a benchmark point',
});

async function timed(work: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}


/** Runs both sides alternately (after one warm-up each) and reports medians and the ratios of the rounds. */
async function compare(ours: () => Promise<void>, bare: () => Promise<void>, labels: [string, string], bench: BenchContext): Promise<string[]> {
  await ours();
  await bare();
  const times: [number[], number[]] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    times[0].push(await timed(ours));
    times[1].push(await timed(bare));
  }
  const [a, b] = times.map(median);
  // Each round's pair next to each other, so that drift in the machine's speed cancels.
  const ratio = figures(times[0].map((ms, round) => ms / times[1][round]));
  bench.record({ metric: labels[0], value: `${formatRange(ratio, 2)}x`, goal: '<= 1.3x', met: ratio.median <= 1.3 });
  return [`${labels[0]}: median ${a.toFixed(1)} ms over ${ROUNDS} rounds`, `${labels[1]}: median ${b.toFixed(1)} ms`, `ratio per round: ${formatRange(ratio, 2)}x`];
}

async function expectOk(response: Response, what: string): Promise<unknown> {
  if (response.status !== 200) throw new Error(`${what} failed with ${response.status}: ${await response.text()}`);
  return response.json();
}

export const annotationsReadBenchmark: Benchmark = {
  name: `annotations: GET ${READ_COUNT.toLocaleString('en')} annotations of one user`,
  goal: 'ratio <= 1.3 against one bare collection read',
  async run(ctx) {
    const svc = await startBenchService(ctx);
    try {
      const collection = svc.bare.collection(COLLECTIONS.annotationsV2).doc('bench').collection(USER);
      for (let start = 0; start < READ_COUNT; start += 500) {
        const batch = svc.bare.batch();
        for (let i = start; i < Math.min(start + 500, READ_COUNT); i++) {
          const item = annotation(i);
          batch.set(collection.doc(annotationKey(item)), { ...item, user: USER });
        }
        await batch.commit();
      }
      return await compare(
        async () => {
          const listed = await expectOk(await fetch(`${svc.url}/v2/annotations/bench`, { headers: { authorization: `Bearer ${svc.token}` } }), 'GET');
          if (!Array.isArray(listed) || listed.length !== READ_COUNT) throw new Error('GET returned the wrong number of annotations');
        },
        async () => {
          const snapshot = await collection.get();
          if (snapshot.docs.map((doc) => doc.data()).length !== READ_COUNT) throw new Error('bare read returned the wrong number');
        },
        ['GET /v2/annotations/bench (HTTP, auth, JSON)', 'bare client collection get()'],
        ctx,
      );
    } finally {
      await svc.close();
    }
  },
};

export const annotationsWriteBenchmark: Benchmark = {
  name: `annotations: POST ${WRITE_COUNT} annotations in one request`,
  goal: 'ratio <= 1.3 against one bare batched write',
  async run(ctx) {
    const svc = await startBenchService(ctx);
    try {
      const items = Array.from({ length: WRITE_COUNT }, (_, i) => annotation(i));
      const body = JSON.stringify(items);
      const bareCollection = svc.bare.collection(COLLECTIONS.annotationsV2).doc('bench-bare').collection(USER);
      return await compare(
        async () => {
          const response = await fetch(`${svc.url}/v2/annotations/bench`, { method: 'POST', headers: { authorization: `Bearer ${svc.token}` }, body });
          const answer = (await expectOk(response, 'POST')) as { keys?: unknown[] };
          if (answer.keys?.length !== WRITE_COUNT) throw new Error('POST answered the wrong number of keys');
        },
        async () => {
          const batch = svc.bare.batch();
          for (const item of items) batch.set(bareCollection.doc(annotationKey(item)), { ...item, user: USER });
          await batch.commit();
        },
        ['POST /v2/annotations/bench (HTTP, auth, validation, batch)', 'bare client batch of 500 set()'],
        ctx,
      );
    } finally {
      await svc.close();
    }
  },
};
