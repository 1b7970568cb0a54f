/**
 * `npm run faults`: the Firestore emulator fails under a steady mixed load, twice, and the
 * figures are printed: how each request ended while it was down (status, time), whether any
 * two-document write was half applied, and whether the same instance serves again once it is
 * back, without a restart.
 *   1. frozen (SIGSTOP, as a database that stops answering), then thawed;
 *   2. killed (connections refused), then started again on the same address.
 * Traffic goes to loopback only; every loop is bounded in count and time.
 */
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAMILIES } from '../functions/registry';
import { issueFlyemToken } from '../shared/auth/tokens';
import { COLLECTIONS } from '../shared/collections';
import { loadConfig } from '../shared/config';
import { createContext } from '../shared/context';
import { Logger } from '../shared/log';
import { createLocalServer } from '../emulator/serve';
import { type RunningEmulator, startFirestoreEmulator } from '../emulator/firestore-emulator';

const SECRET = 'fault-run-secret';
const PROJECT = 'demo-faults';
const DATASET = 'fault-ds';
const EMAIL = 'writer@faults.test';
/** Requests sent while the database is down, one every half second. */
const OUTAGE_REQUESTS = 8;

interface Outcome {
  readonly what: string;
  readonly status: number | 'no answer';
  readonly ms: number;
}

async function send(base: string, what: string, method: string, path: string, body?: unknown): Promise<Outcome> {
  const started = Date.now();
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${issueFlyemToken(SECRET, EMAIL, null)}`, origin: 'https://clio.example' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    await res.arrayBuffer();
    return { what, status: res.status, ms: Date.now() - started };
  } catch {
    return { what, status: 'no answer', ms: Date.now() - started };
  }
}

/** A read, a one-document write, and a two-document atomic write (numbered so halves can be found). */
const mixed = (base: string, n: number) => [
  send(base, 'kv read', 'GET', '/v2/kv/faults/k'),
  send(base, 'kv write', 'POST', `/v2/kv/faults/k${n}`, { n }),
  send(base, 'pair write', 'POST', `/v2/annotations/${DATASET}`, [
    { kind: 'point', pos: [n, 0, 0], title: `pair ${n}` },
    { kind: 'point', pos: [n, 1, 0], title: `pair ${n}` },
  ]),
];

function summary(outcomes: readonly Outcome[]): string {
  const byStatus = new Map<string, number[]>();
  for (const { status, ms } of outcomes) byStatus.set(String(status), [...(byStatus.get(String(status)) ?? []), ms]);
  return [...byStatus]
    .map(([status, times]) => `${status} x${times.length} (${Math.min(...times)}-${Math.max(...times)} ms)`)
    .join(', ');
}

async function outage(name: string, base: string, fail: () => Promise<void>, recover: () => Promise<void>, first: number): Promise<void> {
  await fail();
  const during: Promise<Outcome>[] = [];
  for (let i = 0; i < OUTAGE_REQUESTS; i++) {
    during.push(...mixed(base, first + i));
    await sleep(500);
  }
  const outcomes = await Promise.all(during);
  process.stdout.write(`${name}: while down: ${summary(outcomes)}\n`);
  await recover();
  const after: Outcome[] = [];
  for (let i = 0; i < 20 && !after.some((o) => o.status === 200 && o.what === 'kv read'); i++) {
    after.push(await send(base, 'kv read', 'GET', '/v2/kv/faults/k'));
    if (after.at(-1)?.status !== 200) await sleep(500);
  }
  process.stdout.write(`${name}: after recovery, same instance: ${summary(after)}; then ${summary(await Promise.all(mixed(base, first + 100)))}\n`);
}

async function main(): Promise<void> {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  await faultRun();
}

async function faultRun(): Promise<void> {
  let emulator: RunningEmulator = await startFirestoreEmulator({ env: {} });
  const port = Number(emulator.host.split(':')[1]);
  const config = loadConfig({ FIRESTORE_EMULATOR_HOST: emulator.host, GOOGLE_CLOUD_PROJECT: PROJECT, FLYEM_SECRET: SECRET });
  const ctx = createContext(config, new Logger(() => undefined));
  const db = ctx.db();
  await db.collection(COLLECTIONS.users).doc(EMAIL).set({ global_roles: ['clio_general', 'clio_write'] });
  await db.collection(COLLECTIONS.datasets).doc(DATASET).set({ description: 'fault runs' });
  await db.collection(COLLECTIONS.keyValues).doc(EMAIL).collection('faults').doc('k').set({ ok: true });
  const server: Server = createLocalServer(FAMILIES, ctx).listen(0, '127.0.0.1');
  await new Promise((done) => server.once('listening', done));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    process.stdout.write(`warm-up: ${summary(await Promise.all(mixed(base, 0)))}\n`);
    const group = () => -(emulator.pid ?? 0);
    const signal = (name: NodeJS.Signals) => async () => void process.kill(group(), name);
    await outage('frozen', base, signal('SIGSTOP'), signal('SIGCONT'), 1000);
    const pairs = await db.collection(COLLECTIONS.annotationsV2).doc(DATASET).collection(EMAIL).get();
    const counts = new Map<string, number>();
    for (const doc of pairs.docs) counts.set(String(doc.get('title')), (counts.get(String(doc.get('title'))) ?? 0) + 1);
    const halves = [...counts].filter(([, count]) => count !== 2);
    process.stdout.write(`two-document writes stored after the frozen run and its recovery: ${counts.size}, half applied: ${halves.length}\n`);
    // The restarted emulator starts empty: the data the checks need is written again.
    await outage(
      'killed',
      base,
      () => emulator.stop(),
      async () => {
        emulator = await startFirestoreEmulator({ env: {}, port });
        await db.collection(COLLECTIONS.keyValues).doc(EMAIL).collection('faults').doc('k').set({ ok: true });
      },
      2000,
    );
    process.stdout.write(`the process is alive and served every request above (pid ${process.pid})\n`);
  } finally {
    server.close();
    await emulator.stop();
  }
}

// Writes abandoned at their deadline may still be retrying inside the client; they must not keep the run alive.
main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
