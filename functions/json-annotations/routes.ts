/**
 * The json-annotations function: neuron ("body") annotations kept in each dataset's DVID
 * `neuronjson` instance, proxied with authorization (reads need can_read, writes and deletes
 * clio_write on the dataset) and with uint64 body ids passed through exactly. A dataset whose
 * record says `"neurons": {"store": "firestore"}` is served from Firestore instead (`native.ts`),
 * with the same semantics plus history, points in time and paging.
 */
import { randomUUID } from 'node:crypto';
import type { Caller } from '../../shared/auth/roles';
import type { AppContext } from '../../shared/context';
import { HttpError } from '../../shared/errors';
import { parseJson, stringifyJson } from '../../shared/json';
import { type Family, route, type Surface } from '../../shared/http/routes';
import { DatasetParams } from '../../shared/ids';
import { dvidBytes, dvidSend, dvidStream } from './dvid';
import { checkWritableVersion, pointOf, readAll, readFieldNames, readHistory, readIds, readPoint, runQuery, setTag } from './native';
import { refusal } from './neuronjson';
import { deleteAnnotation, isNativeDataset, type Provenance, revertBodies, writeAnnotations } from './native-store';
import {
  AllQuery,
  BodyIdListParams,
  BodyIdParams,
  HistoryQuery,
  QueryBody,
  QueryQuery,
  RevertBody,
  TagBody,
  TagParams,
  UuidParams,
  VersionShowQuery,
  WriteBody,
  WriteQuery,
} from './schemas';
import { annotationsUrl, neuronVersions, tagOfUuid } from './versions';

const V2: readonly Surface[] = ['v2'];
const BASE = '/json-annotations/:dataset/neurons';

function mayRead(caller: Caller, dataset: string): void {
  if (!caller.canRead(dataset)) throw new HttpError(401, `user lacks permission to read neuron annotations of dataset ${dataset}`);
}

function mayWrite(caller: Caller, dataset: string): void {
  if (!caller.canWriteOthers(dataset)) {
    throw new HttpError(401, `user lacks permission to change neuron annotations of dataset ${dataset} (clio_write is needed)`);
  }
}

/** Whether the dataset's neuron annotations are Firestore-native (404 for an unknown dataset). */
async function isNative(ctx: AppContext, dataset: string): Promise<boolean> {
  const record = await ctx.datasets.get(dataset);
  if (!record) throw new HttpError(404, `dataset ${dataset} not found`);
  return isNativeDataset(record);
}

/** Routes that exist only for Firestore-native datasets answer 404 elsewhere. */
async function requireNative(ctx: AppContext, dataset: string, what: string): Promise<void> {
  if (!(await isNative(ctx, dataset))) {
    throw new HttpError(404, `dataset ${dataset} keeps its neuron annotations in DVID, which has no ${what}; only Firestore-native datasets do`);
  }
}

/** `as_of` needs the native store's history. */
function noAsOfOnDvid(asOf: string): void {
  if (asOf !== '') throw new HttpError(400, 'as_of needs a Firestore-native dataset; give a DVID version instead');
}

function provenance(caller: Caller, designatedUser: string): Provenance {
  return { actor: caller.email, onBehalfOf: designatedUser || null, requestId: randomUUID() };
}

/** A DVID URL below the annotation instance; empty parameters are left out. */
function dvidUrl(base: string, endpoint: string, params: Record<string, string> = {}): string {
  const search = new URLSearchParams(Object.entries(params).filter(([, value]) => value !== ''));
  return search.size > 0 ? `${base}/${endpoint}?${search}` : `${base}/${endpoint}`;
}

/** `show=none` is DVID's default and is not forwarded. */
const showParam = (show: string) => (show === 'none' ? '' : show);

function found<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '') throw new HttpError(404, `${what} not found`);
  return value;
}

async function metadataOf(ctx: AppContext, caller: Caller, dataset: string) {
  mayRead(caller, dataset);
  return neuronVersions(ctx, dataset);
}

export const jsonAnnotations: Family = {
  name: 'json-annotations',
  deploy: {
    memory: '1Gi',
    cpu: 1,
    // A 200 MB `all` to a client on a slow link (0.1 MB/s) takes over half an hour: the HTTP maximum.
    timeoutSeconds: 3600,
    concurrency: 20,
    why:
      '`all` streams 150-200 MB from DVID with bounded memory, but moving the bytes costs CPU (0.2-0.5 s per 146 MB here): ' +
      'at most 20 requests per vCPU keeps each stream fast, and the hour-long timeout lets slow clients finish. ' +
      'The memory also holds copies of native datasets (NEURONS_CACHE_MB, 128 MiB by default).',
  },
  routes: [
    route({
      method: 'GET',
      path: `${BASE}/fields`,
      surfaces: V2,
      summary: 'Names of the annotation fields in use (at HEAD)',
      params: DatasetParams,
      handler: async ({ params, caller, ctx }) => {
        mayRead(caller, params.dataset);
        if (await isNative(ctx, params.dataset)) return readFieldNames(ctx, params.dataset);
        return dvidStream(ctx.config, { method: 'GET', url: dvidUrl(await annotationsUrl(ctx, params.dataset, ''), 'fields') });
      },
    }),
    route({
      method: 'GET',
      path: `${BASE}/versions`,
      surfaces: V2,
      summary: 'Version tags and their DVID uuids',
      params: DatasetParams,
      handler: async ({ params, caller, ctx }) => {
        const tags = (await metadataOf(ctx, caller, params.dataset)).tag_to_uuid;
        if (!tags || Object.keys(tags).length === 0) throw new HttpError(404, `no versions recorded for dataset ${params.dataset}`);
        return tags;
      },
    }),
    route({
      method: 'GET',
      path: `${BASE}/head_tag`,
      surfaces: V2,
      summary: 'The tag of the HEAD version',
      params: DatasetParams,
      handler: async ({ params, caller, ctx }) =>
        found((await metadataOf(ctx, caller, params.dataset)).head_tag, `head tag of dataset ${params.dataset}`),
    }),
    route({
      method: 'GET',
      path: `${BASE}/head_uuid`,
      surfaces: V2,
      summary: 'The DVID uuid of the HEAD version',
      params: DatasetParams,
      handler: async ({ params, caller, ctx }) =>
        found((await metadataOf(ctx, caller, params.dataset)).head_uuid, `head uuid of dataset ${params.dataset}`),
    }),
    route({
      method: 'GET',
      path: `${BASE}/tag_to_uuid/:tag`,
      surfaces: V2,
      summary: 'The DVID uuid of a version tag',
      params: TagParams,
      handler: async ({ params, caller, ctx }) => {
        const tags = (await metadataOf(ctx, caller, params.dataset)).tag_to_uuid ?? {};
        return found(Object.hasOwn(tags, params.tag) ? tags[params.tag] : undefined, `tag ${params.tag} of dataset ${params.dataset}`);
      },
    }),
    route({
      method: 'GET',
      path: `${BASE}/uuid_to_tag/:uuid`,
      surfaces: V2,
      summary: 'The version tag of a DVID uuid',
      description: 'A recorded uuid matches when either it or the requested one is a prefix of the other; more than one match is 400.',
      params: UuidParams,
      handler: async ({ params, caller, ctx }) => {
        const tag = tagOfUuid(await metadataOf(ctx, caller, params.dataset), params.uuid);
        return found(tag, `tag for uuid ${params.uuid} in dataset ${params.dataset}`);
      },
    }),
    route({
      method: 'GET',
      path: `${BASE}/all`,
      surfaces: V2,
      summary: 'Every annotation at HEAD (streamed)',
      description:
        'A JSON array streamed as it is read; it can be far larger than 32 MiB. Firestore-native datasets also take ' +
        '`version` or `as_of` (a past state), and `size` with `cursor` for pages `{"items":[...],"next_cursor":...}` in body-id order.',
      streamed: true,
      params: DatasetParams,
      query: AllQuery,
      handler: async ({ params, query, caller, ctx }) => {
        mayRead(caller, params.dataset);
        if (await isNative(ctx, params.dataset)) {
          const atMs = await readPoint(ctx, params.dataset, query.version, query.as_of);
          return readAll(ctx, params.dataset, { show: query.show, fields: query.fields, atMs, cursor: query.cursor, size: query.size ?? 0 });
        }
        noAsOfOnDvid(query.as_of);
        const base = await annotationsUrl(ctx, params.dataset, '');
        return dvidStream(ctx.config, { method: 'GET', url: dvidUrl(base, 'all', { show: showParam(query.show), fields: query.fields.join(',') }) });
      },
    }),
    route({
      method: 'GET',
      path: `${BASE}/id-number/:ids`,
      surfaces: V2,
      summary: 'Annotations of one body id or a comma list',
      description: 'An array in request order; ids without an annotation are left out.',
      params: BodyIdListParams,
      query: VersionShowQuery,
      handler: async ({ params, query, caller, ctx }) => {
        mayRead(caller, params.dataset);
        if (await isNative(ctx, params.dataset)) {
          const atMs = await readPoint(ctx, params.dataset, query.version, query.as_of);
          return readIds(ctx, params.dataset, params.ids, { show: query.show, fields: query.fields, atMs, changes: query.changes });
        }
        noAsOfOnDvid(query.as_of);
        const base = await annotationsUrl(ctx, params.dataset, query.version);
        const bytes = await dvidBytes(ctx.config, {
          method: 'GET',
          url: dvidUrl(base, 'keyvalues', { json: 'true', show: showParam(query.show), fields: query.fields.join(',') }),
          body: `[${params.ids.join(',')}]`,
        });
        return inRequestOrder(bytes, params.ids);
      },
    }),
    route({
      method: 'DELETE',
      path: `${BASE}/id-number/:id`,
      surfaces: V2,
      summary: 'Delete the annotation of one body id (at HEAD)',
      params: BodyIdParams,
      handler: async ({ params, caller, ctx }) => {
        mayWrite(caller, params.dataset);
        if (await isNative(ctx, params.dataset)) {
          const who = provenance(caller, '');
          await deleteAnnotation(ctx, params.dataset, params.id, who);
          ctx.log.info('neuron annotation deleted', { dataset: params.dataset, bodyid: params.id, caller: caller.email, request_id: who.requestId });
          return null;
        }
        const base = await annotationsUrl(ctx, params.dataset, '');
        await dvidSend(ctx.config, { method: 'DELETE', url: dvidUrl(base, `key/${params.id}`, { u: caller.email }) });
        ctx.log.info('neuron annotation deleted', { dataset: params.dataset, bodyid: params.id, caller: caller.email });
        return null;
      },
    }),
    route({
      method: 'POST',
      path: `${BASE}/query`,
      surfaces: V2,
      summary: 'Annotations matching a DVID neuronjson query',
      description:
        'Body: an object whose fields are ANDed (a list value means any of, `re/` a regular expression, ' +
        '`exists/0|1` absence or presence), or an array of such objects, ORed. `onlyid=true` answers body ids only. ' +
        'Firestore-native datasets also take `as_of`, and `size` with `cursor` as `all` does.',
      streamed: true,
      params: DatasetParams,
      query: QueryQuery,
      body: QueryBody,
      handler: async ({ params, query, body, caller, ctx }) => {
        mayRead(caller, params.dataset);
        if (await isNative(ctx, params.dataset)) {
          const atMs = await readPoint(ctx, params.dataset, query.version, query.as_of);
          const options = { show: query.show, fields: query.fields, atMs, cursor: query.cursor, size: query.size ?? 0 };
          return runQuery(ctx, params.dataset, body, query.onlyid, options);
        }
        noAsOfOnDvid(query.as_of);
        const base = await annotationsUrl(ctx, params.dataset, query.version);
        const url = dvidUrl(base, 'query', { show: showParam(query.show), fields: query.fields.join(','), onlyid: query.onlyid ? 'true' : '' });
        return dvidStream(ctx.config, { method: 'POST', url, body: stringifyJson(body) });
      },
    }),
    route({
      method: 'GET',
      path: `${BASE}/history/:id`,
      surfaces: V2,
      summary: "One body's change history, oldest first (Firestore-native datasets)",
      description:
        'Every change ever made to the body: `{changes: [{change, bodyid, seq, time, op, set, unset, deleted, actor, on_behalf_of, request_id}], next_cursor}`, ' +
        '`size` changes per page (default 100); pass `next_cursor` back as `cursor` for the next page. `set`/`unset` are the field-level patch.',
      params: BodyIdParams,
      query: HistoryQuery,
      handler: async ({ params, query, caller, ctx }) => {
        mayRead(caller, params.dataset);
        await requireNative(ctx, params.dataset, 'history');
        return readHistory(ctx, params.dataset, params.id, query.cursor, query.size ?? 100);
      },
    }),
    route({
      method: 'POST',
      path: `${BASE}/revert`,
      surfaces: V2,
      summary: 'Return bodies to their state at a time or change (Firestore-native datasets)',
      description:
        'Body `{"bodyids": [...], "to": <epoch seconds, ISO 8601 time or change "<bodyid>@<seq>">}`. Each body becomes exactly what it was then ' +
        '(companions included; absent then means deleted now), recorded as a new change: history is never erased.',
      params: DatasetParams,
      body: RevertBody,
      handler: async ({ params, body, caller, ctx }) => {
        mayWrite(caller, params.dataset);
        await requireNative(ctx, params.dataset, 'history');
        const atMs = await pointOf(ctx, params.dataset, body.to);
        const who = provenance(caller, '');
        const ids = [...new Set(body.bodyids.map((id) => BigInt(id).toString()))];
        const written = await revertBodies(ctx, params.dataset, ids, atMs, who);
        ctx.log.info('neuron annotations reverted', { dataset: params.dataset, count: ids.length, changes: written, to: body.to, caller: caller.email, request_id: who.requestId });
        return { changes: written };
      },
    }),
    route({
      method: 'POST',
      path: `${BASE}/versions`,
      surfaces: V2,
      summary: 'Set a version tag (Firestore-native datasets; dataset admins)',
      description:
        'Body `{"tag": "v1.2", "at": <time or change>}` fixes a tag at a point in history (default now); `{"tag": "v1.3", "head": true}` makes it the ' +
        'head tag (HEAD, moving with writes) and fixes the previous head tag at now. Fills `versions`, `head_tag`, `head_uuid`, `tag_to_uuid` and ' +
        '`uuid_to_tag`; each tag gets a uuid of its own. Answers the dataset\'s version entry.',
      params: DatasetParams,
      body: TagBody,
      handler: async ({ params, body, caller, ctx }) => {
        if (!caller.isDatasetAdmin(params.dataset)) {
          throw new HttpError(401, `user lacks permission to set version tags of dataset ${params.dataset} (admin or dataset_admin is needed)`);
        }
        await requireNative(ctx, params.dataset, 'version tags set by this service');
        const point = body.head === true ? ({ head: true } as const) : { atMs: body.at === undefined ? Date.now() : await pointOf(ctx, params.dataset, body.at) };
        return setTag(ctx, caller, params.dataset, body.tag, point);
      },
    }),
    ...(['POST', 'PUT'] as const).map((method) =>
      route({
        method,
        path: BASE,
        surfaces: V2,
        summary: 'Write annotations (one object or an array, each with bodyid)',
        description:
          'Merged into the stored annotation unless `replace=true`; fields named in `conditional` are only set when empty; ' +
          '`null` clears a field. Edits are attributed to the caller, or to `designated_user`. Every object is checked ' +
          'before the first is sent; they are then written in order and the first DVID failure is answered.',
        params: DatasetParams,
        query: WriteQuery,
        body: WriteBody,
        handler: async ({ params, query, body, caller, ctx }) => {
          mayWrite(caller, params.dataset);
          const editor = query.designated_user || caller.email;
          if (await isNative(ctx, params.dataset)) {
            await checkWritableVersion(ctx, params.dataset, query.version);
            // As DVID refuses them; checked for every object before any is written.
            const refused = body.map(refusal).find((reason) => reason !== undefined);
            if (refused) throw new HttpError(400, refused);
            const who = provenance(caller, query.designated_user);
            const options = { replace: query.replace, conditional: [...query.conditional, ...query.conditionals] };
            const written = await writeAnnotations(ctx, params.dataset, body, editor, options, who);
            ctx.log.info('neuron annotations written', { dataset: params.dataset, count: body.length, changes: written, caller: caller.email, editor, request_id: who.requestId });
            return null;
          }
          const base = await annotationsUrl(ctx, params.dataset, query.version);
          const conditional = [...query.conditional, ...query.conditionals].join(',');
          // DVID of 2025 reads `conditionals`, later versions `conditional`: send both.
          const options = { u: editor, replace: query.replace ? 'true' : '', conditional, conditionals: conditional };
          ctx.log.info('writing neuron annotations', { dataset: params.dataset, count: body.length, caller: caller.email, editor });
          for (const annotation of body) {
            const url = dvidUrl(base, `key/${annotation.bodyid}`, options);
            await dvidSend(ctx.config, { method: 'POST', url, body: stringifyJson(annotation) });
          }
          return null;
        },
      }),
    ),
  ],
};

/**
 * DVID answers `keyvalues` as `{"<id>": annotation}` in its own key order; clients want an array
 * in the order they asked. The reply is parsed losslessly (ids beyond 2^53 stay bigints).
 */
function inRequestOrder(bytes: Buffer, ids: readonly string[]): unknown[] {
  let byId: unknown;
  try {
    byId = parseJson(bytes.toString('utf8'));
  } catch {
    throw new HttpError(502, 'DVID answered keyvalues with something that is not JSON');
  }
  if (typeof byId !== 'object' || byId === null || Array.isArray(byId)) {
    throw new HttpError(502, 'DVID answered keyvalues with something other than a JSON object');
  }
  const values = byId as Record<string, unknown>;
  return ids.filter((id) => Object.hasOwn(values, id)).map((id) => values[id]);
}
