/**
 * `npm start`: the whole API on one local port, backed by the Firestore emulator, with data
 * kept across restarts in CLIO_DATA_DIR (default `.clio-data/`).
 */
import { createServer } from 'node:net';
import { loadConfig } from '../shared/config';
import { createContext } from '../shared/context';
import { counted } from '../shared/english';
import { FAMILIES } from '../functions/registry';
import { freePort, startFirestoreEmulator, type RunningEmulator } from './firestore-emulator';
import { localEnv } from './local-env';
import { seedDemo } from './seed';
import { createLocalServer } from './serve';

const say = (line: string) => process.stderr.write(`${line}\n`);

async function listenPort(requested: number | undefined): Promise<number> {
  if (requested) return requested;
  // 8080 when it is free, as the Functions Framework would use; else any free port.
  return (await isFree(8080)) ? 8080 : freePort();
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

async function main(): Promise<void> {
  // Off Google Cloud there is no metadata server; probing for it only slows start-up and warns.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const dataDir = process.env.CLIO_DATA_DIR || '.clio-data';
  const env = localEnv(process.env);
  let emulator: RunningEmulator | undefined;
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
        `Tokens for other users:  npm run token -- someone@example.org   then  curl -H "Authorization: Bearer <token>" ${base}/v2/roles`,
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
