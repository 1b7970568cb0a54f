/**
 * Image search by signature, with exactly the original's algorithms (upstream-api 5.13):
 * the signature at a point is that of the nearest sample within 100 units in the point's
 * storage block, and similar signatures are looked up in four hamming tables partitioned by
 * `fmix64(mask AND signature) mod 4000`, computed over BigInt so that negative signatures hash
 * as they did in Python.
 */
import { LRUCache } from 'lru-cache';
import { atMostEntries } from '../../shared/cache-bounds';
import * as v from 'valibot';
import type { CloudStorage } from '../../shared/cloud-storage';
import { HttpError } from '../../shared/errors';
import { parseJson } from '../../shared/json';
import { SignatureInfoFile } from './schemas';

/** Samples farther than this from the asked point (and matches this close to each other) do not count. */
export const MAX_DISTANCE = 100;
/** Matches differ from the signature in fewer than this many bits. */
export const MAX_HAMMING = 8;
export const PARTITIONS = 4000n;
/** Bytes per block record: x, y, z as unsigned 32-bit, then the signature as signed 64-bit, little-endian. */
export const RECORD_BYTES = 20;
/** `info.json` is re-read after this long, so re-computed signatures are picked up. */
export const INFO_TTL_MS = 600_000;

export type Point = readonly [number, number, number];

export interface SignatureInfo {
  readonly blockSize: number;
  readonly masks: readonly bigint[];
}

export interface SignatureSample {
  readonly point: Point;
  readonly signature: bigint;
}

export interface HammingMatch {
  readonly point: Point;
  readonly hamming: number;
}

/** A search that found nothing; reported with status 200, as the original did. */
export class LookupFailure extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'LookupFailure';
  }
}

/** MurmurHash3's 64-bit finalizer; `>>` on a BigInt is arithmetic, like Python's on negative ints. */
export function fmix64(value: bigint): bigint {
  let h = value;
  h ^= h >> 33n;
  h = BigInt.asUintN(64, h * 0xff51afd7ed558ccdn);
  h ^= h >> 33n;
  h = BigInt.asUintN(64, h * 0xc4ceb9fe1a85ec53n);
  h ^= h >> 33n;
  return h;
}

/** The partition of each hamming table that can hold signatures similar to `signature`. */
export function partitions(info: SignatureInfo, signature: bigint): number[] {
  return info.masks.map((mask) => Number(fmix64(mask & signature) % PARTITIONS));
}

function squaredDistance(a: Point, b: Point): number {
  return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;
}

const MAX_SQUARED = MAX_DISTANCE ** 2;

/** The block record nearest to `point` within MAX_DISTANCE (the first of equally near ones). */
export function nearestSample(block: Buffer, point: Point): SignatureSample | undefined {
  let best: SignatureSample | undefined;
  let bestSquared = Infinity;
  for (let offset = 0; offset + RECORD_BYTES <= block.length; offset += RECORD_BYTES) {
    const sample: Point = [block.readUInt32LE(offset), block.readUInt32LE(offset + 4), block.readUInt32LE(offset + 8)];
    const squared = squaredDistance(point, sample);
    if (squared <= MAX_SQUARED && squared < bestSquared) {
      bestSquared = squared;
      best = { point: sample, signature: block.readBigInt64LE(offset + 12) };
    }
  }
  return best;
}

/**
 * Keeps, in order, each match farther than MAX_DISTANCE from the asked point and from every
 * match already kept, so that one structure is not reported many times.
 */
export function spreadMatches(point: Point, matches: readonly HammingMatch[]) {
  const kept: Point[] = [point];
  const result: { point: Point; dist: number; score: number }[] = [];
  for (const match of matches) {
    if (kept.every((other) => squaredDistance(other, match.point) > MAX_SQUARED)) {
      kept.push(match.point);
      result.push({ point: match.point, dist: match.hamming, score: 1 - match.hamming / MAX_HAMMING });
    }
  }
  return result;
}

/** The signature files of one bucket: `{dataset}/info.json` (cached) and `{dataset}/blocks/{xb}_{yb}_{zb}`. */
export class SignatureFiles {
  private readonly storage: CloudStorage;
  private readonly bucket: string;
  private readonly infos: LRUCache<string, SignatureInfo>;

  constructor(storage: CloudStorage, bucket: string, ttlMs = INFO_TTL_MS) {
    this.storage = storage;
    this.bucket = bucket;
    // A missing info.json is not cached, so a dataset's signatures can be published at any time.
    this.infos = new LRUCache<string, SignatureInfo>({ ...atMostEntries(1000), ttl: ttlMs, fetchMethod: (dataset) => this.readInfo(dataset) });
  }

  /** The dataset's metadata; `dataset` is the lower-cased storage name. */
  async info(dataset: string): Promise<SignatureInfo> {
    const info = await this.infos.fetch(dataset);
    if (!info) throw new LookupFailure('dataset not found');
    return info;
  }

  /** The sample nearest to `point`, and the dataset's metadata. */
  async sampleAt(dataset: string, point: Point): Promise<{ info: SignatureInfo; sample: SignatureSample }> {
    const info = await this.info(dataset);
    const block = point.map((coordinate) => Math.floor(coordinate / info.blockSize)).join('_');
    const bytes = await this.storage.read(this.bucket, `${dataset}/blocks/${block}`);
    const sample = bytes && nearestSample(bytes, point);
    if (!sample) throw new LookupFailure('point not found');
    return { info, sample };
  }

  private async readInfo(dataset: string): Promise<SignatureInfo | undefined> {
    const name = `${dataset}/info.json`;
    const bytes = await this.storage.read(this.bucket, name);
    if (!bytes) return undefined;
    let parsed: v.InferOutput<typeof SignatureInfoFile>;
    try {
      parsed = v.parse(SignatureInfoFile, parseJson(bytes.toString('utf8')));
    } catch (error) {
      const reason = error instanceof v.ValiError ? v.summarize(error.issues) : (error as Error).message;
      throw new HttpError(502, `gs://${this.bucket}/${name} is not valid signature metadata: ${reason}`);
    }
    return { blockSize: parsed.block_size, masks: [parsed.ham_0, parsed.ham_1, parsed.ham_2, parsed.ham_3] };
  }
}
