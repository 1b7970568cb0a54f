/**
 * Benchmark of the volume proxy: a 200 MiB object downloaded through `/v2/volumes/proxy/...` and
 * straight from the same local object server, alternately, in one run.
 *
 * The object server and the downloading client share one child process, so this process runs
 * only the proxy, as a function instance would: in production Cloud Storage and the client are
 * other machines and the proxy has its CPU to itself. (With store, client and proxy as three
 * processes on a two-core machine, the measurement is of the machine's contention, not of the
 * proxy.) Its resident memory is the proxy's: sampled while proxying, its peak growth shows
 * whether the object is streamed or held.
 *
 * A bare pipe (the same undici client, its body piped straight on) in this process is measured in
 * the same rounds, so "proxy vs bare pipe" isolates our own overhead from the cost of the extra hop
 * itself: once with the object's Content-Length, and once chunked, as the proxy must send objects
 * over 32 MiB.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { RequestListener } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import type { Benchmark } from '../../infra/bench';
import { figures, formatRange, median } from '../../infra/figures';
import { COLLECTIONS } from '../../shared/collections';
import { loadConfig } from '../../shared/config';
import { createContext } from '../../shared/context';
import { Logger } from '../../shared/log';
import { createLocalServer } from '../../emulator/serve';
import { listenLocally } from '../../shared/testing/listen-locally';
import type { DownloadOrder, DownloadResult, ObjectServerReady } from './bench-peer';
import { volumes } from './routes';

const OBJECT_BYTES = 200 * 1024 * 1024;
const ROUNDS = 25;
// The first rounds of each path run slower (JIT, TCP windows, heap growth) before settling.
const WARM_UP_ROUNDS = 2;
const BUCKET = 'bench-bucket';
const VOLUME = 'bench-volume';
const MIB = 1024 * 1024;

function startPeer(objectSpec: string): ChildProcess {
  // Forked children inherit this process's loader flags (tsx), so they can run TypeScript too.
  return fork(join(__dirname, 'bench-peer.ts'), [objectSpec], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`benchmark peer exited with code ${code}`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message as T);
    });
  });
}

async function timedDownload(peer: ChildProcess, url: string): Promise<number> {
  peer.send({ url } satisfies DownloadOrder);
  const result = await nextMessage<DownloadResult & { error?: string }>(peer);
  if (result.status !== 200 || result.bytes !== OBJECT_BYTES) {
    throw new Error(`download of ${url} failed: status ${result.status}, ${result.bytes} bytes${result.error ? `, ${result.error}` : ''}`);
  }
  return result.ms;
}

/** Samples this process's resident set size until stopped; returns the peak. */
function sampleRss(): () => number {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage.rss());
  };
}

/**
 * The reference proxy: no routing, no checks, just the upstream response piped on; with the
 * upstream's Content-Length, or chunked, as Cloud Run requires above 32 MiB and the proxy does.
 */
function barePipe(upstreamUrl: string, framing: 'length' | 'chunked'): RequestListener {
  return (_req, res) => {
    request(upstreamUrl)
      .then(({ statusCode, headers, body }) => {
        res.writeHead(statusCode, framing === 'length' ? { 'Content-Length': String(headers['content-length']) } : {});
        return pipeline(body, res);
      })
      .catch(() => res.destroy());
  };
}

interface Download {
  readonly ms: number;
  /** This process's CPU time (user and system) meanwhile. */
  readonly cpuMs: number;
  /** Peak growth of this process's RSS meanwhile. */
  readonly rssGrowth: number;
}

/** Has the peer download `url`, sampling this process's CPU time and RSS meanwhile. */
async function measuredDownload(peer: ChildProcess, url: string): Promise<Download> {
  const rssBefore = process.memoryUsage.rss();
  const stopSampling = sampleRss();
  const cpuBefore = process.cpuUsage();
  const ms = await timedDownload(peer, url);
  const cpu = process.cpuUsage(cpuBefore);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, rssGrowth: stopSampling() - rssBefore };
}

const throughput = (ms: number) => OBJECT_BYTES / MIB / (ms / 1000);

export const volumeProxyBenchmark: Benchmark = {
  name: `volume proxy: a ${OBJECT_BYTES / MIB} MiB object through /v2/volumes/proxy vs straight from the object server`,
  goal: 'throughput >= 0.95x a bare Node pipe (and >= 0.8x direct), peak RSS growth while proxying < 64 MB',
  async run(bench) {
    const { firestoreEmulatorHost } = bench;
    const peer = startPeer(`${BUCKET}/volume/big.bin:${OBJECT_BYTES}`);
    const { url: storageUrl } = await nextMessage<ObjectServerReady>(peer);
    const directUrl = `${storageUrl}/storage/v1/b/${BUCKET}/o/${encodeURIComponent('volume/big.bin')}?alt=media`;
    const config = loadConfig({
      FIRESTORE_EMULATOR_HOST: firestoreEmulatorHost,
      GOOGLE_CLOUD_PROJECT: `demo-bench-volumes-${process.pid}`,
      STORAGE_API_URL: storageUrl,
    });
    const ctx = createContext(config, new Logger(() => undefined));
    const service = await listenLocally(createLocalServer([volumes], ctx));
    const references = await Promise.all([listenLocally(barePipe(directUrl, 'length')), listenLocally(barePipe(directUrl, 'chunked'))]);
    try {
      await ctx.db().collection(COLLECTIONS.volumes).doc(VOLUME).set({ bucket: BUCKET, path: 'volume' });
      const urls = { direct: directUrl, bare: references[0].url, chunked: references[1].url, proxy: `${service.url}/v2/volumes/proxy/${VOLUME}/big.bin` };
      const sides = Object.keys(urls) as (keyof typeof urls)[];

      // Warm-up: connections, the volume catalog, and the JIT on every path.
      for (let round = 0; round < WARM_UP_ROUNDS; round++) {
        for (const side of sides) await timedDownload(peer, urls[side]);
      }
      // Every side is sampled alike (the direct one too, though this process does nothing for it),
      // so that the sampling's own CPU weighs on each.
      const runs = { direct: [] as Download[], bare: [] as Download[], chunked: [] as Download[], proxy: [] as Download[] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const side of sides) runs[side].push(await measuredDownload(peer, urls[side]));
      }
      const mibPerS = (side: keyof typeof urls) => throughput(median(runs[side].map((run) => run.ms))).toFixed(0);
      const cpuOf = (side: keyof typeof urls) => median(runs[side].map((run) => run.cpuMs)).toFixed(0);
      // Ratios of downloads next to each other in a round, so that drift in the machine's speed cancels.
      const throughputRatio = (side: keyof typeof urls, to: keyof typeof urls) => figures(runs[side].map((run, round) => runs[to][round].ms / run.ms));
      const toBare = throughputRatio('proxy', 'bare');
      const cpuToBare = figures(runs.proxy.map((run, round) => run.cpuMs / runs.bare[round].cpuMs));
      const rssGrowth = Math.max(...runs.proxy.map((run) => run.rssGrowth));
      const busy = (side: keyof typeof urls) => ((runs[side].reduce((sum, run) => sum + run.cpuMs, 0) / runs[side].reduce((sum, run) => sum + run.ms, 0)) * 100).toFixed(0);
      bench.record({ metric: 'volume proxy / bare Node pipe (throughput)', value: `${formatRange(toBare, 2)}x`, goal: '>= 0.95x', met: toBare.median >= 0.95 });
      bench.record({ metric: 'volume proxy / bare chunked pipe (throughput)', value: `${formatRange(throughputRatio('proxy', 'chunked'), 2)}x`, goal: 'measured' });
      bench.record({ metric: 'volume proxy / bare Node pipe (CPU per object)', value: `${formatRange(cpuToBare, 2)}x`, goal: 'measured' });
      bench.record({ metric: 'volume proxy: peak RSS growth', value: `${(rssGrowth / MIB).toFixed(1)} MiB`, goal: '< 64 MB', met: rssGrowth < 64 * 1024 * 1024 });
      return [
        `${ROUNDS} rounds (medians; ratios per round, median and range), ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}`,
        `direct from the object server: ${mibPerS('direct')} MiB/s`,
        `through a bare pipe:           ${mibPerS('bare')} MiB/s, ${cpuOf('bare')} ms CPU per object (this process busy ${busy('bare')}% of one core)`,
        `through a bare chunked pipe:   ${mibPerS('chunked')} MiB/s, ${cpuOf('chunked')} ms CPU per object (${busy('chunked')}%)`,
        `through the proxy:             ${mibPerS('proxy')} MiB/s, ${cpuOf('proxy')} ms CPU per object (${busy('proxy')}%)`,
        `throughput ratio proxy/direct: ${formatRange(throughputRatio('proxy', 'direct'), 2)}  (goal >= 0.8)`,
        `throughput ratio proxy/bare pipe: ${formatRange(toBare, 2)}  (our own overhead; 1.0 = none; goal >= 0.95); chunked pipe/bare pipe ${formatRange(throughputRatio('chunked', 'bare'), 2)}`,
        `CPU ratio proxy/bare pipe: ${formatRange(cpuToBare, 2)}`,
        `peak RSS growth of this process while proxying: ${(rssGrowth / MIB).toFixed(1)} MiB  (goal < 64 MB)`,
      ];
    } finally {
      peer.kill();
      await Promise.all([service, ...references].map((server) => server.close()));
      await ctx.db().terminate();
    }
  },
};
