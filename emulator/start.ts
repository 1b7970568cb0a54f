/**
 * `npm start`: the whole API on one local port, backed by the Firestore emulator, with data
 * kept across restarts in CLIO_DATA_DIR (default `.clio-data/`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../shared/config';
import { createContext } from '../shared/context';
import { counted } from '../shared/english';
import { FAMILIES } from '../functions/registry';
import { type DsgStandInConfig, DsgTestServer } from '../shared/testing/dsg-test-server';
import { canListen, freePort, startFirestoreEmulator, type RunningEmulator } from './firestore-emulator';
import { localEnv } from './local-env';
import { seedDemo } from './seed';
import { createLocalServer } from './serve';

const say = (line: string) => process.stderr.write(`${line}\n`);

async function listenPort(requested: number | undefined): Promise<number> {
  if (requested) return requested;
  // 8080 when it is free, as the Functions Framework would use; else any free port.
  return (await canListen(8080)) ? 8080 : freePort();
}

/**
 * `npm start -- --dsg`: a local DatasetGateway stand-in (users, grants and TOS from
 * DSG_STANDIN_FILE, default emulator/dsg-standin.json) instead of Janelia's, so the web app's
 * DSG login and `/profile` work without a Janelia account. Its cookie is host-only (localhost).
 */
async function startDsgStandIn(env: Record<string, string | undefined>): Promise<DsgTestServer> {
  if (env.DSG_URL) throw new Error('--dsg starts a local DatasetGateway stand-in: unset DSG_URL, or drop --dsg to use the DSG it names');
  const file = env.DSG_STANDIN_FILE || join(__dirname, 'dsg-standin.json');
  const standIn = await new DsgTestServer(JSON.parse(readFileSync(file, 'utf8')) as DsgStandInConfig).start();
  env.DSG_URL = standIn.url.replace('127.0.0.1', 'localhost');
  env.DSG_COOKIE_DOMAIN ??= '';
  say(`DatasetGateway stand-in at ${env.DSG_URL} (users from ${file}); sign in through /login?redirect=<url>`);
  return standIn;
}

async function main(): Promise<void> {
  // Off Google Cloud there is no metadata server; probing for it only slows start-up and warns.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const dataDir = process.env.CLIO_DATA_DIR || '.clio-data';
  const env = localEnv(process.env);
  let emulator: RunningEmulator | undefined;
  let standIn: DsgTestServer | undefined;
  let stopping = false;

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    try {
      if (emulator) {
        say(`Saving emulator data to ${dataDir} ...`);
        await emulator.exportData(env.GOOGLE_CLOUD_PROJECT!, dataDir);
      }
    } catch (error) {
      say(`Could not save data: ${error instanceof Error ? error.message : error}`);
    } finally {
      await emulator?.stop();
      await standIn?.close();
      process.exit(code);
    }
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('uncaughtException', (error) => {
    say(`Unexpected error: ${error.stack ?? error}`);
    void shutdown(1);
  });

  try {
    if (process.argv.includes('--dsg')) standIn = await startDsgStandIn(env);
    emulator = await startFirestoreEmulator({ env, dataDir, log: say });
    const config = loadConfig({ ...env, FIRESTORE_EMULATOR_HOST: emulator.host });
    const ctx = createContext(config);
    const seed = await seedDemo(ctx.db(), config.owner!);

    const port = await listenPort(config.port);
    const server = createLocalServer(FAMILIES, ctx);
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => done());
    });
    const base = `http://localhost:${port}${config.urlPrefix}`;
    say(
      [
        '',
        `Clio Store is serving every function at ${base}  (Firestore emulator ${emulator.host}, data in ${dataDir})`,
        `API documentation: ${base}/docs  and  ${base}/redoc`,
        config.testUser
          ? `Requests without a token act as ${config.testUser} (TEST_USER), e.g.  curl ${base}/v2/roles`
          : 'TEST_USER is off: every request needs a token.',
        config.authMode === 'legacy'
          ? `Tokens for other users:  npm run token -- someone@example.org   then  curl -H "Authorization: Bearer <token>" ${base}/v2/roles`
          : `Authentication mode ${config.authMode} (DatasetGateway ${config.dsg?.url}): send a DSG key, e.g.  curl -H "Authorization: Bearer owner-key" ${base}/v2/roles  (stand-in keys), or sign in at ${base}/login?redirect=${base}/profile` +
            (config.authMode === 'hybrid' ? `; FlyEM tokens from  npm run token -- someone@example.org  work too` : ''),
        seed.seeded
          ? `Owner (admin): ${config.owner}.  The database was empty, so demo data was seeded: datasets demo (public) and demo-private, and the owner's user.`
          : `Owner (admin by configuration): ${config.owner}.  Found existing data (${counted(seed.datasets, 'dataset')}, ${counted(seed.users, 'user')}): nothing was seeded or changed.`,
        'Stop with Ctrl-C (data is saved).',
        '',
      ].join('\n'),
    );
  } catch (error) {
    say(error instanceof Error ? error.message : String(error));
    await shutdown(1);
  }
}

void main();
