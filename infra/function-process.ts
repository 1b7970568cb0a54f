/**
 * A built function run as Cloud Functions runs it: a Node process on the Functions Framework's own
 * entry (`main.js --target --source --port`). The benchmarks start them; callers stop them by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../emulator/firestore-emulator';
import type { BenchContext } from './bench';

const FRAMEWORK_MAIN = join(__dirname, '..', 'node_modules/@google-cloud/functions-framework/build/src/main.js');

export interface FunctionProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  readonly stderr: () => string;
  stop(): void;
}

/** The environment a benchmarked function gets: the run's emulator, a project and a FlyEM secret. */
export function functionEnv(bench: BenchContext, projectId: string, flyemSecret: string): Record<string, string> {
  return {
    FIRESTORE_EMULATOR_HOST: bench.firestoreEmulatorHost,
    GOOGLE_CLOUD_PROJECT: projectId,
    FLYEM_SECRET: flyemSecret,
    METADATA_SERVER_DETECTION: 'none',
    NODE_ENV: 'production',
  };
}

export async function spawnFunction(source: string, target: string, env: Record<string, string>): Promise<FunctionProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [FRAMEWORK_MAIN, `--target=${target}`, `--source=${source}`, `--port=${port}`], {
    env: { ...env, PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { url: `http://127.0.0.1:${port}`, child, stderr: () => stderr, stop: () => void child.kill('SIGKILL') };
}

/** Sends `request` until the process answers it (the port refuses until the framework listens). */
export async function firstAnswer(fn: FunctionProcess, request: () => Promise<Response>, timeoutMs = 30_000): Promise<Response> {
  const started = performance.now();
  for (;;) {
    if (fn.child.exitCode !== null) throw new Error(`the function exited: ${fn.stderr()}`);
    if (performance.now() - started > timeoutMs) throw new Error(`the function did not answer within ${timeoutMs} ms: ${fn.stderr()}`);
    try {
      return await request();
    } catch {
      await sleep(2);
    }
  }
}

/** CPU time and resident memory of a process, read from outside it so that reading costs it nothing. */
export interface ProcessGauge {
  /** User and system CPU time so far, in ms. */
  cpuMs(): number;
  /** Resident set size now, in bytes. */
  rssBytes(): number;
}

/** Linux's `/proc` counts CPU in USER_HZ ticks, 100 per second on every architecture Node supports. */
const MS_PER_TICK = 10;

/** A gauge on another process, through Linux's `/proc/<pid>` (the benchmarks' machines are Linux). */
export function processGauge(pid: number): ProcessGauge {
  return {
    cpuMs() {
      // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the line.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
    },
    rssBytes() {
      const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
      return Number(line?.split(/\s+/)[1]) * 1024;
    },
  };
}
