import * as v from 'valibot';
import { commaList, jsonObject, queryBool } from '../../shared/http/validate';
import { DatasetId, idList, MAX_IDS_PER_REQUEST } from '../../shared/ids';

const UINT64_MAX = 2n ** 64n - 1n;

/** A body id in a path: decimal digits within uint64, kept as canonical text (never a JS number). */
const BodyIdText = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^\d+$/, 'body id must be a non-negative integer'),
  // Validations all run, so this one must not choke on text the regex already refused.
  v.check((text) => !/^\d+$/.test(text) || BigInt(text) <= UINT64_MAX, 'body id is larger than a uint64'),
  v.transform((text) => BigInt(text).toString()),
);

/** A parsed body id: a non-negative integer (bigint beyond 2^53, see shared/json.ts) within uint64. */
const BodyIdValue = v.custom<number | bigint>(
  (value) =>
    (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) ||
    (typeof value === 'bigint' && value >= 0n && value <= UINT64_MAX),
  'bodyid must be a non-negative integer within uint64',
);

/** `id-number/{ids}`: one id or a comma list, duplicates dropped, request order kept. */
export const BodyIdListParams = v.object({
  dataset: DatasetId,
  ids: v.pipe(
    v.string(),
    v.transform((text) => text.split(',')),
    // No count limit: the URL must fit Node's 16 KiB of headers, which bounds the list first.
    v.array(BodyIdText),
    v.transform((ids) => [...new Set(ids)]),
  ),
});

export const BodyIdParams = v.object({ dataset: DatasetId, id: BodyIdText });

export const TagParams = v.object({ dataset: DatasetId, tag: v.string() });

export const UuidParams = v.object({ dataset: DatasetId, uuid: v.string() });

/**
 * `version`: a tag (`v…`, resolved through the metadata document) or a DVID uuid, optionally with
 * a `:branch`. It becomes one URL path segment, so only these characters are allowed; empty is HEAD.
 */
const Version = v.optional(
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^([A-Za-z0-9][\w.:-]*)?$/, 'version must be a tag such as v1.2 or a DVID uuid'),
  ),
  '',
);

/** `show`: which `<field>_user` / `<field>_time` companions DVID adds; `none` (or empty) adds none. */
const Show = v.optional(v.picklist(['', 'none', 'user', 'time', 'all'], 'show must be one of none, user, time, all'), '');

/** `fields=a,b`: only `bodyid` and these fields (and their companions as `show` allows). */
const Fields = commaList();

/** `as_of`: epoch seconds, an ISO 8601 time, or a change `<bodyid>@<seq>` (Firestore-native datasets only). */
const AsOf = v.optional(v.pipe(v.string(), v.trim(), v.maxLength(100, 'as_of is too long')), '');

/** An opaque paging cursor from a previous page (checked where it is used). */
const Cursor = v.optional(v.pipe(v.string(), v.trim(), v.maxLength(500, 'cursor is too long')), '');

/** A page size from 1 to `max`; absent is `fallback` (0: no paging). */
function pageSize(max: number, fallback: number) {
  return v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d+$/, 'size must be a positive integer'),
      v.transform(Number),
      v.minValue(1, 'size must be at least 1'),
      v.maxValue(max, `size must be at most ${max}`),
    ),
    fallback === 0 ? undefined : String(fallback),
  );
}

const MAX_PAGE = 10_000;

export const AllQuery = v.object({ show: Show, fields: Fields, version: Version, as_of: AsOf, cursor: Cursor, size: pageSize(MAX_PAGE, 0) });

/** `changes=true` (Firestore-native datasets): each body's earlier states too, newest first. */
export const VersionShowQuery = v.object({ version: Version, show: Show, fields: Fields, as_of: AsOf, changes: queryBool(false) });

export const QueryQuery = v.object({
  version: Version,
  show: Show,
  fields: Fields,
  onlyid: queryBool(false),
  as_of: AsOf,
  cursor: Cursor,
  size: pageSize(MAX_PAGE, 0),
});

export const HistoryQuery = v.object({ cursor: Cursor, size: pageSize(1000, 100) });

/** POST revert: these bodies become what they were at `to` (a time or a change), as new changes. */
export const RevertBody = v.object({
  bodyids: v.pipe(idList(BodyIdValue, MAX_IDS_PER_REQUEST, 'body ids'), v.minLength(1, 'name at least one body id')),
  to: v.pipe(v.string(), v.trim(), v.minLength(1, 'to must name a time or a change')),
});

/** POST versions: a tag at a point in history (`at`, default now) or as the head tag (`head: true`). */
export const TagBody = v.pipe(
  v.object({
    tag: v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z0-9][\w.-]{0,99}$/, 'tag must be letters, digits, ".", "_" or "-", such as v1.2')),
    at: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1))),
    head: v.optional(v.boolean()),
  }),
  v.check((body) => !(body.head === true && body.at !== undefined), 'give at or head, not both'),
);

/** A DVID neuronjson query: an object (fields ANDed) or an array of them (ORed). */
export const QueryBody = v.union([jsonObject, v.array(jsonObject)], 'the query must be a JSON object or an array of objects');

export const WriteQuery = v.object({
  version: Version,
  replace: queryBool(false),
  conditional: commaList(),
  /** DVID's older spelling of `conditional`. */
  conditionals: commaList(),
  designated_user: v.optional(v.pipe(v.string(), v.trim()), ''),
});

const Annotation = v.pipe(jsonObject, v.looseObject({ bodyid: BodyIdValue }));

/**
 * One annotation or an array of them, always an array afterwards. Every one needs a `bodyid`;
 * issues name the offending index, and nothing is sent unless all pass.
 */
export const WriteBody = v.pipe(
  v.custom<unknown>((body) => typeof body === 'object' && body !== null, 'the body must be an annotation object or an array of them'),
  v.transform((body) => (Array.isArray(body) ? body : [body])),
  v.array(Annotation),
);

export type AnnotationRecord = v.InferOutput<typeof Annotation>;
