/**
 * Benchmark: `GET …/neurons/all` of 200,000 annotations (about 150 MB) through the json-annotations
 * function, against reading the same local DVID test server directly, in the same run. The
 * function is the built one (dist/json-annotations) under the Functions Framework in its own
 * process, as Cloud Functions runs an instance. The DVID test server and the client share one peer
 * process (this file, started with PEER_FLAG), as the volume benchmark's store and client do: in
 * production they are other machines and the instance has its CPU to itself, while three busy
 * processes on two cores would mostly measure their contention. A bare TCP relay, plain
 * JavaScript in a process of its own (infra/bench-functions/tcp-relay), is read in the same rounds:
 * the least any hop can cost, so the function's ratio to it is its own overhead. CPU time and peak
 * RSS growth are each process's own, read from /proc by this process, which only directs the rounds.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { issueFlyemToken } from '../../shared/auth/tokens';
import { COLLECTIONS } from '../../shared/collections';
import { loadConfig } from '../../shared/config';
import { createContext } from '../../shared/context';
import { Logger } from '../../shared/log';
import { googleFirestore } from '../../shared/testing/google-firestore';
import { listenLocally } from '../../shared/testing/listen-locally';
import { createLocalServer } from '../../emulator/serve';
import type { Benchmark, BenchContext } from '../../infra/bench';
import { DIST } from '../../infra/build';
import { firstAnswer, type FunctionProcess, functionEnv, type ProcessGauge, processGauge, spawnFunction } from '../../infra/function-process';
import { figures, formatRange, median } from '../../infra/figures';
import { type Annotation, DvidTestServer } from './dvid-test-server';
import { importFromDvid } from './import-export';
import { headCacheOf } from './head-cache';
import { CLOCK_SHARDS } from './native-store';
import { jsonAnnotations } from './routes';

const PEER_FLAG = '--json-annotations-bench-peer';
const TCP_RELAY = join(__dirname, '../../infra/bench-functions/tcp-relay/index.js');
const ANNOTATIONS = 200_000;
const UUID = 'benchhead';
const DATASET = 'bench';
const USER = 'bench@example.org';
const SECRET = 'json-annotations-bench-secret';
const ROUNDS = 15;
const RSS_SAMPLE_MS = 5;

/** A MANC-like annotation of about 750 bytes as `all` shows it, plus companions it hides. */
function syntheticAnnotation(index: number): Annotation {
  // Every tenth id lies beyond 2^53, as real uint64 body ids do.
  const bodyid = index % 10 === 0 ? 2n ** 60n + BigInt(index) : 10_000 + index;
  const time = '2025-03-01T12:00:00Z';
  return {
    bodyid,
    status: index % 3 === 0 ? 'Traced' : 'Anchor',
    status_user: 'proofreader@janelia.org',
    status_time: time,
    type: `IN${String(index % 997).padStart(5, '0')}`,
    type_user: 'typist@janelia.org',
    type_time: time,
    instance: `IN${String(index % 997).padStart(5, '0')}_T1_L`,
    group: 10_000 + (index % 5000),
    class: 'intrinsic neuron',
    subclass: 'leg neuropil intrinsic',
    hemilineage: `${index % 23}A`,
    soma_neuromere: ['T1', 'T2', 'T3'][index % 3],
    soma_side: index % 2 === 0 ? 'L' : 'R',
    root_side: index % 2 === 0 ? 'LHS' : 'RHS',
    position: [12_000 + (index % 30_000), 20_000 + (index % 17_000), 40_000 + (index % 9_000)],
    soma_position: [12_100 + (index % 30_000), 20_100 + (index % 17_000), 40_100 + (index % 9_000)],
    cell_body_fiber: `CBF${index % 40}`,
    entry_nerve: 'none',
    exit_nerve: 'none',
    long_tract: 'none',
    birthtime: 'secondary',
    description: `Synthetic annotation ${index} for the json-annotations streaming benchmark; no real neuron.`,
    notes: `checked by proofreading round ${index % 7}; ${'x'.repeat(180)}`,
    user: 'import@janelia.org',
  };
}

interface DownloadRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
}

interface Download {
  readonly bytes: number;
  readonly ms: number;
}

/**
 * The peer process: the DVID test server holding `count` synthetic annotations, and the client,
 * which reads each URL it is sent to the end without keeping it. It reports DVID's URL first.
 */
async function servePeer(count: number): Promise<void> {
  const dvid = await DvidTestServer.start();
  dvid.addNode(UUID);
  dvid.seed(UUID, Array.from({ length: count }, (_, i) => syntheticAnnotation(i)));
  process.on('message', ({ url, headers }: DownloadRequest) => {
    const started = performance.now();
    const fail = (error: Error) => process.send!({ error: error.message });
    get(url, { headers }, (res) => {
      if (res.statusCode !== 200) fail(new Error(`${url} answered ${res.statusCode}`));
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => process.send!({ bytes, ms: performance.now() - started }));
      res.on('error', fail);
    }).on('error', fail);
  });
  process.send!({ url: dvid.url });
}

/** Starts this file as the peer process; resolves once its DVID test server listens. */
function startPeer(count: number): Promise<{ child: ChildProcess; dvidUrl: string }> {
  // fork keeps this process's execArgv, i.e. tsx's loader, so the child runs TypeScript too.
  const child = fork(__filename, [PEER_FLAG, String(count)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, dvidUrl: (message as { url: string }).url }));
    child.once('exit', (code) => reject(new Error(`the benchmark's peer process exited early (code ${code})`)));
  });
}

interface Measured extends Download {
  /** Growth of the sampled process's RSS over its value at the start. */
  readonly peakRssGrowth: number;
  /** CPU time the sampled process spent meanwhile. */
  readonly cpuMs: number;
}

/** This process, where the native benchmark runs its function instances. */
const thisProcess: ProcessGauge = {
  cpuMs: () => {
    const cpu = process.cpuUsage();
    return (cpu.user + cpu.system) / 1000;
  },
  rssBytes: () => process.memoryUsage.rss(),
};

/** Has the peer's client read `url`, sampling the RSS and CPU time of the process `gauge` reads meanwhile. */
async function measure(peer: ChildProcess, request: DownloadRequest, gauge: ProcessGauge): Promise<Measured> {
  const cpuBefore = gauge.cpuMs();
  const baseline = gauge.rssBytes();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, gauge.rssBytes());
  }, RSS_SAMPLE_MS);
  try {
    const result = await new Promise<Download & { error?: string }>((resolve) => {
      peer.once('message', (message) => resolve(message as Download & { error?: string }));
      peer.send(request);
    });
    if (result.error) throw new Error(result.error);
    return { ...result, peakRssGrowth: peak - baseline, cpuMs: gauge.cpuMs() - cpuBefore };
  } finally {
    clearInterval(sampler);
  }
}

/** Starts the bare TCP relay (infra/bench-functions/tcp-relay) in front of `target`; resolves once it listens. */
function startRelay(target: string): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(TCP_RELAY, [target], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, url: (message as { url: string }).url }));
    child.once('exit', (code) => reject(new Error(`the benchmark's relay process exited early (code ${code})`)));
  });
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function run(bench: BenchContext): Promise<string[]> {
  const built = join(DIST, 'json-annotations');
  if (!existsSync(join(built, 'index.js'))) throw new Error('build first (npm run build): there is no dist/json-annotations');
  const peer = await startPeer(ANNOTATIONS);
  const { dvidUrl } = peer;
  const projectId = `demo-bench-${randomBytes(4).toString('hex')}`;
  const db = googleFirestore(bench.firestoreEmulatorHost, projectId);
  let fn: FunctionProcess | undefined;
  let relay: ChildProcess | undefined;
  try {
    await db.collection(COLLECTIONS.users).doc(USER).set({ datasets: { [DATASET]: ['clio_read'] } });
    await db.collection(COLLECTIONS.datasets).doc(DATASET).set({ description: 'benchmark', dvid: dvidUrl, uuid: UUID });
    const instance = await spawnFunction(built, 'json-annotations', functionEnv(bench, projectId, SECRET));
    fn = instance;
    // Any answer (this one a 404) shows the instance listens.
    await (await firstAnswer(instance, () => fetch(`${instance.url}/`))).arrayBuffer();
    const relayed = await startRelay(dvidUrl);
    relay = relayed.child;

    const direct = `${dvidUrl}/api/node/${UUID}/segmentation_annotations/all`;
    const sides = {
      direct: { request: { url: direct, headers: {} }, gauge: thisProcess },
      relay: { request: { url: `${relayed.url}/api/node/${UUID}/segmentation_annotations/all`, headers: {} }, gauge: processGauge(relay.pid!) },
      proxied: {
        request: { url: `${instance.url}/v2/json-annotations/${DATASET}/neurons/all`, headers: { authorization: `Bearer ${issueFlyemToken(SECRET, USER, null)}` } },
        gauge: processGauge(instance.child.pid!),
      },
    };
    const order = ['direct', 'relay', 'proxied'] as const;

    // Warm-up: JIT, the function's Firestore client and caches, DVID's first rendering.
    for (const side of order) await measure(peer.child, sides[side].request, sides[side].gauge);
    const runs = { direct: [] as Measured[], relay: [] as Measured[], proxied: [] as Measured[] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of order) runs[side].push(await measure(peer.child, sides[side].request, sides[side].gauge));
    }
    const bytes = runs.direct[0].bytes;
    if ([...runs.relay, ...runs.proxied].some((r) => r.bytes !== bytes)) throw new Error('the relay or the function answered a different number of bytes than DVID');
    // Each round's time against the direct read just before it, so that drift in the machine's speed cancels.
    const toDirect = (side: Measured[]) => figures(side.map((r, round) => r.ms / runs.direct[round].ms));
    const [proxiedToDirect, relayToDirect] = [toDirect(runs.proxied), toDirect(runs.relay)];
    const proxiedToRelay = figures(runs.proxied.map((r, round) => r.ms / runs.relay[round].ms));
    const peakGrowth = Math.max(...runs.proxied.map((r) => r.peakRssGrowth));
    const cpuMs = (side: Measured[]) => median(side.map((r) => r.cpuMs));
    const msOf = (side: Measured[]) => median(side.map((r) => r.ms)).toFixed(0);
    bench.record({ metric: 'neurons all through the function / DVID directly', value: `${formatRange(proxiedToDirect, 2)}x`, goal: '<= 1.1x', met: proxiedToDirect.median <= 1.1 });
    bench.record({ metric: 'neurons all through a bare TCP relay / DVID directly', value: `${formatRange(relayToDirect, 2)}x`, goal: 'measured' });
    bench.record({ metric: 'neurons all: peak RSS growth of the function', value: mb(peakGrowth), goal: '< 64 MB', met: peakGrowth < 64 * 1024 * 1024 });
    return [
      `${ANNOTATIONS} annotations, ${mb(bytes)} per response, ${ROUNDS} rounds (medians; ratios per round, median and range), ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}`,
      `DVID directly:          ${msOf(runs.direct)} ms`,
      `through a TCP relay:    ${msOf(runs.relay)} ms, ${cpuMs(runs.relay).toFixed(0)} ms CPU of the relay's process per response; ratio to DVID ${formatRange(relayToDirect, 2)}`,
      `through the function:   ${msOf(runs.proxied)} ms, ${cpuMs(runs.proxied).toFixed(0)} ms CPU of its process (${(bytes / 1024 / 1024 / (cpuMs(runs.proxied) / 1000)).toFixed(0)} MB/s per core); ratio to DVID ${formatRange(proxiedToDirect, 2)} (goal <= 1.1), to the relay ${formatRange(proxiedToRelay, 2)}`,
      `peak RSS growth of the function's process while streaming: ${mb(peakGrowth)}  (goal < 64 MB)`,
    ];
  } finally {
    fn?.stop();
    relay?.kill();
    peer.child.kill();
    await db.terminate();
  }
}

export const jsonAnnotationsBenchmark: Benchmark = {
  name: 'json-annotations: GET all, 200,000 annotations streamed from DVID',
  goal: 'time ratio <= 1.1 vs DVID directly; peak RSS growth < 64 MB',
  run,
};

/** Bodies of the native benchmark: `NEURONS_BENCH_BODIES`, default 200,000 as the issue asks. */
const NATIVE_BODIES = Number(process.env.NEURONS_BENCH_BODIES ?? ANNOTATIONS);
const NATIVE_DATASET = 'bench-native';
const QUERY_ROUNDS = 3;

/** POSTs a query and answers its time and the number of items in the answer. */
async function timedQuery(url: string, headers: Record<string, string>, body: string): Promise<{ ms: number; items: number }> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 200)}`);
  return { ms: performance.now() - started, items: (JSON.parse(text) as unknown[]).length };
}

/**
 * The Firestore-native store side by side with the DVID test server holding the same annotations:
 * import throughput; `all` and queries answered from the instance's copy of HEAD, and by a second
 * instance with copies off (`NEURONS_CACHE_MB=0`, so every read goes to Firestore: the index, or a
 * scan); what a write costs, and how long the copy takes to catch up with it.
 */
async function runNative(bench: BenchContext): Promise<string[]> {
  const peer = await startPeer(NATIVE_BODIES);
  const lines: { message: string; [key: string]: unknown }[] = [];
  const env = {
    FIRESTORE_EMULATOR_HOST: bench.firestoreEmulatorHost,
    GOOGLE_CLOUD_PROJECT: `demo-bench-${randomBytes(4).toString('hex')}`,
    FLYEM_SECRET: SECRET,
    // The copy's budget as the service reads it (for a run with more bodies than the default holds).
    ...(process.env.NEURONS_CACHE_MB ? { NEURONS_CACHE_MB: process.env.NEURONS_CACHE_MB } : {}),
  };
  const logger = () => new Logger((line) => lines.push(JSON.parse(line)));
  const ctx = createContext(loadConfig(env), logger());
  const uncached = createContext(loadConfig({ ...env, NEURONS_CACHE_MB: '0' }), logger());
  const servers = [createLocalServer([jsonAnnotations], ctx), createLocalServer([jsonAnnotations], uncached)];
  try {
    const db = ctx.db();
    await db.collection(COLLECTIONS.users).doc(USER).set({ datasets: { [NATIVE_DATASET]: ['clio_write'], [DATASET]: ['clio_read'] } });
    await db.collection(COLLECTIONS.datasets).doc(NATIVE_DATASET).set({ description: 'benchmark', neurons: { store: 'firestore' } });
    const instance = `${peer.dvidUrl}/api/node/${UUID}/segmentation_annotations`;
    const importStarted = performance.now();
    await importFromDvid(ctx, NATIVE_DATASET, instance, { actor: 'bench', onBehalfOf: null, requestId: 'bench' });
    const importS = (performance.now() - importStarted) / 1000;

    const [native, firestore] = (await Promise.all(servers.map((server) => listenLocally(server)))).map(({ url }) => `${url}/v2/json-annotations/${NATIVE_DATASET}/neurons`);
    const headers = { authorization: `Bearer ${issueFlyemToken(SECRET, USER, null)}` };
    const out: string[] = [
      `${NATIVE_BODIES} bodies, ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}; the Firestore side is the local emulator`,
      `import from DVID: ${importS.toFixed(1)} s (${(NATIVE_BODIES / importS).toFixed(0)} bodies/s, 200 per transaction)`,
    ];

    // The first full read streams from Firestore and leaves the instance its copy.
    await measure(peer.child, { url: `${instance}/all`, headers: {} }, thisProcess);
    const copying = await measure(peer.child, { url: `${native}/all`, headers }, thisProcess);
    const copied = headCacheOf(ctx).heldBytes;
    await measure(peer.child, { url: `${native}/all`, headers }, thisProcess);
    out.push(
      `first all (reads Firestore, makes the copy): ${copying.ms.toFixed(0)} ms, peak RSS growth ${mb(copying.peakRssGrowth)}; ` +
        (copied > 0 ? `the copy holds ${mb(copied)} as counted against NEURONS_CACHE_MB (${mb(ctx.config.neuronsCacheBytes)})` : `no copy: the dataset does not fit NEURONS_CACHE_MB (${mb(ctx.config.neuronsCacheBytes)})`),
    );

    // Rounds side by side: DVID, from the copy, and from Firestore with copies off.
    const runs = { direct: [] as number[], copy: [] as number[], firestore: [] as number[] };
    let peakGrowth = 0;
    for (let round = 0; round < QUERY_ROUNDS; round++) {
      runs.direct.push((await measure(peer.child, { url: `${instance}/all`, headers: {} }, thisProcess)).ms);
      const fromCopy = await measure(peer.child, { url: `${native}/all`, headers }, thisProcess);
      runs.copy.push(fromCopy.ms);
      peakGrowth = Math.max(peakGrowth, fromCopy.peakRssGrowth);
      runs.firestore.push((await measure(peer.child, { url: `${firestore}/all`, headers }, thisProcess)).ms);
    }
    const toDvid = figures(runs.copy.map((ms, i) => ms / runs.direct[i]));
    const firestoreToDvid = figures(runs.firestore.map((ms, i) => ms / runs.direct[i]));
    out.push(
      `all, median of ${QUERY_ROUNDS} rounds: DVID directly ${median(runs.direct).toFixed(0)} ms; from the copy ${median(runs.copy).toFixed(0)} ms (ratio ${formatRange(toDvid, 2)}, goal <= 1.2), ` +
        `peak RSS growth ${mb(peakGrowth)} (goal < 64 MB); from Firestore ${median(runs.firestore).toFixed(0)} ms (ratio ${formatRange(firestoreToDvid, 2)})`,
    );
    bench.record({ metric: `native neurons all (${NATIVE_BODIES} bodies) from the copy / DVID`, value: `${formatRange(toDvid, 2)}x`, goal: '<= 1.2x', met: toDvid.median <= 1.2 });
    bench.record({ metric: 'native neurons all from the copy: peak RSS growth', value: mb(peakGrowth), goal: '< 64 MB', met: peakGrowth < 64 * 1024 * 1024 });
    bench.record({ metric: 'native neurons first all (makes the copy): peak RSS growth', value: mb(copying.peakRssGrowth), goal: 'measured' });
    bench.record({ metric: 'native neurons all from Firestore (copies off) / DVID', value: `${formatRange(firestoreToDvid, 2)}x`, goal: 'measured' });

    const queries: [string, string][] = [
      ['equality on one field', '{"type":"IN00042"}'],
      ['two fields', '{"type":"IN00042","soma_side":"L"}'],
      ['re/', '{"type":"re/^IN0004[23]$"}'],
      ['exists/0', '{"notes":"exists/0"}'],
    ];
    for (const [name, body] of queries) {
      const rounds = { direct: [] as number[], copy: [] as number[], firestore: [] as number[] };
      const plans: string[] = [];
      let items = 0;
      // The first query on a field makes the copy's column of it (one parse of every body).
      const first = await timedQuery(`${native}/query`, headers, body);
      for (let round = 0; round < QUERY_ROUNDS; round++) {
        rounds.direct.push((await timedQuery(`${instance}/query`, {}, body)).ms);
        const answered = await timedQuery(`${native}/query`, headers, body);
        rounds.copy.push(answered.ms);
        items = answered.items;
        if (round === 0) plans.push(planText(lines));
        const fromFirestore = await timedQuery(`${firestore}/query`, headers, body);
        if (fromFirestore.items !== items) throw new Error(`query ${name}: ${fromFirestore.items} matches from Firestore, ${items} from the copy`);
        rounds.firestore.push(fromFirestore.ms);
        if (round === 0) plans.push(planText(lines));
      }
      const perRound = (side: number[]) => figures(side.map((ms, round) => ms / rounds.direct[round]));
      const ratio = perRound(rounds.copy);
      const indexed = name.includes('field');
      bench.record({ metric: `native neurons query ${name} from the copy / DVID`, value: `${formatRange(ratio, 2)}x`, goal: indexed ? '<= 2x' : 'measured', met: indexed ? ratio.median <= 2 : undefined });
      bench.record({ metric: `native neurons query ${name} from Firestore (copies off) / DVID`, value: `${formatRange(perRound(rounds.firestore), 2)}x`, goal: 'measured' });
      out.push(
        `query ${name} ${body}: ${items} matches; DVID ${median(rounds.direct).toFixed(0)} ms; from the copy ${median(rounds.copy).toFixed(0)} ms (ratio ${formatRange(ratio, 2)}; ${plans[0]}; ` +
          `the first ${first.ms.toFixed(0)} ms, with the columns it made); ` +
          `from Firestore ${median(rounds.firestore).toFixed(0)} ms (${plans[1]})`,
      );
    }

    // Another instance writes; the copy's next read finds the clock moved and reads what changed.
    const writes = 50;
    const writeStarted = performance.now();
    for (let i = 0; i < writes; i++) {
      const res = await fetch(firestore, { method: 'POST', headers, body: `{"bodyid":${10_001 + i},"status":"Bench ${i}"}` });
      if (res.status !== 200) throw new Error(`write answered ${res.status}`);
    }
    const writeMs = (performance.now() - writeStarted) / writes;
    const caughtUp = await timedQuery(`${native}/query`, headers, '{"status":"re/^Bench "}');
    if (caughtUp.items !== writes) throw new Error(`the copy found ${caughtUp.items} of the ${writes} bodies another instance wrote`);
    const unchanged = await timedQuery(`${native}/query`, headers, '{"status":"re/^Bench "}');
    out.push(
      `write of one body: ${writeMs.toFixed(1)} ms each (sequential); Firestore operations per body: 1 read + 3 writes (HEAD, change record, clock shard) in one transaction`,
      `the copy after another instance's ${writes} writes: first read ${caughtUp.ms.toFixed(0)} ms (${CLOCK_SHARDS} clock reads, then one query of the HEADs committed since), next ${unchanged.ms.toFixed(0)} ms (${CLOCK_SHARDS} clock reads only)`,
      `the copy at the end, with all's renderings and the indexes of the fields queried: ${mb(headCacheOf(ctx).heldBytes)}; this process's RSS ${mb(process.memoryUsage.rss())}`,
    );
    return out;
  } finally {
    await Promise.all(servers.map((server) => (server.listening ? new Promise<void>((done) => server.close(() => done())) : undefined)));
    await Promise.all([ctx.db().terminate(), uncached.db().terminate()]);
    peer.child.kill();
  }
}

/** Where the last query read from and how many bodies it examined, from its log line. */
function planText(lines: readonly { message: string; [key: string]: unknown }[]): string {
  const plan = lines.findLast((line) => line.message === 'neuron query');
  return plan?.plan === 'cache' ? `copy, ${plan.bodies_examined} bodies examined, 0 documents read` : `${plan?.plan}, ${plan?.bodies_examined} documents read`;
}

export const jsonAnnotationsNativeBenchmark: Benchmark = {
  name: `json-annotations, Firestore-native: ${NATIVE_BODIES} bodies side by side with the DVID test server`,
  goal: 'all <= 1.2x DVID, RSS growth < 64 MB; equality queries <= 2x DVID',
  run: runNative,
};

if (process.argv.includes(PEER_FLAG)) void servePeer(Number(process.argv[process.argv.indexOf(PEER_FLAG) + 1]));
