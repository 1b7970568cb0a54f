/**
 * `npm run bench`: every benchmark measures our code path and its bare baseline side by side in
 * this one run, against the same local Firestore emulator or local upstream server, and prints
 * the ratio next to its goal. Nothing here is a pass/fail test; the printed ratios are the result.
 */
import { startFirestoreEmulator } from '../emulator/firestore-emulator';
import { jsonAnnotationsBenchmark, jsonAnnotationsNativeBenchmark } from '../functions/json-annotations/json-annotations.bench';
import { volumeProxyBenchmark } from '../functions/volumes/volumes.bench';
import { annotationsReadBenchmark, annotationsWriteBenchmark } from '../functions/annotations/annotations.bench';
import { coldStartBenchmark } from './cold-start.bench';
import { loadBenchmark } from './load.bench';
import { authenticationBenchmark, firestoreOperationsBenchmark, warmLatencyBenchmark } from './warm.bench';

export interface BenchContext {
  /** `host:port` of the Firestore emulator for this run. */
  readonly firestoreEmulatorHost: string;
  /** FIRESTORE_TRANSPORT for the functions measured (`npm run bench -- --transport rest`); their default otherwise. */
  readonly firestoreTransport?: 'grpc' | 'rest';
}

export interface Benchmark {
  readonly name: string;
  /** The goal in words, e.g. "ratio <= 1.3". */
  readonly goal: string;
  /** Runs both sides and returns the lines to print (measurements and the ratio). */
  run(ctx: BenchContext): Promise<string[]>;
}

/** Families add their benchmarks here. */
const BENCHMARKS: Benchmark[] = [coldStartBenchmark, authenticationBenchmark, warmLatencyBenchmark, firestoreOperationsBenchmark, loadBenchmark, jsonAnnotationsBenchmark, jsonAnnotationsNativeBenchmark, volumeProxyBenchmark, annotationsReadBenchmark, annotationsWriteBenchmark];

async function main(): Promise<void> {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const emulator = await startFirestoreEmulator({ env: process.env });
  // `npm run bench -- <word>` runs only the benchmarks whose name contains it.
  const args = process.argv.slice(2);
  const transportAt = args.indexOf('--transport');
  const firestoreTransport = transportAt >= 0 ? (args.splice(transportAt, 2)[1] as 'grpc' | 'rest') : undefined;
  if (firestoreTransport && !['grpc', 'rest'].includes(firestoreTransport)) throw new Error('--transport must be grpc or rest');
  const only = args[0];
  try {
    for (const benchmark of BENCHMARKS.filter((one) => !only || one.name.includes(only))) {
      process.stdout.write(`\n## ${benchmark.name}  (goal: ${benchmark.goal})\n`);
      for (const line of await benchmark.run({ firestoreEmulatorHost: emulator.host, firestoreTransport })) process.stdout.write(`  ${line}\n`);
    }
    if (BENCHMARKS.length === 0) process.stdout.write('no benchmarks registered\n');
  } finally {
    await emulator.stop();
  }
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
