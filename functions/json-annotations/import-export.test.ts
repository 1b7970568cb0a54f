/**
 * `npm run neurons -- import|export`: from the DVID-protocol test server and from NDJSON files into a
 * native dataset, resumable, and back out to NDJSON; the CLI itself end to end.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { COLLECTIONS } from '../../shared/collections';
import { parseJson } from '../../shared/json';
import { DS, seedStandardData, startTestService, type TestService } from '../../shared/testing/harness';
import { DvidTestServer } from './dvid-test-server';
import { exportToFile, importFromDvid, importFromFile } from './import-export';

const U64_MAX = '18446744073709551615';
const BASE = `/v2/json-annotations/${DS}/neurons`;
const who = { actor: 'importer', onBehalfOf: null, requestId: 'run-1' };

let svc: TestService;
let dvid: DvidTestServer;
let dir: string;

beforeAll(async () => {
  dvid = await DvidTestServer.start();
  svc = await startTestService();
  dir = mkdtempSync(join(tmpdir(), 'neurons-'));
});
afterAll(async () => {
  await svc.close();
  await dvid.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await svc.db.recursiveDelete(svc.db.collection(COLLECTIONS.neurons));
  await seedStandardData(svc.db);
  await svc.db.collection(COLLECTIONS.datasets).doc(DS).set({ neurons: { store: 'firestore' } }, { merge: true });
  await svc.ctx.datasets.refresh();
  dvid.addNode('src');
});

const changeCount = async () => Number((await svc.db.collection(COLLECTIONS.neurons).doc(DS).collection('changes').count().get()).data().count);

describe('import from DVID', () => {
  it('copies every annotation exactly, companions included, with one import change per body', async () => {
    const annotations = Array.from({ length: 450 }, (_, i) => ({ bodyid: i + 1, status: 'Traced', status_user: 'old@x.org', status_time: '2024-01-27T00:14:52-05:00' }));
    dvid.seed('src', annotations);
    dvid.seed('src', [parseJson(`{"bodyid":${U64_MAX},"type":"LC4"}`) as Record<string, unknown>]);
    const progress: number[] = [];
    const result = await importFromDvid(svc.ctx, DS, `${dvid.url}/api/node/src/segmentation_annotations/`, who, (p) => progress.push(p.done));
    expect(result).toEqual({ bodies: 451, changes: 451, resumedAfter: null });
    expect(progress).toEqual([0, 200, 400, 451]);
    expect((await svc.request('GET', `${BASE}/id-number/1,${U64_MAX}?show=all`, { as: 'reader' })).text).toBe(
      `[{"bodyid":1,"status":"Traced","status_time":"2024-01-27T00:14:52-05:00","status_user":"old@x.org"},{"bodyid":${U64_MAX},"type":"LC4"}]`,
    );
    const history = (await svc.request('GET', `${BASE}/history/1`, { as: 'reader' })).json.changes;
    expect(history).toMatchObject([{ op: 'import', actor: 'importer', request_id: 'run-1' }]);
    // A rerun finds the checkpoint at the end and writes nothing.
    expect(await importFromDvid(svc.ctx, DS, `${dvid.url}/api/node/src/segmentation_annotations`, who)).toEqual({ bodies: 451, changes: 0, resumedAfter: U64_MAX });
  });

  it('resumes after the last batch an interrupted run finished', async () => {
    dvid.seed('src', Array.from({ length: 450 }, (_, i) => ({ bodyid: i + 1, n: i })));
    const url = `${dvid.url}/api/node/src/segmentation_annotations`;
    await expect(
      importFromDvid(svc.ctx, DS, url, who, (p) => {
        if (p.done === 200) throw new Error('interrupted');
      }),
    ).rejects.toThrow('interrupted');
    expect(await changeCount()).toBe(200);
    dvid.calls.length = 0;
    expect(await importFromDvid(svc.ctx, DS, url, who)).toEqual({ bodies: 450, changes: 250, resumedAfter: '200' });
    expect(dvid.calls.filter((call) => call.endpoint === 'keyvalues').map((call) => JSON.parse(call.body).length)).toEqual([200, 50]);
    expect(await changeCount()).toBe(450);
  });
});

describe('import from and export to NDJSON', () => {
  it('round-trips a file, refusing a bad line with its number, and resumes both directions', async () => {
    const good = join(dir, 'in.ndjson');
    writeFileSync(good, `{"bodyid":2,"a":1}\n\n{"bodyid":${U64_MAX},"b":[1,2]}\n{"bodyid":1,"c":"x"}\n`);
    expect(await importFromFile(svc.ctx, DS, good, who)).toEqual({ bodies: 3, changes: 3, resumedAfter: null });
    // A rerun resumes after the checkpointed line: nothing left to do.
    expect(await importFromFile(svc.ctx, DS, good, who)).toEqual({ bodies: 0, changes: 0, resumedAfter: 'line 4' });
    const out = join(dir, 'out.ndjson');
    rmSync(out, { force: true });
    expect(await exportToFile(svc.ctx, DS, out, undefined)).toEqual({ bodies: 3, resumedAfter: null });
    expect(readFileSync(out, 'utf8')).toBe(`{"bodyid":1,"c":"x"}\n{"a":1,"bodyid":2}\n{"b":[1,2],"bodyid":${U64_MAX}}\n`);

    // Resuming an export appends only what comes after the last line written.
    writeFileSync(out, '{"bodyid":1,"c":"x"}\n');
    expect(await exportToFile(svc.ctx, DS, out, undefined)).toEqual({ bodies: 2, resumedAfter: '1' });
    expect(readFileSync(out, 'utf8').split('\n')).toHaveLength(4);

    const bad = join(dir, 'bad.ndjson');
    writeFileSync(bad, '{"bodyid":5}\n{"bodyid":\n');
    await expect(importFromFile(svc.ctx, DS, bad, who)).rejects.toThrow(/line 2 is not JSON/);
    writeFileSync(bad, '{"bodyid":5}\n{"nobody":1}\n');
    await expect(importFromFile(svc.ctx, DS, bad, who)).rejects.toThrow(/item 1/);
    expect((await svc.request('GET', `${BASE}/id-number/5`, { as: 'reader' })).json).toEqual([]);
  });

  it('exports a past state with as_of', async () => {
    await svc.request('POST', BASE, { as: 'writer', rawBody: '{"bodyid":3,"s":"old"}' });
    const t = Date.now();
    await new Promise((done) => setTimeout(done, 5));
    await svc.request('POST', BASE, { as: 'writer', rawBody: '{"bodyid":3,"s":"new"}' });
    const out = join(dir, 'past.ndjson');
    rmSync(out, { force: true });
    await exportToFile(svc.ctx, DS, out, t);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ bodyid: 3, s: 'old' });
  });
});

describe('npm run neurons', () => {
  const run = promisify(execFile);
  const cli = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'functions/json-annotations/cli.ts', ...args], {
      env: { PATH: process.env.PATH, FIRESTORE_EMULATOR_HOST: inject('firestoreEmulatorHost'), GOOGLE_CLOUD_PROJECT: svc.projectId, METADATA_SERVER_DETECTION: 'none' },
    });

  it('imports a file and exports it again, with progress on stderr; refuses a DVID dataset and bad usage', async () => {
    const input = join(dir, 'cli.ndjson');
    writeFileSync(input, '{"bodyid":8,"x":1}\n{"bodyid":9,"x":2}\n');
    const imported = await cli(['import', '--dataset', DS, '--from', input, '--actor', 'me']);
    expect(imported.stderr).toMatch(/\[#{30}\] 100\.0%/);
    expect(imported.stderr).toMatch(/imported 2 bodies \(2 changes\)/);
    const output = join(dir, 'cli-out.ndjson');
    rmSync(output, { force: true });
    const exported = await cli(['export', '--dataset', DS, '--to', output]);
    expect(exported.stderr).toMatch(/exported 2 bodies/);
    expect(readFileSync(output, 'utf8')).toBe('{"bodyid":8,"x":1}\n{"bodyid":9,"x":2}\n');
    await expect(cli(['export', '--dataset', 'public-ds', '--to', output])).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/is not Firestore-native/) });
    await expect(cli(['import', '--dataset', DS])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/^usage:/) });
  }, 60_000);
});
