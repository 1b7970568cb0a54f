/**
 * `npm run neurons -- <command>`: bulk import into and export from a Firestore-native dataset,
 * talking to Firestore directly (the emulator when FIRESTORE_EMULATOR_HOST is set, else the
 * project of GOOGLE_CLOUD_PROJECT with application-default credentials).
 *
 *   import --dataset D --from <DVID neuronjson instance URL | file.ndjson> [--actor NAME]
 *   export --dataset D --to <file.ndjson> [--as-of <epoch s | ISO time | bodyid@seq>]
 *
 * Both resume where an interrupted run stopped; progress goes to stderr.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../shared/config';
import { createContext } from '../../shared/context';
import { exportToFile, importFromDvid, importFromFile, type Progress } from './import-export';
import { isNativeDataset } from './native-store';
import { pointOf } from './native';
import { localEnv } from '../../emulator/local-env';

const USAGE = `usage:
  npm run neurons -- import --dataset D --from <DVID neuronjson instance URL | file.ndjson> [--actor NAME]
  npm run neurons -- export --dataset D --to <file.ndjson> [--as-of <epoch s | ISO time | bodyid@seq>]
`;

function bar({ done, total }: Progress): string {
  if (total === undefined || total === 0) return `${done} done`;
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${((done / total) * 100).toFixed(1)}% (${done}/${total})`;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { dataset: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'as-of': { type: 'string' }, actor: { type: 'string' } },
  });
  const [command] = positionals;
  const dataset = values.dataset ?? '';
  if (!['import', 'export'].includes(command ?? '') || dataset === '' || (command === 'import' ? !values.from : !values.to)) {
    process.stderr.write(USAGE);
    return 2;
  }
  // The local defaults only complete a configuration; a deployed project's variables win.
  const env = process.env.FIRESTORE_EMULATOR_HOST ? localEnv(process.env) : { ...process.env };
  const ctx = createContext(loadConfig({ ...env, TEST_USER: '' }));
  const record = await ctx.datasets.get(dataset);
  if (!record || !isNativeDataset(record)) {
    process.stderr.write(`dataset ${dataset} is not Firestore-native: its record needs "neurons": {"store": "firestore"}\n`);
    return 1;
  }
  const show = (progress: Progress) => process.stderr.write(`\r${command} ${dataset} ${bar(progress)}`);
  if (command === 'import') {
    const from = values.from!;
    const who = { actor: values.actor ?? `neurons-cli:${userInfo().username}`, onBehalfOf: null, requestId: randomUUID() };
    const result = /^https?:\/\//.test(from) ? await importFromDvid(ctx, dataset, from, who, show) : await importFromFile(ctx, dataset, from, who, show);
    process.stderr.write(`\nimported ${result.bodies} bodies (${result.changes} changes)${result.resumedAfter ? `, resumed after ${result.resumedAfter}` : ''}; request id ${who.requestId}\n`);
  } else {
    const atMs = values['as-of'] ? await pointOf(ctx, dataset, values['as-of']) : undefined;
    const result = await exportToFile(ctx, dataset, values.to!, atMs, show);
    process.stderr.write(`\nexported ${result.bodies} bodies to ${values.to}${result.resumedAfter ? `, resumed after body ${result.resumedAfter}` : ''}\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
