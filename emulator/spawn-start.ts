/**
 * `npm start` as its own process (the same program: emulator/start.ts under tsx), on a free port,
 * for the soak and for the tests that must go through it. Resolves once its banner says it serves,
 * with the emulator it uses; stop it with `stop()` (SIGTERM, by its PID), which saves its data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './firestore-emulator';

export interface StartedServer {
  readonly url: string;
  /** `host:port` of the emulator it serves from. */
  readonly emulatorHost: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export async function spawnNpmStart(env: Record<string, string | undefined>): Promise<StartedServer> {
  const port = await freePort();
  // One process (node --import tsx), so that its memory is the server's.
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'start.ts')], {
    cwd: join(__dirname, '..'),
    env: { ...process.env, METADATA_SERVER_DETECTION: 'none', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let banner = '';
  const emulatorHost = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`npm start did not come up within 120 s:\n${banner}`)), 120_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      banner += chunk.toString();
      const serving = /Firestore emulator (\S+?),/.exec(banner);
      if (serving) {
        clearTimeout(timer);
        done(serving[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`npm start exited with ${code}:\n${banner}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    emulatorHost,
    child,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}
