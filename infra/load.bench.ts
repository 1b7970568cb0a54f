/**
 * Load (issue 15): autocannon, 50 connections, LOAD_SECONDS each (30 by default), against one
 * instance of a built function under the Functions Framework, and against the bare-client function
 * doing the same Firestore operations under the same load, in two rounds (each side first once); a
 * hello-world run gives the ceiling of the framework on this machine.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { Benchmark } from './bench';
import { issueFlyemToken } from '../shared/auth/tokens';
import { googleFirestore } from '../shared/testing/google-firestore';
import { BENCH_DATASET as DATASET, BENCH_USER as USER, seedBenchData } from './bench-data';
import { DIST } from './build';
import { figures, formatRange } from './figures';
import { firstAnswer, functionEnv, type FunctionProcess, spawnFunction } from './function-process';

const SECRET = 'load-bench-secret';
const CONNECTIONS = 50;
const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const ROUNDS = 2;
const IDENTITIES = Array.from({ length: 10 }, (_, i) => `load${i}@example.org`);
const BARE = { source: join(__dirname, 'bench-functions/bare-client'), target: 'bare' };
const HELLO = { source: join(__dirname, 'bench-functions/hello-world'), target: 'hello' };

type Request = { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string };

interface Scenario {
  readonly name: string;
  readonly family: string;
  /** The request number `n` to our function, and the same operations asked of the bare function. */
  readonly ours: (n: number) => Request;
  readonly bare: (n: number) => Request;
}

const token = (email: string) => issueFlyemToken(SECRET, email, null);
const userToken = token(USER);
const identityTokens = IDENTITIES.map(token);
const auth = (value = userToken) => ({ authorization: `Bearer ${value}` });
const point = (n: number) => ({ kind: 'point', pos: [n, 7, 11], tags: ['load'] });

const SCENARIOS: readonly Scenario[] = [
  { name: 'GET kv key', family: 'kv', ours: () => ({ method: 'GET', path: '/v2/kv/bench/key', headers: auth() }), bare: () => ({ method: 'GET', path: '/kv' }) },
  { name: 'GET dataset', family: 'datasets', ours: () => ({ method: 'GET', path: `/v2/datasets/${DATASET}`, headers: auth() }), bare: () => ({ method: 'GET', path: '/' }) },
  { name: 'GET 100 annotations', family: 'annotations', ours: () => ({ method: 'GET', path: `/v2/annotations/${DATASET}`, headers: auth() }), bare: () => ({ method: 'GET', path: '/annotations' }) },
  {
    name: 'POST one annotation',
    family: 'annotations',
    ours: (n) => ({ method: 'POST', path: `/v2/annotations/${DATASET}`, headers: auth(), body: JSON.stringify(point(n)) }),
    bare: (n) => ({ method: 'POST', path: '/annotation', headers: { 'content-type': 'application/json' }, body: JSON.stringify(point(n)) }),
  },
  {
    name: 'mixed kv reads/writes, 10 identities',
    family: 'kv',
    ours: (n): Request =>
      n % 2 === 0
        ? { method: 'GET', path: '/v2/kv/bench/key', headers: auth(identityTokens[n % 10]) }
        : { method: 'POST', path: `/v2/kv/bench/k${n % 1000}`, headers: auth(identityTokens[n % 10]), body: JSON.stringify({ key: `k${n % 1000}`, n }) },
    bare: (n): Request =>
      n % 2 === 0
        ? { method: 'GET', path: '/kv', headers: { 'x-user': IDENTITIES[n % 10] } }
        : { method: 'POST', path: '/kv', headers: { 'x-user': IDENTITIES[n % 10], 'content-type': 'application/json' }, body: JSON.stringify({ key: `k${n % 1000}`, n }) },
  },
];

interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
}

async function load(url: string, request: (n: number) => Request): Promise<LoadResult> {
  let n = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ setupRequest: (req) => ({ ...req, ...request(n++) }) }],
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, failures: result.errors + result.timeouts + result.non2xx };
}

async function started(source: string, target: string, env: Record<string, string>, probe: Request): Promise<FunctionProcess> {
  const fn = await spawnFunction(source, target, env);
  const res = await firstAnswer(fn, () => fetch(`${fn.url}${probe.path}`, { method: probe.method, headers: probe.headers, body: probe.body }));
  if (res.status !== 200) throw new Error(`${target}: ${probe.method} ${probe.path} answered ${res.status}: ${await res.text()}`);
  return fn;
}

const describe = (r: LoadResult) => `${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.failures} errors`;

export const loadBenchmark: Benchmark = {
  name: `load: autocannon ${CONNECTIONS} connections x ${SECONDS} s against one instance under the Functions Framework`,
  goal: '0 errors; req/s >= 0.9x the bare-client function doing the same Firestore operations',
  async run(bench) {
    const projectId = `demo-bench-load-${randomBytes(4).toString('hex')}`;
    const db = googleFirestore(bench.firestoreEmulatorHost, projectId);
    await seedBenchData(db, [USER, ...IDENTITIES]);
    await db.terminate();
    const env = functionEnv(bench, projectId, SECRET);
    const lines: string[] = [];
    const hello = await started(HELLO.source, HELLO.target, env, { method: 'GET', path: '/' });
    let helloResult: LoadResult;
    try {
      helloResult = await load(hello.url, () => ({ method: 'GET', path: '/' }));
    } finally {
      hello.stop();
    }
    lines.push(`hello world: ${describe(helloResult)}`);
    for (const scenario of SCENARIOS) {
      const sides = [
        { name: 'ours', source: join(DIST, scenario.family), target: scenario.family, request: scenario.ours },
        { name: 'bare', source: BARE.source, target: BARE.target, request: scenario.bare },
      ];
      const ratios: number[] = [];
      const p99s: number[] = [];
      let failures = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // Each side starts a round first in turn: the machine drifts over a run.
        const results = new Map<string, LoadResult>();
        for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
          const fn = await started(side.source, side.target, env, side.request(0));
          try {
            results.set(side.name, await load(fn.url, side.request));
          } finally {
            fn.stop();
          }
        }
        const ours = results.get('ours')!;
        const bare = results.get('bare')!;
        ratios.push(ours.rps / bare.rps);
        failures += ours.failures;
        lines.push(
          `${scenario.name.padEnd(38)} round ${round + 1}: ours ${describe(ours)} | bare ${describe(bare)} | ratio ${(ours.rps / bare.rps).toFixed(2)}x bare, ${(ours.rps / helloResult.rps).toFixed(2)}x hello`,
        );
        p99s.push(ours.p99);
      }
      const ratio = figures(ratios);
      bench.record({
        metric: `load ${scenario.name}: req/s / bare (p99 ${p99s.join(', ')} ms, ${failures} errors)`,
        value: `${formatRange(ratio, 2)}x`,
        goal: '>= 0.9x, 0 errors',
        met: ratio.median >= 0.9 && failures === 0,
      });
    }
    return lines;
  },
};
