/**
 * Which DVID node serves a dataset's neuron annotations. Version tags map to DVID uuids through
 * the `clio_annotations_global/metadata` document (maintained by admin scripts, read-only here);
 * HEAD is the dataset's own `uuid`. Each instance keeps the metadata document for 120 s, as the
 * original did, sharing one load between concurrent requests.
 */
import { COLLECTIONS } from '../../shared/collections';
import type { AppContext } from '../../shared/context';
import { HttpError } from '../../shared/errors';
import { docData } from '../../shared/firestore';

export const METADATA_TTL_MS = 120_000;

/** The name of the DVID neuronjson instance clio's neuron annotations live in. */
const ANNOTATION_INSTANCE = 'segmentation_annotations';

/** One dataset's entry under `neurons` in the metadata document; malformed parts read as absent. */
export interface NeuronVersions {
  readonly tag_to_uuid?: Readonly<Record<string, string>>;
  readonly uuid_to_tag?: Readonly<Record<string, string>>;
  readonly head_tag?: string;
  readonly head_uuid?: string;
  /** Firestore-native datasets: the point in history (epoch ms) each tag other than the head tag names. */
  readonly tag_times?: Readonly<Record<string, number>>;
}

interface Loaded {
  readonly at: number;
  readonly neurons: Record<string, unknown>;
}

const loads = new WeakMap<AppContext, Promise<Loaded>>();

async function neuronsMap(ctx: AppContext): Promise<Record<string, unknown>> {
  const pending = loads.get(ctx);
  const loaded = pending ? await pending.catch(() => undefined) : undefined;
  if (loaded && Date.now() - loaded.at <= METADATA_TTL_MS) return loaded.neurons;
  // The first request to see a stale copy starts the load; the others await the same one.
  if (loads.get(ctx) === pending) loads.set(ctx, loadMetadata(ctx));
  return (await loads.get(ctx)!).neurons;
}

async function loadMetadata(ctx: AppContext): Promise<Loaded> {
  const snapshot = await ctx.db().collection(COLLECTIONS.annotationsGlobal).doc('metadata').get();
  const neurons = docData(snapshot).neurons;
  return { at: Date.now(), neurons: isRecord(neurons) ? neurons : {} };
}

export async function neuronVersions(ctx: AppContext, dataset: string): Promise<NeuronVersions> {
  const entry = (await neuronsMap(ctx))[dataset];
  if (!isRecord(entry)) return {};
  return {
    tag_to_uuid: stringMap(entry.tag_to_uuid),
    uuid_to_tag: stringMap(entry.uuid_to_tag),
    head_tag: typeof entry.head_tag === 'string' ? entry.head_tag : undefined,
    head_uuid: typeof entry.head_uuid === 'string' ? entry.head_uuid : undefined,
    tag_times: numberMap(entry.tag_times),
  };
}

/** Drops this instance's copy of the metadata document, after this instance changed it. */
export function forgetMetadata(ctx: AppContext): void {
  loads.delete(ctx);
}

/**
 * The tag of a uuid: a recorded uuid matches when either it or the given one is a prefix of the
 * other; more than one match is 400, none is undefined.
 */
export function tagOfUuid(versions: NeuronVersions, uuid: string): string | undefined {
  const uuids = versions.uuid_to_tag ?? {};
  const matches = Object.keys(uuids).filter((recorded) => recorded.startsWith(uuid) || uuid.startsWith(recorded));
  if (matches.length > 1) throw new HttpError(400, `uuid ${uuid} is ambiguous: it matches ${matches.join(', ')}`);
  return matches.length === 1 ? uuids[matches[0]] : undefined;
}

/** The tag a version names: a recorded tag itself, or the tag of a uuid. */
export function tagOf(versions: NeuronVersions, version: string): string | undefined {
  return versions.tag_to_uuid && Object.hasOwn(versions.tag_to_uuid, version) ? version : tagOfUuid(versions, version);
}

/**
 * The URL of the dataset's neuron-annotation instance at `version`: a `v…` tag known to the
 * metadata document becomes its uuid (an unknown tag is 400; without a tag map the text is used
 * as a uuid, as the original did), any other text is a uuid, and empty means the dataset's HEAD.
 */
export async function annotationsUrl(ctx: AppContext, dataset: string, version: string): Promise<string> {
  const record = await ctx.datasets.get(dataset);
  if (!record) throw new HttpError(404, `dataset ${dataset} not found`);
  const dvid = typeof record.dvid === 'string' ? record.dvid.trim() : '';
  if (!/^https?:\/\/[^/]/.test(dvid)) {
    throw new HttpError(404, `dataset ${dataset} has no DVID server for neuron annotations (its dvid field must be an http(s) URL, or its record must say "neurons": {"store": "firestore"})`);
  }
  let uuid = version;
  if (version.startsWith('v')) {
    const tags = (await neuronVersions(ctx, dataset)).tag_to_uuid;
    if (tags) {
      if (!Object.hasOwn(tags, version)) throw new HttpError(400, `version ${version} is not a known tag of dataset ${dataset}`);
      uuid = tags[version];
    }
  }
  if (uuid === '') {
    uuid = typeof record.uuid === 'string' ? record.uuid.trim() : '';
    if (uuid === '') throw new HttpError(404, `dataset ${dataset} has no HEAD uuid; pass version=<tag or uuid>`);
  }
  return `${dvid.replace(/\/+$/, '')}/api/node/${encodeURIComponent(uuid)}/${ANNOTATION_INSTANCE}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberMap(value: unknown): Record<string, number> | undefined {
  if (!isRecord(value)) return undefined;
  return Object.fromEntries(
    Object.entries(value).flatMap(([key, inner]) => (typeof inner === 'number' || typeof inner === 'bigint' ? [[key, Number(inner)]] : [])),
  );
}

function stringMap(value: unknown): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
