/**
 * Benchmark: `GET …/neurons/all` of 200,000 annotations (about 150 MB) through the json-annotations
 * function, against reading the same local DVID test server directly, in the same run. Three
 * processes: this one runs the function; the DVID test server and the client run as children
 * (this file, started with CHILD_FLAG and a role), so that neither the DVID store nor the client
 * counts in the function's memory. The peak RSS growth printed is this process's while the body
 * streams through it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { FieldPath } from '@google-cloud/firestore';
import { get } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { issueFlyemToken } from '../../shared/auth/tokens';
import { COLLECTIONS } from '../../shared/collections';
import { loadConfig } from '../../shared/config';
import { createContext } from '../../shared/context';
import { Logger } from '../../shared/log';
import { listenLocally } from '../../shared/testing/listen-locally';
import { createLocalServer } from '../../emulator/serve';
import type { Benchmark, BenchContext } from '../../infra/bench';
import { figures, formatRange } from '../../infra/figures';
import { type Annotation, DvidTestServer } from './dvid-test-server';
import type { AppContext } from '../../shared/context';
import { parseJson } from '../../shared/json';
import { importFromDvid } from './import-export';
import { bodies, id20, indexPlan, scanIndexed } from './native-store';
import { compileQuery, matchesAny } from './neuronjson';
import { jsonAnnotations } from './routes';

const CHILD_FLAG = '--json-annotations-bench-dvid';
const ANNOTATIONS = 200_000;
const UUID = 'benchhead';
const DATASET = 'bench';
const USER = 'bench@example.org';
const SECRET = 'json-annotations-bench-secret';
const ROUNDS = 5;
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

type ChildRole = 'dvid' | 'client';

/** A child process: the DVID test server holding `count` synthetic annotations, which reports its URL. */
async function serveDvid(count: number): Promise<void> {
  const dvid = await DvidTestServer.start();
  dvid.addNode(UUID);
  dvid.seed(UUID, Array.from({ length: count }, (_, i) => syntheticAnnotation(i)));
  process.send!({ url: dvid.url });
}

interface DownloadRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
}

interface Download {
  readonly bytes: number;
  readonly ms: number;
}

/** A child process: the client, which reads each response it is sent to the end without keeping it. */
function serveDownloads(): void {
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
  process.send!({ ready: true });
}

/** Starts this file as a child in the given role; resolves with its first message. */
function startChild<T>(role: ChildRole, count = ANNOTATIONS): Promise<{ child: ChildProcess; first: T }> {
  // fork keeps this process's execArgv, i.e. tsx's loader, so the child runs TypeScript too.
  const child = fork(__filename, [CHILD_FLAG, role, String(count)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, first: message as T }));
    child.once('exit', (code) => reject(new Error(`the benchmark's ${role} process exited early (code ${code})`)));
  });
}

interface Measured extends Download {
  /** Growth of this process's RSS (the function's) over its value at the start. */
  readonly peakRssGrowth: number;
  /** CPU time this process (the function) spent meanwhile. */
  readonly cpuMs: number;
}

/** Has the client read `url`, sampling this process's RSS and CPU time meanwhile. */
async function measure(client: ChildProcess, request: DownloadRequest): Promise<Measured> {
  const cpuBefore = process.cpuUsage();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  try {
    const result = await new Promise<Download & { error?: string }>((resolve) => {
      client.once('message', (message) => resolve(message as Download & { error?: string }));
      client.send(request);
    });
    if (result.error) throw new Error(result.error);
    const cpu = process.cpuUsage(cpuBefore);
    return { ...result, peakRssGrowth: peak - baseline, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    clearInterval(sampler);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function run(bench: BenchContext): Promise<string[]> {
  const dvid = await startChild<{ url: string }>('dvid');
  const client = await startChild<{ ready: true }>('client');
  const dvidUrl = dvid.first.url;
  const config = loadConfig({
    FIRESTORE_EMULATOR_HOST: bench.firestoreEmulatorHost,
    GOOGLE_CLOUD_PROJECT: `demo-bench-${randomBytes(4).toString('hex')}`,
    FLYEM_SECRET: SECRET,
  });
  const ctx = createContext(config, new Logger(() => undefined));
  const server = createLocalServer([jsonAnnotations], ctx);
  try {
    const db = ctx.db();
    await db.collection(COLLECTIONS.users).doc(USER).set({ datasets: { [DATASET]: ['clio_read'] } });
    await db.collection(COLLECTIONS.datasets).doc(DATASET).set({ description: 'benchmark', dvid: dvidUrl, uuid: UUID });
    const { url } = await listenLocally(server);
    const proxied = `${url}/v2/json-annotations/${DATASET}/neurons/all`;
    const direct = `${dvidUrl}/api/node/${UUID}/segmentation_annotations/all`;
    const directly = { url: direct, headers: {} };
    const throughFunction = { url: proxied, headers: { authorization: `Bearer ${issueFlyemToken(SECRET, USER, null)}` } };

    // Warm-up: JIT, the Firestore client and the caches, DVID's first rendering.
    await measure(client.child, directly);
    await measure(client.child, throughFunction);
    const directRuns: Download[] = [];
    const proxiedRuns: Measured[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      directRuns.push(await measure(client.child, directly));
      proxiedRuns.push(await measure(client.child, throughFunction));
    }
    if (proxiedRuns.some((r) => r.bytes !== directRuns[0].bytes)) throw new Error('the function answered a different number of bytes than DVID');
    const directMs = median(directRuns.map((r) => r.ms));
    const proxiedMs = median(proxiedRuns.map((r) => r.ms));
    const peakGrowth = Math.max(...proxiedRuns.map((r) => r.peakRssGrowth));
    const functionCpuMs = median(proxiedRuns.map((r) => r.cpuMs));
    const bytes = directRuns[0].bytes;
    bench.record({ metric: 'neurons all through the function / DVID directly', value: `${(proxiedMs / directMs).toFixed(2)}x`, goal: '<= 1.1x', met: proxiedMs / directMs <= 1.1 });
    bench.record({ metric: 'neurons all: peak RSS growth', value: mb(peakGrowth), goal: '< 64 MB', met: peakGrowth < 64 * 1024 * 1024 });
    return [
      `${ANNOTATIONS} annotations, ${mb(bytes)} per response, median of ${ROUNDS} rounds, ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}`,
      `DVID directly:       ${directMs.toFixed(0)} ms`,
      `through the function: ${proxiedMs.toFixed(0)} ms`,
      `time ratio: ${(proxiedMs / directMs).toFixed(2)}  (goal <= 1.1)`,
      `peak RSS growth while streaming through the function: ${mb(peakGrowth)}  (goal < 64 MB)`,
      `CPU time of the function per response: ${functionCpuMs.toFixed(0)} ms (${(bytes / 1024 / 1024 / (functionCpuMs / 1000)).toFixed(0)} MB/s per core)`,
    ];
  } finally {
    if (server.listening) await new Promise<void>((done) => server.close(() => done()));
    await ctx.db().terminate();
    dvid.child.kill();
    client.child.kill();
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
 * import throughput, `all` streamed, an equality query on one field and on two (index), `re/`
 * and `exists/0` (scan), a write's cost, and the documents each query read (from its log line).
 */
async function runNative(bench: BenchContext): Promise<string[]> {
  const dvid = await startChild<{ url: string }>('dvid', NATIVE_BODIES);
  const client = await startChild<{ ready: true }>('client');
  const lines: { message: string; [key: string]: unknown }[] = [];
  const config = loadConfig({
    FIRESTORE_EMULATOR_HOST: bench.firestoreEmulatorHost,
    GOOGLE_CLOUD_PROJECT: `demo-bench-${randomBytes(4).toString('hex')}`,
    FLYEM_SECRET: SECRET,
  });
  const ctx = createContext(config, new Logger((line) => lines.push(JSON.parse(line))));
  const server = createLocalServer([jsonAnnotations], ctx);
  try {
    const db = ctx.db();
    await db.collection(COLLECTIONS.users).doc(USER).set({ datasets: { [NATIVE_DATASET]: ['clio_write'], [DATASET]: ['clio_read'] } });
    await db.collection(COLLECTIONS.datasets).doc(NATIVE_DATASET).set({ description: 'benchmark', neurons: { store: 'firestore' } });
    const instance = `${dvid.first.url}/api/node/${UUID}/segmentation_annotations`;
    const importStarted = performance.now();
    await importFromDvid(ctx, NATIVE_DATASET, instance, { actor: 'bench', onBehalfOf: null, requestId: 'bench' });
    const importS = (performance.now() - importStarted) / 1000;

    const { url } = await listenLocally(server);
    const headers = { authorization: `Bearer ${issueFlyemToken(SECRET, USER, null)}` };
    const native = `${url}/v2/json-annotations/${NATIVE_DATASET}/neurons`;
    const out: string[] = [
      `${NATIVE_BODIES} bodies, ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}; the Firestore side is the local emulator`,
      `import from DVID: ${importS.toFixed(1)} s (${(NATIVE_BODIES / importS).toFixed(0)} bodies/s, 200 per transaction)`,
    ];

    // Warm-up, then rounds of the three side by side: DVID, the function, and the floor, the emulator's own
    // time for the documents `all` reads, streamed to the bare client without rendering them.
    await measure(client.child, { url: `${instance}/all`, headers: {} });
    await measure(client.child, { url: `${native}/all`, headers });
    const runs = { direct: [] as number[], native: [] as number[], floor: [] as number[] };
    let peakGrowth = 0;
    let floorDocs = 0;
    for (let round = 0; round < QUERY_ROUNDS; round++) {
      runs.direct.push((await measure(client.child, { url: `${instance}/all`, headers: {} })).ms);
      const streamed = await measure(client.child, { url: `${native}/all`, headers });
      runs.native.push(streamed.ms);
      peakGrowth = Math.max(peakGrowth, streamed.peakRssGrowth);
      const floorStarted = performance.now();
      floorDocs = 0;
      for await (const _doc of bodies(ctx.db(), NATIVE_DATASET).where('deleted', '==', false).orderBy(FieldPath.documentId()).select('json').stream()) floorDocs += 1;
      runs.floor.push(performance.now() - floorStarted);
    }
    const toDvid = figures(runs.native.map((ms, i) => ms / runs.direct[i]));
    const toFloor = figures(runs.native.map((ms, i) => ms / runs.floor[i]));
    out.push(
      `all, median of ${QUERY_ROUNDS} rounds: DVID directly ${median(runs.direct).toFixed(0)} ms; native ${median(runs.native).toFixed(0)} ms (ratio ${formatRange(toDvid, 2)}, goal <= 1.2); ` +
        `the emulator alone streaming those ${floorDocs} documents to the bare client ${median(runs.floor).toFixed(0)} ms (native / that ${formatRange(toFloor, 2)}); peak RSS growth ${mb(peakGrowth)} (goal < 64 MB)`,
    );
    bench.record({ metric: `native neurons all (${NATIVE_BODIES} bodies) / DVID`, value: `${formatRange(toDvid, 2)}x`, goal: '<= 1.2x', met: toDvid.median <= 1.2 });
    bench.record({ metric: 'native neurons all: peak RSS growth', value: mb(peakGrowth), goal: '< 64 MB', met: peakGrowth < 64 * 1024 * 1024 });
    bench.record({ metric: 'native neurons all / the bare client streaming its documents', value: `${formatRange(toFloor, 2)}x`, goal: 'measured' });

    const queries: [string, string][] = [
      ['equality on one field', '{"type":"IN00042"}'],
      ['two fields', '{"type":"IN00042","soma_side":"L"}'],
      ['re/', '{"type":"re/^IN0004[23]$"}'],
      ['exists/0', '{"notes":"exists/0"}'],
    ];
    for (const [name, body] of queries) {
      const dvidRuns: number[] = [];
      const nativeRuns: number[] = [];
      let items = 0;
      for (let round = 0; round < QUERY_ROUNDS; round++) {
        dvidRuns.push((await timedQuery(`${instance}/query`, {}, body)).ms);
        const answered = await timedQuery(`${native}/query`, headers, body);
        nativeRuns.push(answered.ms);
        items = answered.items;
      }
      const plan = lines.findLast((line) => line.message === 'neuron query');
      const storeRuns: number[] = [];
      const indexed = indexPlan(compileQuery(parseJson(body) as Annotation));
      for (let round = 0; indexed && round < QUERY_ROUNDS; round++) {
        const storeStarted = performance.now();
        for await (const _item of scanIndexed(ctx, NATIVE_DATASET, indexed, undefined)) void _item;
        storeRuns.push(performance.now() - storeStarted);
      }
      const ratio = median(nativeRuns) / median(dvidRuns);
      bench.record({ metric: `native neurons query ${name} / DVID`, value: `${ratio.toFixed(2)}x`, goal: name.includes('field') ? '<= 2x' : 'measured', met: name.includes('field') ? ratio <= 2 : undefined });
      out.push(
        `query ${name} ${body}: ${items} matches; DVID ${median(dvidRuns).toFixed(0)} ms, native ${median(nativeRuns).toFixed(0)} ms, ratio ${ratio.toFixed(2)}; ` +
          `plan ${plan?.plan}, ${plan?.bodies_examined} documents read` +
          (indexed ? `; the store's index read alone (no HTTP, no rendering) ${median(storeRuns).toFixed(0)} ms` : ''),
      );
    }

    out.push(...(await headCacheRows(ctx, native, headers, queries.slice(2))));

    const writes = 50;
    const writeStarted = performance.now();
    for (let i = 0; i < writes; i++) {
      const res = await fetch(native, { method: 'POST', headers, body: `{"bodyid":${10_001 + i},"status":"Bench ${i}"}` });
      if (res.status !== 200) throw new Error(`write answered ${res.status}`);
    }
    const writeMs = (performance.now() - writeStarted) / writes;
    out.push(`write of one body: ${writeMs.toFixed(1)} ms each (sequential); Firestore operations per body: 1 read + 2 writes (HEAD and change record) in one transaction`);
    return out;
  } finally {
    if (server.listening) await new Promise<void>((done) => server.close(() => done()));
    await ctx.db().terminate();
    dvid.child.kill();
    client.child.kill();
  }
}

/**
 * The alternative for queries no index serves: an instance-local HEAD kept fresh by a listener
 * (what DVID does in memory). Measured here, not served: its load time, memory, per-query time and
 * how soon another writer's change reaches it, next to the scan's figures above.
 */
async function headCacheRows(ctx: AppContext, native: string, headers: Record<string, string>, queries: readonly [string, string][]): Promise<string[]> {
  const rssBefore = process.memoryUsage.rss();
  const started = performance.now();
  const heads = new Map<string, Annotation>();
  let seen: ((id: string) => void) | undefined;
  let loaded!: () => void;
  const ready = new Promise<void>((done) => (loaded = done));
  const stop = bodies(ctx.db(), NATIVE_DATASET).onSnapshot((snapshot) => {
    for (const change of snapshot.docChanges()) {
      const data = change.doc.data();
      if (change.type === 'removed' || data.deleted === true) heads.delete(change.doc.id);
      else heads.set(change.doc.id, parseJson(data.json as string) as Annotation);
      seen?.(change.doc.id);
    }
    loaded();
  });
  try {
    await ready;
    const loadMs = performance.now() - started;
    const rows = [`HEAD cache by listener: loaded ${heads.size} bodies in ${loadMs.toFixed(0)} ms, RSS growth ${mb(process.memoryUsage.rss() - rssBefore)} (bound: one read per body at start, all of HEAD in memory)`];
    for (const [name, body] of queries) {
      const runs: number[] = [];
      let matches = 0;
      for (let round = 0; round < QUERY_ROUNDS; round++) {
        const queryStarted = performance.now();
        const compiled = compileQuery(parseJson(body) as Annotation);
        matches = [...heads.values()].filter((annotation) => matchesAny(annotation, compiled)).length;
        runs.push(performance.now() - queryStarted);
      }
      rows.push(`HEAD cache, query ${name}: ${matches} matches in ${median(runs).toFixed(0)} ms (0 documents read)`);
    }
    const target = id20('999999');
    const arrived = new Promise<number>((done) => {
      const writeStarted = performance.now();
      seen = (id) => id === target && done(performance.now() - writeStarted);
    });
    await fetch(native, { method: 'POST', headers, body: '{"bodyid":999999,"status":"fresh"}' });
    rows.push(`HEAD cache freshness: a write reached the listener ${(await arrived).toFixed(0)} ms after it was sent`);
    return rows;
  } finally {
    stop();
  }
}

export const jsonAnnotationsNativeBenchmark: Benchmark = {
  name: `json-annotations, Firestore-native: ${NATIVE_BODIES} bodies side by side with the DVID test server`,
  goal: 'all <= 1.2x DVID, RSS growth < 64 MB; index queries <= 2x DVID',
  run: runNative,
};

const role = process.argv.includes(CHILD_FLAG) ? process.argv[process.argv.indexOf(CHILD_FLAG) + 1] : undefined;
if (role === 'dvid') void serveDvid(Number(process.argv[process.argv.indexOf(CHILD_FLAG) + 2]));
if (role === 'client') serveDownloads();
