/**
 * `npm run soak [-- --minutes N]` (not in CI; 10 minutes by default): mixed load from many
 * identities against `npm start`, started here as its own process on a free port with a fresh
 * data directory. Printed at the end: answers by status (any 5xx or lost connection is a
 * failure), the server's resident memory at the start, middle and end, and a check against the
 * emulator that every acknowledged write is stored exactly once, with what was written.
 *
 * Each worker writes keys and annotations only it writes, cycling over 200 of each so that the
 * data (and so the work per request) stays the same size and memory can be judged; the last
 * acknowledged write of each is the expected final state. All workers also overwrite one shared
 * key of the owner's, which must end as one of their writes. Readers read, and try writes their
 * role refuses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueFlyemToken } from '../shared/auth/tokens';
import { COLLECTIONS } from '../shared/collections';
import { spawnNpmStart } from '../emulator/spawn-start';
import { processGauge } from './function-process';
import { googleFirestore } from '../shared/testing/google-firestore';

const SECRET = 'soak-secret';
const PROJECT = 'demo-soak';
const OWNER = 'owner@soak.test';
const DATASET = 'soak';
const WORKERS = 20;
/** Keys and annotation positions each worker cycles over. */
const SLOTS = 200;
/** Distinct callers: writers (clio_write on the dataset) and readers (clio_read only). */
const WRITERS = Array.from({ length: WORKERS }, (_, i) => `writer${i}@soak.test`);
const READERS = Array.from({ length: 10 }, (_, i) => `reader${i}@soak.test`);

const minutesArg = process.argv.indexOf('--minutes');
const MINUTES = minutesArg > 0 ? Number(process.argv[minutesArg + 1]) : 10;

interface Tally {
  statuses: Map<string, number>;
  /** writer -> key -> seq of the last acknowledged write. */
  kvWritten: Map<string, Map<string, number>>;
  /** writer -> annotation key -> title of the last acknowledged write. */
  annotationsWritten: Map<string, Map<string, string>>;
  sharedWrites: Set<number>;
  writes: number;
}

function rssMiB(pid: number): number {
  return Math.round(processGauge(pid).rssBytes() / 1024 / 1024);
}

async function main(): Promise<void> {
  // This process reads the emulator at the end; off Google Cloud there is no metadata server to ask.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const dataDir = mkdtempSync(join(tmpdir(), 'clio-soak-'));
  const server = await spawnNpmStart({
    CLIO_DATA_DIR: dataDir,
    GOOGLE_CLOUD_PROJECT: PROJECT,
    OWNER,
    FLYEM_SECRET: SECRET,
    TEST_USER: '',
    // npm start starts its own emulator unless one is named.
    FIRESTORE_EMULATOR_HOST: undefined,
  });
  const { child, emulatorHost, url: base } = server;
  const tokens = new Map([...WRITERS, ...READERS, OWNER].map((email) => [email, issueFlyemToken(SECRET, email, null)]));
  const tally: Tally = { statuses: new Map(), kvWritten: new Map(), annotationsWritten: new Map(), sharedWrites: new Set(), writes: 0 };

  const call = async (email: string, method: string, path: string, body?: unknown): Promise<Response | undefined> => {
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${tokens.get(email)}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      await res.clone().arrayBuffer();
      tally.statuses.set(String(res.status), (tally.statuses.get(String(res.status)) ?? 0) + 1);
      return res;
    } catch (error) {
      const what = `no answer (${(error as Error).name})`;
      tally.statuses.set(what, (tally.statuses.get(what) ?? 0) + 1);
      return undefined;
    }
  };

  try {
    const setup = [
      await call(OWNER, 'POST', '/v2/datasets', { [DATASET]: { description: 'soak' } }),
      await call(OWNER, 'POST', '/v2/users', {
        ...Object.fromEntries(WRITERS.map((email) => [email, { datasets: { [DATASET]: ['clio_general', 'clio_write'] } }])),
        ...Object.fromEntries(READERS.map((email) => [email, { datasets: { [DATASET]: ['clio_read'] } }])),
      }),
    ];
    if (setup.some((res) => res?.status !== 200)) throw new Error('could not set up the dataset and users');
    tally.statuses.clear();

    const rss: [string, number][] = [['start', rssMiB(child.pid!)]];
    // Besides start, middle and end: once a minute, so that warming up can be told from growing.
    const started = Date.now();
    const everyMinute = setInterval(() => rss.push([`${Math.round((Date.now() - started) / 60_000)} min`, rssMiB(child.pid!)]), 60_000);
    const end = Date.now() + MINUTES * 60_000;
    let middleTaken = false;
    const worker = async (w: number) => {
      const writer = WRITERS[w];
      const reader = READERS[w % READERS.length];
      const kv = new Map<string, number>();
      const annotations = new Map<string, string>();
      tally.kvWritten.set(writer, kv);
      tally.annotationsWritten.set(writer, annotations);
      for (let seq = 0; Date.now() < end; seq++) {
        const key = `k${seq % SLOTS}`;
        if ((await call(writer, 'POST', `/v2/kv/soak/${key}`, { worker: w, seq }))?.status === 200) {
          kv.set(key, seq);
          tally.writes++;
        }
        const read = await call(writer, 'GET', `/v2/kv/soak/${key}`);
        if (read?.status === 200 && ((await read.json()) as { seq?: number }).seq !== seq) tally.statuses.set('stale read', (tally.statuses.get('stale read') ?? 0) + 1);
        const title = `w${w} s${seq}`;
        const posted = await call(writer, 'POST', `/v2/annotations/${DATASET}`, { kind: 'point', pos: [w, seq % SLOTS, 0], title });
        if (posted?.status === 200) {
          annotations.set(((await posted.json()) as { key: string }).key, title);
          tally.writes++;
        }
        if (seq % 5 === 0 && (await call(OWNER, 'POST', '/v2/kv/soak/shared', { worker: w, seq }))?.status === 200) tally.sharedWrites.add(w * 1e6 + seq);
        if (seq % 10 === 0) await call(writer, 'GET', `/v2/annotations/${DATASET}`);
        await call(reader, 'GET', `/v2/datasets/${DATASET}`);
        await call(reader, 'GET', '/v2/roles');
        await call(reader, 'POST', `/v2/annotations/${DATASET}`, { kind: 'point', pos: [0, 0, 0] });
        if (!middleTaken && Date.now() > end - (MINUTES * 60_000) / 2) {
          middleTaken = true;
          rss.push(['middle', rssMiB(child.pid!)]);
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    clearInterval(everyMinute);
    rss.push(['end', rssMiB(child.pid!)]);

    const requests = [...tally.statuses.values()].reduce((a, b) => a + b, 0);
    const failures = [...tally.statuses].filter(([status]) => !/^[234]\d\d$/.test(status));
    process.stdout.write(`${MINUTES} min, ${WORKERS} writers and ${READERS.length} readers: ${requests} requests, ${(requests / MINUTES / 60).toFixed(0)} req/s\n`);
    process.stdout.write(`answers: ${[...tally.statuses].map(([status, n]) => `${status} x${n}`).join(', ')}\n`);
    process.stdout.write(`5xx, lost connections and stale reads: ${failures.reduce((sum, [, n]) => sum + n, 0)}\n`);
    process.stdout.write(`server RSS (MiB): ${rss.map(([when, mib]) => `${when} ${mib}`).join(', ')}\n`);
    await verify(emulatorHost, tally);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Every key holds its last acknowledged write, exactly once; nothing else was stored. */
async function verify(emulatorHost: string, tally: Tally): Promise<void> {
  const db = googleFirestore(emulatorHost, PROJECT);
  const wrong = { kvMissing: 0, kvStale: 0, kvExtra: 0, annotationsMissing: 0, annotationsStale: 0, annotationsExtra: 0 };
  for (const writer of WRITERS) {
    const kv = new Map((await db.collection(COLLECTIONS.keyValues).doc(writer).collection('soak').get()).docs.map((doc) => [doc.id, doc.get('seq')]));
    const expectedKv = tally.kvWritten.get(writer) ?? new Map();
    for (const [key, seq] of expectedKv) if (!kv.has(key)) wrong.kvMissing++; else if (kv.get(key) !== seq) wrong.kvStale++;
    for (const key of kv.keys()) if (!expectedKv.has(key)) wrong.kvExtra++;
    const stored = (await db.collection(COLLECTIONS.annotationsV2).doc(DATASET).collection(writer).get()).docs;
    const expected = tally.annotationsWritten.get(writer) ?? new Map();
    const titles = new Map(stored.map((doc) => [doc.id, String(doc.get('title'))]));
    for (const [key, title] of expected) if (!titles.has(key)) wrong.annotationsMissing++; else if (titles.get(key) !== title) wrong.annotationsStale++;
    for (const key of titles.keys()) if (!expected.has(key)) wrong.annotationsExtra++;
  }
  const shared = await db.collection(COLLECTIONS.keyValues).doc(OWNER).collection('soak').doc('shared').get();
  const sharedRight = tally.sharedWrites.has(Number(shared.get('worker')) * 1e6 + Number(shared.get('seq')));
  const keys = [...tally.kvWritten.values()].reduce((sum, map) => sum + map.size, 0) + [...tally.annotationsWritten.values()].reduce((sum, map) => sum + map.size, 0);
  process.stdout.write(
    `checked against the emulator: ${tally.writes} acknowledged writes to ${keys} kv keys and annotations; ` +
      `missing ${wrong.kvMissing + wrong.annotationsMissing}, not the last write ${wrong.kvStale + wrong.annotationsStale}, unexpected documents ${wrong.kvExtra + wrong.annotationsExtra}; ` +
      `the shared key holds one of its ${tally.sharedWrites.size} writes: ${sharedRight ? 'yes' : 'NO'}\n`,
  );
  await db.terminate();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
