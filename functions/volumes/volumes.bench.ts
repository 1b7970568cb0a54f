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
 * itself.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import type { Benchmark } from '../../infra/bench';
import { COLLECTIONS } from '../../shared/collections';
import { loadConfig } from '../../shared/config';
import { createContext } from '../../shared/context';
import { Logger } from '../../shared/log';
import { createLocalServer } from '../../emulator/serve';
import { listenLocally } from '../../shared/testing/listen-locally';
import type { DownloadOrder, DownloadResult, ObjectServerReady } from './bench-peer';
import { volumes } from './routes';

const OBJECT_BYTES = 200 * 1024 * 1024;
const ROUNDS = 9;
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

/** The reference proxy: no routing, no checks, just the upstream response piped on. */
function barePipe(upstreamUrl: string): RequestListener {
  return (_req, res) => {
    request(upstreamUrl)
      .then(({ statusCode, headers, body }) => {
        res.writeHead(statusCode, { 'Content-Length': String(headers['content-length']) });
        return pipeline(body, res);
      })
      .catch(() => res.destroy());
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
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
    const reference = await listenLocally(barePipe(directUrl));
    try {
      await ctx.db().collection(COLLECTIONS.volumes).doc(VOLUME).set({ bucket: BUCKET, path: 'volume' });
      const proxyUrl = `${service.url}/v2/volumes/proxy/${VOLUME}/big.bin`;
      const bareUrl = reference.url;

      // Warm-up: connections, the volume catalog, and the JIT on every path.
      for (let round = 0; round < WARM_UP_ROUNDS; round++) {
        for (const url of [directUrl, bareUrl, proxyUrl]) await timedDownload(peer, url);
      }

      const times = { direct: [] as number[], bare: [] as number[], proxy: [] as number[] };
      let rssGrowth = 0;
      let proxyCpuMicros = 0;
      for (let round = 0; round < ROUNDS; round++) {
        times.direct.push(await timedDownload(peer, directUrl));
        times.bare.push(await timedDownload(peer, bareUrl));
        const rssBefore = process.memoryUsage.rss();
        const stopSampling = sampleRss();
        const cpuBefore = process.cpuUsage();
        times.proxy.push(await timedDownload(peer, proxyUrl));
        const cpu = process.cpuUsage(cpuBefore);
        proxyCpuMicros += cpu.user + cpu.system;
        rssGrowth = Math.max(rssGrowth, stopSampling() - rssBefore);
      }
      const [direct, bare, proxy] = [times.direct, times.bare, times.proxy].map((ms) => throughput(median(ms)));
      const proxyMs = times.proxy.reduce((sum, ms) => sum + ms, 0);
      // Each round's proxy download against the direct one just before it, to show the machine's noise.
      const roundRatios = times.proxy.map((ms, round) => times.direct[round] / ms);
      bench.record({ metric: 'volume proxy / bare Node pipe (throughput)', value: `${(proxy / bare).toFixed(2)}x`, goal: '>= 0.95x', met: proxy / bare >= 0.95 });
      bench.record({ metric: 'volume proxy: peak RSS growth', value: `${(rssGrowth / MIB).toFixed(1)} MiB`, goal: '< 64 MB', met: rssGrowth < 64 * 1024 * 1024 });
      return [
        `direct from the object server: ${direct.toFixed(0)} MiB/s (median of ${ROUNDS})`,
        `through a bare pipe:           ${bare.toFixed(0)} MiB/s`,
        `through the proxy:             ${proxy.toFixed(0)} MiB/s`,
        `throughput ratio proxy/direct: ${(proxy / direct).toFixed(2)}  (goal >= 0.8; single rounds ranged ${Math.min(...roundRatios).toFixed(2)}-${Math.max(...roundRatios).toFixed(2)})`,
        `throughput ratio proxy/bare pipe: ${(proxy / bare).toFixed(2)}  (our own overhead; 1.0 = none)`,
        `CPU of this process while proxying: ${((proxyCpuMicros / 1000 / proxyMs) * 100).toFixed(0)}% of one core`,
        `peak RSS growth of this process while proxying: ${(rssGrowth / MIB).toFixed(1)} MiB  (goal < 64 MB)`,
      ];
    } finally {
      peer.kill();
      await Promise.all([service.close(), reference.close()]);
      await ctx.db().terminate();
    }
  },
};
