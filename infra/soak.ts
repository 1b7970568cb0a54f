/**
 * `npm run soak [-- --minutes N]` (not in CI; 10 minutes by default): mixed load from many
 * identities against `npm start`, started here as its own process on a free port with a fresh
 * data directory. Printed at the end: answers by status (any 5xx or lost connection is a
 * failure), the server's resident memory at the start, middle and end, and a check against the
 * emulator that every acknowledged write is stored exactly once, with what was written.
 *
 * Each worker writes keys and annotations only it writes, so the expected final state is known
 * exactly; all workers also overwrite one shared key of the owner's, which must end as one of
 * their writes. Readers read, and try writes their role refuses.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { issueFlyemToken } from '../shared/auth/tokens';
import { COLLECTIONS } from '../shared/collections';
import { freePort } from '../emulator/firestore-emulator';

const SECRET = 'soak-secret';
const PROJECT = 'demo-soak';
const OWNER = 'owner@soak.test';
const DATASET = 'soak';
const WORKERS = 20;
/** Distinct callers: writers (clio_write on the dataset) and readers (clio_read only). */
const WRITERS = Array.from({ length: WORKERS }, (_, i) => `writer${i}@soak.test`);
const READERS = Array.from({ length: 10 }, (_, i) => `reader${i}@soak.test`);

const minutesArg = process.argv.indexOf('--minutes');
const MINUTES = minutesArg > 0 ? Number(process.argv[minutesArg + 1]) : 10;

interface Tally {
  statuses: Map<string, number>;
  kvWritten: Map<string, number>;
  annotationsWritten: Map<string, Set<string>>;
  sharedWrites: Set<number>;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Math.round(Number(line?.split(/\s+/)[1]) / 1024);
}

async function startServer(port: number, dataDir: string): Promise<{ child: ChildProcess; emulatorHost: string }> {
  // The same program `npm start` runs (tsx emulator/start.ts), in one process so its memory can be read.
  const child = spawn(process.execPath, ['--import', 'tsx', 'emulator/start.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      CLIO_DATA_DIR: dataDir,
      GOOGLE_CLOUD_PROJECT: PROJECT,
      OWNER,
      FLYEM_SECRET: SECRET,
      TEST_USER: '',
      METADATA_SERVER_DETECTION: 'none',
      // npm start starts its own emulator unless one is named.
      FIRESTORE_EMULATOR_HOST: undefined,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let banner = '';
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`npm start did not come up:\n${banner}`)), 120_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      banner += chunk.toString();
      const serving = /Firestore emulator (\S+?),/.exec(banner);
      if (serving) {
        clearTimeout(timer);
        done({ child, emulatorHost: serving[1] });
      }
    });
    child.once('exit', (code) => fail(new Error(`npm start exited with ${code}:\n${banner}`)));
  });
}

async function main(): Promise<void> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'clio-soak-'));
  const { child, emulatorHost } = await startServer(port, dataDir);
  const base = `http://127.0.0.1:${port}`;
  const tokens = new Map([...WRITERS, ...READERS, OWNER].map((email) => [email, issueFlyemToken(SECRET, email, null)]));
  const tally: Tally = { statuses: new Map(), kvWritten: new Map(), annotationsWritten: new Map(), sharedWrites: new Set() };

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
    const end = Date.now() + MINUTES * 60_000;
    let middleTaken = false;
    const worker = async (w: number) => {
      const writer = WRITERS[w];
      const reader = READERS[w % READERS.length];
      for (let seq = 0; Date.now() < end; seq++) {
        const key = `k${seq}`;
        if ((await call(writer, 'POST', `/v2/kv/soak/${key}`, { worker: w, seq }))?.status === 200) tally.kvWritten.set(`${writer}/${key}`, seq);
        const read = await call(writer, 'GET', `/v2/kv/soak/${key}`);
        if (read?.status === 200 && ((await read.json()) as { seq?: number }).seq !== seq) tally.statuses.set('stale read', (tally.statuses.get('stale read') ?? 0) + 1);
        const title = `w${w} s${seq}`;
        const posted = await call(writer, 'POST', `/v2/annotations/${DATASET}`, { kind: 'point', pos: [w, seq, 0], title });
        if (posted?.status === 200) {
          const mine = tally.annotationsWritten.get(writer) ?? new Set();
          tally.annotationsWritten.set(writer, mine.add(title));
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
    rss.push(['end', rssMiB(child.pid!)]);

    const requests = [...tally.statuses.values()].reduce((a, b) => a + b, 0);
    const failures = [...tally.statuses].filter(([status]) => !/^[234]\d\d$/.test(status));
    process.stdout.write(`${MINUTES} min, ${WORKERS} writers and ${READERS.length} readers: ${requests} requests, ${(requests / MINUTES / 60).toFixed(0)} req/s\n`);
    process.stdout.write(`answers: ${[...tally.statuses].map(([status, n]) => `${status} x${n}`).join(', ')}\n`);
    process.stdout.write(`5xx, lost connections and stale reads: ${failures.reduce((sum, [, n]) => sum + n, 0)}\n`);
    process.stdout.write(`server RSS (MiB): ${rss.map(([when, mib]) => `${when} ${mib}`).join(', ')}\n`);
    await verify(emulatorHost, tally);
  } finally {
    child.kill('SIGTERM');
    await new Promise((done) => child.once('exit', done));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Every acknowledged write is stored once, as written; nothing else was stored. */
async function verify(emulatorHost: string, tally: Tally): Promise<void> {
  const [host, port] = emulatorHost.split(':');
  const db = new Firestore({ projectId: PROJECT, host, port: Number(port), ssl: false, customHeaders: { Authorization: 'Bearer owner' } });
  let lostKv = 0;
  let wrongKv = 0;
  let extraKv = 0;
  for (const writer of WRITERS) {
    const stored = await db.collection(COLLECTIONS.keyValues).doc(writer).collection('soak').get();
    const byKey = new Map(stored.docs.map((doc) => [doc.id, doc.data()]));
    for (const id of byKey.keys()) if (!tally.kvWritten.has(`${writer}/${id}`)) extraKv++;
    for (const [path, seq] of tally.kvWritten) {
      if (!path.startsWith(`${writer}/`)) continue;
      const data = byKey.get(path.slice(writer.length + 1));
      if (!data) lostKv++;
      else if (data.seq !== seq) wrongKv++;
    }
  }
  let lostAnnotations = 0;
  let duplicated = 0;
  for (const writer of WRITERS) {
    const stored = await db.collection(COLLECTIONS.annotationsV2).doc(DATASET).collection(writer).get();
    const titles = stored.docs.map((doc) => String(doc.get('title')));
    duplicated += titles.length - new Set(titles).size;
    for (const title of tally.annotationsWritten.get(writer) ?? []) if (!titles.includes(title)) lostAnnotations++;
  }
  const shared = await db.collection(COLLECTIONS.keyValues).doc(OWNER).collection('soak').doc('shared').get();
  const sharedRight = tally.sharedWrites.has(Number(shared.get('worker')) * 1e6 + Number(shared.get('seq')));
  const kvCount = tally.kvWritten.size;
  const annotationCount = [...tally.annotationsWritten.values()].reduce((sum, set) => sum + set.size, 0);
  process.stdout.write(
    `checked against the emulator: ${kvCount} kv writes (lost ${lostKv}, wrong value ${wrongKv}, unexpected ${extraKv}), ` +
      `${annotationCount} annotations (lost ${lostAnnotations}, duplicated ${duplicated}), shared key holds one of its ${tally.sharedWrites.size} writes: ${sharedRight ? 'yes' : 'NO'}\n`,
  );
  await db.terminate();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
