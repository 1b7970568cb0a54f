/**
 * Boots every built bundle (dist/<function>, made by `npm run build`, which `npm test` runs first)
 * under the real Functions Framework CLI and sends it one request.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { FAMILIES } from '../functions/registry';
import { COLLECTIONS } from '../shared/collections';
import { issueFlyemToken } from '../shared/auth/tokens';
import { googleFirestore } from '../shared/testing/google-firestore';
import { listenLocally } from '../shared/testing/listen-locally';
import { GcsTestServer } from '../shared/testing/gcs-test-server';
import { startFakeFirestore } from '../shared/testing/grpc-firestore-server';
import { Timestamp } from '../shared/firestore-client/values';
import { freePort } from '../emulator/firestore-emulator';
import { LAZY_PACKAGES } from './build';
import { rewriteTable } from './rewrites';

const ROOT = join(__dirname, '..');
const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** Boots the function `name` built in `source` (default dist/<name>); answers its URL and everything it printed so far. */
async function serve(name: string, source = join(ROOT, 'dist', name), env: Record<string, string | undefined> = {}): Promise<{ url: string; output: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/.bin/functions-framework'), `--target=${name}`, `--source=${source}`, `--port=${port}`], {
    // An undefined value leaves the variable out.
    env: Object.fromEntries(
      Object.entries({
        PATH: process.env.PATH,
        METADATA_SERVER_DETECTION: 'none',
        FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'),
        GOOGLE_CLOUD_PROJECT: `demo-smoke-${name}`,
        TEST_USER: 'smoke@test.org',
        ...env,
      }).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`functions-framework exited (${child.exitCode}):\n${output}`);
    try {
      await fetch(url);
      return { url, output: () => output };
    } catch {
      await new Promise((done) => setTimeout(done, 100));
    }
  }
  throw new Error(`functions-framework did not start:\n${output}`);
}

describe('built bundles under the Functions Framework', () => {
  const table = rewriteTable(FAMILIES);

  it.each(FAMILIES.map((family) => family.name))('dist/%s answers through the shared wrapper', async (name) => {
    expect(existsSync(join(ROOT, 'dist', name, 'index.js')), 'run npm run build first').toBe(true);
    const { url } = await serve(name);
    // A path inside the function's own prefix but with no route: the wrapper's 404, with CORS.
    const prefix = table.find((rewrite) => rewrite.functionName === name)!.prefix;
    const response = await fetch(`${url}${prefix === '/' ? '' : prefix}/no-such-route/x/y/z`, { headers: { origin: 'https://clio.example' } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ detail: 'Not Found' });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://clio.example');
  });

  it('dist/server reads JSON bodies whatever the Content-Type, as the README says', async () => {
    const { url } = await serve('server');
    const post = (body: string, contentType?: string) =>
      fetch(`${url}/v2/site-reports`, { method: 'POST', body, headers: contentType ? { 'content-type': contentType } : {} });
    for (const contentType of [undefined, 'text/plain;charset=UTF-8', 'application/json']) {
      const res = await post('{"projectUrl": "https://x/v2"}', contentType);
      expect(res.status, String(contentType)).toBe(200);
      expect(await res.text()).toBe('null');
    }
    const malformed = await post('{"projectUrl": ', 'text/plain');
    expect(malformed.status).toBe(422);
    // The documented exception: the framework itself parses application/json first and answers 400.
    expect((await post('{"projectUrl": ', 'application/json')).status).toBe(400);
  });

  // The Google client libraries are bundled: each of the client's kinds of call must work from the bundle.
  it('dist/json-annotations (native store) runs transactions, batched reads, queries and streamed reads', async () => {
    const { url } = await serve('json-annotations');
    const admin = googleFirestore(inject('firestoreEmulatorHost'), 'demo-smoke-json-annotations');
    await admin.collection(COLLECTIONS.users).doc('smoke@test.org').set({ global_roles: ['clio_general', 'clio_write'] });
    await admin.collection(COLLECTIONS.datasets).doc('native').set({ description: 'native', neurons: { store: 'firestore' } });
    await admin.terminate();
    const base = `${url}/v2/json-annotations/native/neurons`;
    const post = await fetch(base, { method: 'POST', body: '[{"bodyid": 18446744073709551615, "type": "big"}, {"bodyid": 7, "type": "small"}]' });
    expect(post.status, await post.clone().text()).toBe(200);
    expect(await (await fetch(`${base}/id-number/7,18446744073709551615`)).text()).toMatch(/"bodyid":7[,}].*"bodyid":18446744073709551615[,}]/s);
    const query = await fetch(`${base}/query`, { method: 'POST', body: '{"type": "small"}' });
    expect(await query.json()).toEqual([expect.objectContaining({ bodyid: 7, type: 'small' })]);
    const all = await (await fetch(`${base}/all`)).text();
    expect(all).toMatch(/"type":"big"/);
    expect(all).toMatch(/"type":"small"/);
  });

  it('loads each bundle with its V8 code cache; a cache this Node rejects costs only the compile, and says so', async () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'dist/kv/package.json'), 'utf8')).scripts).toEqual({ 'gcp-build': 'node index.js --write-code-cache' });
    const notice = /"severity":"NOTICE","message":"code cache not used: Node v[\d.]+ rejected bundle.cache/;
    const built = await serve('kv');
    expect((await fetch(`${built.url}/v2/kv/no-such-route/x/y`)).status).toBe(404);
    expect(built.output()).not.toMatch(/code cache not used/);

    // A cache another Node wrote: its V8 refuses it, as this one refuses these bytes.
    const copy = join(ROOT, 'test-artifacts', 'smoke-code-cache', 'kv');
    rmSync(copy, { recursive: true, force: true });
    cpSync(join(ROOT, 'dist/kv'), copy, { recursive: true });
    writeFileSync(join(copy, 'bundle.cache'), Buffer.alloc(4096, 7));
    const rejected = await serve('kv', copy);
    expect((await fetch(`${rejected.url}/v2/kv/no-such-route/x/y`)).status).toBe(404);
    expect(rejected.output()).toMatch(notice);

    // What gcp-build runs on Cloud Build: the runtime's own Node writes a cache it accepts.
    execFileSync(process.execPath, ['index.js', '--write-code-cache'], { cwd: copy, env: { PATH: process.env.PATH, METADATA_SERVER_DETECTION: 'none' } });
    const rewritten = await serve('kv', copy);
    expect((await fetch(`${rewritten.url}/v2/kv/no-such-route/x/y`)).status).toBe(404);
    expect(rewritten.output()).not.toMatch(/code cache not used/);

    // Node maps stack traces only for what its module loader compiles: with source maps on, no cache.
    const mapped = await serve('kv', copy, { NODE_OPTIONS: '--enable-source-maps' });
    expect((await fetch(`${mapped.url}/v2/kv/no-such-route/x/y`)).status).toBe(404);
    expect(mapped.output()).toMatch(/code cache not used: source maps are enabled/);
  });

  it('dist/kv reaches Firestore as in production: the gRPC API with the metadata server’s access token', async () => {
    const metadataCalls: string[] = [];
    const metadata = await listenLocally(
      createServer((request, response) => {
        metadataCalls.push(`${request.url} ${request.headers['metadata-flavor']}`);
        if (request.url?.startsWith('/computeMetadata/v1/instance/service-accounts/default/token')) {
          response.setHeader('metadata-flavor', 'Google');
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify({ access_token: 'metadata-token', expires_in: 3599, token_type: 'Bearer' }));
        } else response.writeHead(404).end();
      }),
    );
    const firestoreCalls: string[] = [];
    const root = 'projects/smoke-prod/databases/(default)/documents';
    const readTime = new Timestamp(Date.UTC(2026, 11, 1) / 1000, 0);
    const firestore = await startFakeFirestore(({ method, request, headers }, reply) => {
      firestoreCalls.push(`${method} ${headers.authorization}`);
      for (const name of (request.documents as string[] | undefined) ?? []) {
        reply.send(
          name === `${root}/${COLLECTIONS.keyValues}/owner@smoke.org/scope/key`
            ? { found: { name, fields: { value: { stringValue: 'from production' } } }, readTime }
            : { missing: name, readTime },
        );
      }
      reply.end();
    });
    try {
      const { url } = await serve('kv', undefined, {
        FIRESTORE_EMULATOR_HOST: undefined,
        TEST_USER: undefined,
        GOOGLE_CLOUD_PROJECT: 'smoke-prod',
        FIRESTORE_API_URL: firestore.url,
        METADATA_SERVER_DETECTION: 'assume-present',
        GCE_METADATA_HOST: new URL(metadata.url).host,
        // No gcloud credentials of this machine's user: the metadata server is the only source.
        HOME: mkdtempSync(join(tmpdir(), 'smoke-home-')),
        FLYEM_SECRET: 'smoke-secret',
        OWNER: 'owner@smoke.org',
      });
      const response = await fetch(`${url}/v2/kv/scope/key`, { headers: { authorization: `Bearer ${issueFlyemToken('smoke-secret', 'owner@smoke.org', null)}` } });
      expect(await response.json()).toEqual({ value: 'from production' });
      expect(firestoreCalls).toContain('BatchGetDocuments Bearer metadata-token');
      expect(firestoreCalls.every((call) => call.endsWith('Bearer metadata-token'))).toBe(true);
      expect(metadataCalls.some((call) => call.startsWith('/computeMetadata/v1/instance/service-accounts/default/token') && call.endsWith(' Google'))).toBe(true);
    } finally {
      await Promise.all([metadata.close(), firestore.close()]);
    }
  });

  it('dist/datasets reads Firestore and authenticates with TEST_USER on the emulator', async () => {
    const { url } = await serve('datasets');
    const response = await fetch(`${url}/v2/datasets`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({});
  });

  it('bundle.js holds none of the packages loaded on first use; lazy.js does, and dist/volumes streams through it', async () => {
    for (const { name } of FAMILIES) {
      const bundle = readFileSync(join(ROOT, 'dist', name, 'bundle.js'), 'utf8');
      for (const lazy of LAZY_PACKAGES) expect(bundle, `${name}: ${lazy}`).not.toContain(`// node_modules/${lazy}/`);
    }
    expect(readFileSync(join(ROOT, 'dist/volumes/lazy.js'), 'utf8')).toContain('// node_modules/undici/');
    // Each package in each lazy.js loads (Storage and BigQuery beside the google-auth-library they share).
    const loaded = execFileSync(
      process.execPath,
      ['-e', `for (const name of ${JSON.stringify(FAMILIES.map((family) => family.name))}) { let lazy; try { lazy = require('./dist/' + name + '/lazy.js'); } catch { continue; } for (const pkg of Object.keys(lazy)) console.log(name, pkg, typeof lazy[pkg]); }`],
      { cwd: ROOT, env: { PATH: process.env.PATH, METADATA_SERVER_DETECTION: 'none' }, encoding: 'utf8' },
    );
    expect(loaded).toMatch(/^signatures @google-cloud\/bigquery object$/m);
    expect(loaded).toMatch(/^signatures google-auth-library object$/m);
    expect(loaded).toMatch(/^volumes undici object$/m);
    expect(loaded).not.toMatch(/ undefined$/m);

    // The proxy's first read loads undici from lazy.js.
    const storage = await new GcsTestServer().start();
    try {
      storage.put('smoke-bucket', 'volume/info.json', '{"@type": "neuroglancer_multiscale_volume"}');
      const admin = googleFirestore(inject('firestoreEmulatorHost'), 'demo-smoke-volumes');
      await admin.collection(COLLECTIONS.volumes).doc('smoke-volume').set({ bucket: 'smoke-bucket', path: 'volume' });
      await admin.terminate();
      const { url } = await serve('volumes', undefined, { STORAGE_API_URL: storage.url });
      const response = await fetch(`${url}/v2/volumes/proxy/smoke-volume/info.json`);
      expect(response.status, await response.clone().text()).toBe(200);
      expect(await response.json()).toEqual({ '@type': 'neuroglancer_multiscale_volume' });
    } finally {
      await storage.close();
    }
  });
});
