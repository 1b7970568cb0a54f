/**
 * `npm run bench`: every benchmark measures our code path and its bare baseline side by side in
 * this one run, against the same local Firestore emulator or local upstream server, and prints
 * the ratio next to its goal. Nothing here is a pass/fail test; the printed ratios are the result.
 */
import { cpus, loadavg } from 'node:os';
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
  /** Adds a row to the summary table printed at the end of the run. */
  record(row: SummaryRow): void;
}

/** One measured figure against its goal, for the summary table. */
export interface SummaryRow {
  readonly metric: string;
  /** The figure, e.g. "1.07x (0.98-1.13)". */
  readonly value: string;
  readonly goal: string;
  /** Whether the figure meets the goal; undefined when the goal is only to print it. */
  readonly met?: boolean;
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
  const only = args[0];
  try {
    const rows: (SummaryRow & { load: string })[] = [];
    for (const benchmark of BENCHMARKS.filter((one) => !only || one.name.includes(only))) {
      process.stdout.write(`\n## ${benchmark.name}  (goal: ${benchmark.goal})\n`);
      const loadBefore = loadavg()[0].toFixed(1);
      const pending: SummaryRow[] = [];
      const lines = await benchmark.run({ firestoreEmulatorHost: emulator.host, record: (row) => pending.push(row) });
      for (const line of lines) process.stdout.write(`  ${line}\n`);
      const load = `${loadBefore}-${loadavg()[0].toFixed(1)}`;
      rows.push(...pending.map((row) => ({ ...row, load })));
    }
    process.stdout.write(`\n## Summary (${cpus().length} CPUs; load is the 1-minute load average before and after each benchmark)\n\n`);
    process.stdout.write('| metric | measured | goal | met | load |\n|---|---|---|---|---|\n');
    for (const row of rows) process.stdout.write(`| ${row.metric} | ${row.value} | ${row.goal} | ${row.met === undefined ? '-' : row.met ? 'yes' : 'no'} | ${row.load} |\n`);
    if (BENCHMARKS.length === 0) process.stdout.write('no benchmarks registered\n');
  } finally {
    await emulator.stop();
  }
}

void main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
