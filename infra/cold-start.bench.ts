/**
 * Cold starts, as Cloud Functions makes them: a new Node process running the Functions
 * Framework's own entry (`main.js --target --source`) on a built function, timed from the spawn
 * to the first answer of a route that authenticates a FlyEM token and reads Firestore. Beside
 * every built function, in the same rounds: a minimal unbundled function doing one read with the
 * bare Firestore client, and a hello-world function. Rounds alternate the order of the functions.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Benchmark } from './bench';
import { issueFlyemToken } from '../shared/auth/tokens';
import { FAMILIES } from '../functions/registry';
import { googleFirestore } from '../shared/testing/google-firestore';
import { BENCH_USER as USER, seedBenchData } from './bench-data';
import { DIST } from './build';
import { type Figures, figures, formatRange } from './figures';
import { firstAnswer, functionEnv, spawnFunction } from './function-process';

const ROUNDS = 5;
const SECRET = 'cold-start-secret';

/** The request that counts as "first served" for each function, and the answer it must get. */
const FIRST_REQUEST: Record<string, { method: string; path: string; status: number; body?: string }> = {
  datasets: { method: 'GET', path: '/v2/datasets/bench', status: 200 },
  users: { method: 'GET', path: '/v2/roles', status: 200 },
  server: { method: 'POST', path: '/v2/server/token', status: 200, body: '{}' },
  annotations: { method: 'GET', path: '/v2/annotations/bench', status: 200 },
  atlas: { method: 'GET', path: '/v2/atlas/bench', status: 200 },
  savedsearches: { method: 'GET', path: '/v2/savedsearches/bench', status: 200 },
  kv: { method: 'GET', path: '/v2/kv/bench/key', status: 200 },
  volumes: { method: 'GET', path: '/v2/volumes', status: 200 },
  'json-annotations': { method: 'GET', path: '/v2/json-annotations/bench/neurons/id-number/1', status: 200 },
  // These need an upstream this machine lacks: the feature check answers 503 after authentication.
  signatures: { method: 'GET', path: '/v2/signatures/atlocation/bench?x=1&y=1&z=1', status: 503 },
  transfer: { method: 'POST', path: '/v2/transfer', status: 503, body: '{"dataset": "bench", "model_name": "m", "center": [1, 2, 3]}' },
  neuprint: { method: 'POST', path: '/v2/neuprint/bench', status: 503, body: '{"cypher": "MATCH (n) RETURN n", "dataset": "hemibrain"}' },
  docs: { method: 'GET', path: '/docs', status: 200 },
};

interface Subject {
  readonly name: string;
  readonly source: string;
  readonly target: string;
  readonly request: { method: string; path: string; status: number; body?: string };
}

const BASELINES: readonly Subject[] = [
  { name: 'bare client (unbundled, 1 read)', source: join(__dirname, 'bench-functions/bare-client'), target: 'bare', request: { method: 'GET', path: '/', status: 200 } },
  { name: 'hello world', source: join(__dirname, 'bench-functions/hello-world'), target: 'hello', request: { method: 'GET', path: '/', status: 200 } },
];

function subjects(): Subject[] {
  return FAMILIES.map((family) => {
    const request = FIRST_REQUEST[family.name];
    if (!request) throw new Error(`cold-start bench: no first request declared for ${family.name}`);
    return { name: family.name, source: join(DIST, family.name), target: family.name, request };
  });
}

const LEVERS = join(__dirname, '..', 'test-artifacts', 'cold-start-levers');

/** A copy of a built function without its V8 code cache (compiled in full at each start), to show what the cache saves. */
function withoutCodeCache(name: string): Subject {
  const source = join(LEVERS, `${name}-without-code-cache`);
  rmSync(source, { recursive: true, force: true });
  cpSync(join(DIST, name), source, { recursive: true });
  rmSync(join(source, 'bundle.cache'));
  return { name: `${name} without its code cache`, source, target: name, request: FIRST_REQUEST[name] };
}

/** Milliseconds from spawning the function's process to the first answer with the expected status. */
async function coldStart(subject: Subject, env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const fn = await spawnFunction(subject.source, subject.target, env);
  try {
    const { method, path, status, body } = subject.request;
    const headers = { authorization: `Bearer ${issueFlyemToken(SECRET, USER, null)}` };
    const res = await firstAnswer(fn, () => fetch(`${fn.url}${path}`, { method, body, headers }));
    const text = await res.text();
    if (res.status !== status) throw new Error(`${subject.name}: ${method} ${path} answered ${res.status}, not ${status}: ${text.slice(0, 200)}`);
    return performance.now() - started;
  } finally {
    fn.stop();
  }
}

export const coldStartBenchmark: Benchmark = {
  name: 'cold start: every built function, the bare-client function and hello world (Functions Framework main.js)',
  goal: 'each function <= 0.8x the bare-client function, and <= 1.6x hello world',
  async run(bench) {
    const missing = FAMILIES.filter((family) => !existsSync(join(DIST, family.name, 'index.js')));
    if (missing.length > 0) throw new Error(`build first (npm run build): no bundle for ${missing.map((f) => f.name).join(', ')}`);
    const projectId = `demo-bench-cold-${randomBytes(4).toString('hex')}`;
    const db = googleFirestore(bench.firestoreEmulatorHost, projectId);
    // Native neurons, so that json-annotations answers from Firestore rather than needing DVID.
    await seedBenchData(db, [USER], { neurons: { store: 'firestore' } });
    await db.terminate();
    const env = functionEnv(bench, projectId, SECRET);
    const levers = [withoutCodeCache('kv')];
    const all = [...BASELINES, ...levers, ...subjects()];
    const times = new Map<string, number[]>(all.map((subject) => [subject.name, []]));
    // One start of each first, unmeasured: the files are then in the page cache, as on a warm host.
    for (const subject of all) await coldStart(subject, env);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? all : [...all].reverse();
      for (const subject of order) times.get(subject.name)!.push(await coldStart(subject, env));
    }
    const bare = figures(times.get(BASELINES[0].name)!);
    const hello = figures(times.get(BASELINES[1].name)!);
    const lines = [`${ROUNDS} rounds; median (min-max) ms from spawn to first answer; ratios are per-round medians with their range`];
    const describe = (name: string, own: Figures, rounds: number[]) => {
      const toBare = rounds.map((ms, i) => ms / times.get(BASELINES[0].name)![i]);
      const toHello = rounds.map((ms, i) => ms / times.get(BASELINES[1].name)![i]);
      return `${name.padEnd(34)} ${formatRange(own, 0)} ms   / bare ${formatRange(figures(toBare), 2)}x   / hello ${formatRange(figures(toHello), 2)}x`;
    };
    for (const subject of all) lines.push(describe(subject.name, figures(times.get(subject.name)!), times.get(subject.name)!));
    for (const subject of all.slice(BASELINES.length)) {
      const rounds = times.get(subject.name)!;
      const toBare = figures(rounds.map((ms, i) => ms / times.get(BASELINES[0].name)![i]));
      const toHello = figures(rounds.map((ms, i) => ms / times.get(BASELINES[1].name)![i]));
      if (levers.includes(subject)) {
        bench.record({ metric: `cold start ${subject.name} / bare client`, value: `${formatRange(toBare, 2)}x`, goal: 'measured' });
        continue;
      }
      bench.record({ metric: `cold start ${subject.name} / bare client`, value: `${formatRange(toBare, 2)}x`, goal: '<= 0.8x', met: toBare.median <= 0.8 });
      bench.record({ metric: `cold start ${subject.name} / hello world`, value: `${formatRange(toHello, 2)}x`, goal: '<= 1.6x', met: toHello.median <= 1.6 });
    }
    lines.push(`baselines: bare client ${bare.median.toFixed(0)} ms, hello world ${hello.median.toFixed(0)} ms`);
    return lines;
  },
};
