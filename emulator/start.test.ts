/**
 * `npm start` end to end: it starts its own Firestore emulator, serves every function on one
 * port, answers the original README's curl examples for datasets, users and roles without any
 * token, and keeps the data across a restart. Pointed at an emulator that already holds data, it
 * changes nothing there; into an empty one it seeds the demo data.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { Firestore } from '../shared/firestore-client/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { COLLECTIONS } from '../shared/collections';
import { loadConfig } from '../shared/config';
import { lazyFirestore } from '../shared/firestore';
import { databaseState } from '../shared/testing/harness';
import { freePort } from './firestore-emulator';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'clio-data-'));
type Started = ChildProcess & { output: () => string };
let child: Started | undefined;

/** Starts `npm start` with its own emulator, or with `overrides` (e.g. another emulator's host). */
async function start(port: number, overrides: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), CLIO_DATA_DIR: dataDir, METADATA_SERVER_DETECTION: 'none' };
  delete env.FIRESTORE_EMULATOR_HOST;
  delete env.TEST_USER;
  Object.assign(env, overrides);
  const proc = spawn(process.execPath, ['--import', 'tsx', 'emulator/start.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (chunk) => (output += chunk));
  proc.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Clio Store is serving')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((done) => setTimeout(done, 200));
  }
  expect(output).toMatch(/npm run token --/);
  return Object.assign(proc, { output: () => output });
}

async function stop(proc: ChildProcess): Promise<void> {
  const exited = new Promise((done) => proc.once('exit', done));
  proc.kill('SIGINT');
  await exited;
}

/** The README's examples, run with curl as a reader would (no Authorization header). */
async function curl(...args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', ...args]);
  const lines = stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

/** A new project on the test run's emulator, and a Firestore client for it. */
function freshProject(): { projectId: string; db: Firestore } {
  const projectId = `demo-start-${randomBytes(6).toString('hex')}`;
  return { projectId, db: lazyFirestore(loadConfig({ FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'), GOOGLE_CLOUD_PROJECT: projectId }))() };
}

afterAll(async () => {
  if (child && child.exitCode === null) await stop(child);
});

describe('npm start', () => {
  it("serves the original README's datasets, users and roles examples, and keeps data across restarts", async () => {
    const port = await freePort();
    const base = `http://localhost:${port}`;
    child = await start(port);

    const posted = await curl('-X', 'POST', '-H', 'Content-Type: application/json', `${base}/datasets`, '-d', '{"mb20": { "description": "4nm MB", "location": "gs://"}}');
    expect(posted).toEqual({ status: 200, body: 'null' });
    await curl('-X', 'POST', '-H', 'Content-Type: application/json', `${base}/datasets`, '-d', '{"mb21": { "description": "kept", "location": "gs://"}}');
    const listed = await curl('-X', 'GET', '-H', 'Content-Type: application/json', `${base}/datasets`);
    expect(listed.status).toBe(200);
    expect(Object.keys(JSON.parse(listed.body))).toEqual(expect.arrayContaining(['mb20', 'mb21', 'demo']));
    const deleted = await curl('-X', 'DELETE', '-H', 'Content-Type: application/json', `${base}/datasets`, '-d', '["mb20"]');
    expect(deleted.status).toBe(200);
    expect(Object.keys(JSON.parse((await curl(`${base}/v2/datasets`)).body))).not.toContain('mb20');

    const users = await curl('-X', 'POST', '-H', 'Content-Type: application/json', `${base}/users`, '-d',
      '{"plaza.stephen@gmail.com": {"global_roles": ["admin", "clio_general" ]}, "datasets": {"hemibrain": ["clio_write"]}}');
    expect(users.status).toBe(200);
    const all = JSON.parse((await curl('-X', 'GET', '-H', 'Content-Type: application/json', `${base}/users`)).body);
    expect(all['plaza.stephen@gmail.com']).toMatchObject({ global_roles: ['admin', 'clio_general'], datasets: { hemibrain: ['clio_write'] } });
    expect((await curl('-X', 'DELETE', '-H', 'Content-Type: application/json', `${base}/users`, '-d', '["plaza.stephen"]')).status).toBe(200);
    const roles = JSON.parse((await curl('-X', 'GET', '-H', 'Content-Type: application/json', `${base}/roles`)).body);
    expect(roles.email).toBe('owner@demo.clio.local');
    expect(roles.global_roles).toEqual(expect.arrayContaining(['admin', 'clio_general', 'clio_write']));

    // A token from `npm run token` works against the running server.
    const { stdout: token } = await run(process.execPath, ['--import', 'tsx', 'emulator/token.ts', 'someone@example.org'], { cwd: ROOT });
    const asSomeone = JSON.parse((await curl('-H', `Authorization: Bearer ${token.trim()}`, `${base}/v2/roles`)).body);
    expect(asSomeone.email).toBe('someone@example.org');

    await stop(child);
    expect(readdirSync(dataDir).filter((name) => name.startsWith('firestore_export'))).toHaveLength(1);
    child = await start(port);
    const after = JSON.parse((await curl(`${base}/v2/datasets`)).body);
    expect(after.mb21).toEqual({ description: 'kept', location: 'gs://' });
    expect(after.mb20).toBeUndefined();
    await stop(child);
    expect(readdirSync(dataDir).filter((name) => name.startsWith('firestore_export'))).toHaveLength(1);
  }, 180_000);

  it('leaves a database that already holds datasets or users exactly as it was, and says so', async () => {
    const { projectId, db } = freshProject();
    await db.collection(COLLECTIONS.datasets).doc('hemibrain').set({ description: 'imported', public: true, tag: 'v1.2' });
    await db.collection(COLLECTIONS.datasets).doc('manc').set({ description: 'imported too', tag: 'v1.0' });
    await db.collection(COLLECTIONS.users).doc('someone@janelia.org').set({ global_roles: ['clio_general'], datasets: { manc: ['clio_write'] } });
    const before = await databaseState({ projectId });
    expect(before.size).toBe(3);

    const port = await freePort();
    child = await start(port, { FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'), GOOGLE_CLOUD_PROJECT: projectId, CLIO_DATA_DIR: mkdtempSync(join(tmpdir(), 'clio-data-')) });
    expect(child.output()).toContain('Found existing data (2 datasets, 1 user): nothing was seeded or changed.');
    const listed = JSON.parse((await curl(`http://localhost:${port}/v2/datasets`)).body);
    expect(Object.keys(listed)).toEqual(['hemibrain']);
    await stop(child);
    // Same documents, same bytes, same update times: nothing was written, not even the owner's user.
    expect(await databaseState({ projectId })).toEqual(before);
  }, 120_000);

  it('with --dsg runs a DatasetGateway stand-in: the browser login flow, /profile and stand-in keys work (hybrid: FlyEM tokens too)', async () => {
    const { projectId } = freshProject();
    const port = await freePort();
    const base = `http://localhost:${port}`;
    child = await start(
      port,
      { FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'), GOOGLE_CLOUD_PROJECT: projectId, CLIO_DATA_DIR: mkdtempSync(join(tmpdir(), 'clio-data-')), AUTH_MODE: 'hybrid' },
      ['--dsg'],
    );
    const standIn = /DatasetGateway stand-in at (http:\/\/localhost:\d+)/.exec(child.output())?.[1];
    expect(standIn).toBeDefined();
    // The web app sends the browser to /login, which goes to the stand-in's authorize page.
    const login = await fetch(`${base}/login?redirect=${encodeURIComponent(`${base}/profile`)}&dataset=demo-private`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    const authorize = new URL(login.headers.get('location')!);
    expect(authorize.origin).toBe(standIn);
    // Picking Alice there signs her in (host-only cookie) and asks for the pending terms of service first.
    authorize.searchParams.set('email', 'alice@example.org');
    const signedIn = await fetch(authorize, { redirect: 'manual' });
    expect(signedIn.headers.get('location')).toMatch(/^\/web\/tos\/service-check\/\?service=clio&dataset=demo-private&next=/);
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0];
    expect(cookie).toMatch(/^dsg_token=[0-9a-f]{64}$/);
    const profile = await fetch(`${base}/profile`, { headers: { cookie } });
    expect(await profile.json()).toMatchObject({ email: 'alice@example.org', datasets: { demo: ['clio_general', 'clio_write'] }, missing_tos: [{ dataset_name: 'demo-private' }], dsg_url: standIn });
    // Accepting the terms at the stand-in opens the dataset.
    const accepted = await fetch(`${standIn}${signedIn.headers.get('location')}`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(accepted.headers.get('location')).toBe(`${base}/profile`);
    const access = (await (await fetch(`${base}/dataset-access?dataset=demo-private&redirect=${encodeURIComponent(base)}`, { headers: { cookie } })).json()) as { access: boolean };
    expect(access.access).toBe(true);
    // Stand-in keys for curl, and in hybrid mode FlyEM tokens from npm run token.
    expect(JSON.parse((await curl('-H', 'Authorization: Bearer bob-key', `${base}/v2/roles`)).body).email).toBe('bob@example.org');
    const { stdout: token } = await run(process.execPath, ['--import', 'tsx', 'emulator/token.ts', 'someone@example.org'], { cwd: ROOT });
    expect(JSON.parse((await curl('-H', `Authorization: Bearer ${token.trim()}`, `${base}/v2/roles`)).body).email).toBe('someone@example.org');
    const logout = await fetch(`${base}/logout?redirect=%2F`, { headers: { cookie }, redirect: 'manual' });
    expect(logout.headers.get('set-cookie')).not.toMatch(/Domain/i);
    expect((await fetch(`${base}/profile`, { headers: { cookie } })).status).toBe(401);
    await stop(child);
  }, 120_000);

  it('seeds the demo datasets and the owner into an empty database, and says so', async () => {
    const { projectId, db } = freshProject();
    const port = await freePort();
    child = await start(port, { FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'), GOOGLE_CLOUD_PROJECT: projectId, CLIO_DATA_DIR: mkdtempSync(join(tmpdir(), 'clio-data-')) });
    expect(child.output()).toContain('The database was empty, so demo data was seeded');
    await stop(child);
    expect((await db.collection(COLLECTIONS.datasets).listDocuments()).map((ref) => ref.id).sort()).toEqual(['demo', 'demo-private']);
    expect((await db.collection(COLLECTIONS.users).doc('owner@demo.clio.local').get()).data()?.global_roles).toEqual(['admin', 'clio_general', 'clio_write']);
  }, 120_000);
});
