/**
 * Finds and runs the official Cloud Firestore emulator: an already running one named by
 * FIRESTORE_EMULATOR_HOST, else gcloud's emulator JAR on Java, else firebase-tools. It listens on
 * a free port, is waited for until it answers, and is stopped by its process id.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const GCLOUD_EMULATOR_JAR = '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar';
const READY_TIMEOUT_MS = 90_000;

export interface RunningEmulator {
  /** `host:port` for FIRESTORE_EMULATOR_HOST. */
  readonly host: string;
  /** How it was found, for messages. */
  readonly source: 'FIRESTORE_EMULATOR_HOST' | 'gcloud JAR' | 'firebase-tools';
  /** Writes all data of `projectId` below `dataDir` (keeping only the newest export). */
  exportData(projectId: string, dataDir: string): Promise<void>;
  /** Stops the emulator if this module started it. */
  stop(): Promise<void>;
  /** The process group of an emulator started here (fault runs freeze and thaw it). */
  readonly pid?: number;
}

export class EmulatorNotFoundError extends Error {
  constructor(detail: string) {
    super(
      `${detail}\nThe Firestore emulator is needed. Any one of these works:\n` +
        '  - start one yourself and set FIRESTORE_EMULATOR_HOST=host:port;\n' +
        '  - install Java 17+ and the gcloud emulator (Debian/Ubuntu: apt-get install google-cloud-cli-firestore-emulator openjdk-17-jre-headless;\n' +
        `    elsewhere: gcloud components install cloud-firestore-emulator), found at ${GCLOUD_EMULATOR_JAR} or $FIRESTORE_EMULATOR_JAR;\n` +
        '  - install Java 21+ and let firebase-tools (a dev dependency of this project) download its emulator.',
    );
    this.name = 'EmulatorNotFoundError';
  }
}

export interface StartOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Import the newest export found here, if any. */
  readonly dataDir?: string;
  readonly log?: (line: string) => void;
  /** Listen on this port (a restart on the same address); default a free one. */
  readonly port?: number;
}

export async function startFirestoreEmulator(options: StartOptions): Promise<RunningEmulator> {
  const { env } = options;
  if (env.FIRESTORE_EMULATOR_HOST) {
    await waitUntilReady(env.FIRESTORE_EMULATOR_HOST, undefined);
    return emulatorAt(env.FIRESTORE_EMULATOR_HOST, 'FIRESTORE_EMULATOR_HOST', undefined);
  }
  const jar = env.FIRESTORE_EMULATOR_JAR || GCLOUD_EMULATOR_JAR;
  const javaVersion = javaMajorVersion(env.JAVA ?? 'java');
  const port = options.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const seed = options.dataDir ? newestExport(options.dataDir) : undefined;

  let child: ChildProcess;
  let source: RunningEmulator['source'];
  if (existsSync(jar)) {
    if (javaVersion === undefined) throw new EmulatorNotFoundError(`Found ${jar} but no "java" on PATH.`);
    source = 'gcloud JAR';
    const args = ['-Duser.language=en', '-cp', jar, 'com.google.cloud.datastore.emulator.firestore.CloudFirestore', 'start', '--host=127.0.0.1', `--port=${port}`];
    if (seed) args.push(`--seed_from_export=${seed}`);
    child = spawn(env.JAVA ?? 'java', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } else if (javaVersion !== undefined && javaVersion >= 21) {
    source = 'firebase-tools';
    child = spawnFirebaseTools(port, seed);
  } else {
    throw new EmulatorNotFoundError(
      javaVersion === undefined ? 'No "java" found on PATH and no emulator JAR.' : `Java ${javaVersion} found, but no emulator JAR (firebase-tools needs Java 21+).`,
    );
  }
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`Firestore emulator exited early (code ${code}):\n${output.join('').slice(-4000)}`))),
  );
  try {
    await Promise.race([waitUntilReady(host, child), exited]);
  } catch (error) {
    killGroup(child);
    throw error;
  }
  exited.catch(() => undefined);
  options.log?.(`Firestore emulator (${source}) listening on ${host}${seed ? `, data imported from ${seed}` : ''}`);
  return emulatorAt(host, source, child);
}

function emulatorAt(host: string, source: RunningEmulator['source'], child: ChildProcess | undefined): RunningEmulator {
  return {
    host,
    source,
    pid: child?.pid,
    async exportData(projectId, dataDir) {
      const dir = resolve(dataDir);
      mkdirSync(dir, { recursive: true });
      const before = new Set(readdirSync(dir));
      const response = await fetch(`http://${host}/emulator/v1/projects/${projectId}:export`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ database: `projects/${projectId}/databases/(default)`, export_directory: dir }),
      });
      if (!response.ok) throw new Error(`emulator export failed: ${response.status} ${await response.text()}`);
      // Each export is a new folder; once the new one exists the older ones are obsolete.
      const fresh = readdirSync(dir).filter((name) => !before.has(name));
      if (fresh.length > 0) for (const name of before) if (name.startsWith('firestore_export')) rmSync(join(dir, name), { recursive: true, force: true });
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const gone = new Promise<void>((done) => child.once('exit', () => done()));
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  try {
    // The child leads its own process group, so wrappers and their java children go together.
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** The `.overall_export_metadata` file of the newest export below `dataDir`. */
export function newestExport(dataDir: string): string | undefined {
  if (!existsSync(dataDir)) return undefined;
  const exports = readdirSync(dataDir)
    .filter((name) => name.startsWith('firestore_export'))
    .map((name) => join(dataDir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const dir of exports) {
    const metadata = readdirSync(dir).find((name) => name.endsWith('.overall_export_metadata'));
    if (metadata) return resolve(dir, metadata);
  }
  return undefined;
}

function spawnFirebaseTools(port: number, seed: string | undefined): ChildProcess {
  // firebase-tools takes its port from a config file, so give it one with the free port.
  const dir = join(tmpdir(), `clio-firebase-${port}`);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'firebase.json');
  writeFileSync(config, JSON.stringify({ emulators: { firestore: { host: '127.0.0.1', port }, ui: { enabled: false } } }));
  const args = ['firebase', 'emulators:start', '--only', 'firestore', '--project', 'demo-clio', '--config', config];
  if (seed) args.push('--import', resolve(seed, '..'));
  return spawn('npx', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

function javaMajorVersion(java: string): number | undefined {
  // `java -version` writes to stderr.
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  return result.error ? undefined : parseJavaVersion(`${result.stderr}${result.stdout}`);
}

function parseJavaVersion(text: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  // Java 8 and older report "1.8"; later versions report their major number first.
  return match[1] === '1' && match[2] ? Number(match[2]) : Number(match[1]);
}

async function waitUntilReady(host: string, child: ChildProcess | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) return;
    try {
      const response = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`Firestore emulator at ${host} did not answer within ${READY_TIMEOUT_MS / 1000} s`);
}

/**
 * A port free now, below the range the system hands out to outgoing connections: a port from
 * that range can be taken by any connection (this machine's many keep-alive ones) between being
 * found free and being listened on.
 */
export async function freePort(): Promise<number> {
  const [ephemeralStart] = ephemeralPortRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralStart - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between 10000 and ${ephemeralStart}`);
}

/** Linux's range for outgoing connections; the common default elsewhere. */
function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low > 10_100 && high >= low) return [low, high];
  } catch {
    // not Linux
  }
  return [49_152, 65_535];
}

/** Whether a server can listen on the port now. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}
