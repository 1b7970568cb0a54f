/**
 * `npm start` end to end: it starts its own Firestore emulator, serves every function on one
 * port, answers the original README's curl examples for datasets, users and roles without any
 * token, and keeps the data across a restart.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './firestore-emulator';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'clio-data-'));
let child: ChildProcess | undefined;

async function start(port: number): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), CLIO_DATA_DIR: dataDir, METADATA_SERVER_DETECTION: 'none' };
  delete env.FIRESTORE_EMULATOR_HOST;
  delete env.TEST_USER;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'emulator/start.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (chunk) => (output += chunk));
  proc.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Clio Store is serving')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((done) => setTimeout(done, 200));
  }
  expect(output).toMatch(/npm run token --/);
  return proc;
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
});
