/**
 * Firestore's value types and their REST (JSON) encoding, with the conventions the service and
 * its stored data rely on: integers decode as bigints so that uint64 values stay exact, safe
 * integer numbers encode as integers and other numbers as doubles, undefined properties are left
 * out, and timestamps keep their nanoseconds.
 */

/** A point in time with nanosecond precision, as Firestore stores it. */
export class Timestamp {
  constructor(
    readonly seconds: number,
    readonly nanoseconds: number,
  ) {}

  static fromMillis(ms: number): Timestamp {
    const seconds = Math.floor(ms / 1000);
    return new Timestamp(seconds, Math.round((ms - seconds * 1000) * 1e6));
  }

  /** Parses RFC 3339 text as the REST API writes it (`2026-12-01T18:10:21.123456Z`). */
  static parse(text: string): Timestamp {
    const match = /^(.*?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
    const ms = match ? Date.parse(`${match[1]}${match[3]}`) : NaN;
    if (!match || Number.isNaN(ms)) throw new Error(`not an RFC 3339 timestamp: ${text}`);
    return new Timestamp(ms / 1000, Number((match[2] ?? '').padEnd(9, '0')));
  }

  toMillis(): number {
    return this.seconds * 1000 + this.nanoseconds / 1e6;
  }

  /** RFC 3339 in UTC with all nine fraction digits. */
  toString(): string {
    const whole = new Date(this.seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
    return `${whole}.${String(this.nanoseconds).padStart(9, '0')}Z`;
  }
}

/** A path to a (possibly nested) field; segments may hold any characters. */
export class FieldPath {
  readonly segments: readonly string[];

  constructor(...segments: string[]) {
    if (segments.length === 0 || segments.some((segment) => segment === '')) throw new Error('a field path needs non-empty segments');
    this.segments = segments;
  }

  /** The path that stands for a document's id in queries. */
  static documentId(): FieldPath {
    return DOCUMENT_ID;
  }

  /** A dotted path as `update` and `select` take them (`a.b` is field b of map a). */
  static of(path: string | FieldPath): FieldPath {
    return typeof path === 'string' ? new FieldPath(...path.split('.')) : path;
  }

  /** The REST form: each segment that is not a plain identifier quoted in backticks. */
  encoded(): string {
    return this.segments.map((segment) => (/^[A-Za-z_][A-Za-z_0-9]*$/.test(segment) ? segment : `\`${segment.replace(/[\\`]/g, '\\$&')}\``)).join('.');
  }
}

const DOCUMENT_ID = new FieldPath('__name__');

/** Values computed by the database when a write commits. */
export class FieldValue {
  private constructor(readonly kind: 'serverTimestamp' | 'delete') {}

  private static readonly SERVER_TIMESTAMP = new FieldValue('serverTimestamp');
  private static readonly DELETE = new FieldValue('delete');

  /** The commit time of the write. */
  static serverTimestamp(): FieldValue {
    return FieldValue.SERVER_TIMESTAMP;
  }

  /** In an update, removes the field. */
  static delete(): FieldValue {
    return FieldValue.DELETE;
  }
}

/** A value as the REST API spells it. */
export type RestValue =
  | { nullValue: null }
  | { booleanValue: boolean }
  | { integerValue: string }
  | { doubleValue: number | string }
  | { timestampValue: string }
  | { stringValue: string }
  | { bytesValue: string }
  | { referenceValue: string }
  | { geoPointValue: { latitude?: number; longitude?: number } }
  | { arrayValue: { values?: RestValue[] } }
  | { mapValue: { fields?: Record<string, RestValue> } };

export type RestFields = Record<string, RestValue>;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Firestore's limit on nested maps and arrays in a document. */
const MAX_DEPTH = 20;

/** Encodes a value for a document or a query; `where` names it in errors, `depth` counts the maps and arrays around it. */
export function encodeValue(value: unknown, where: string, depth = 1, inArray = false): RestValue {
  if (value === null) return { nullValue: null };
  switch (typeof value) {
    case 'boolean':
      return { booleanValue: value };
    case 'string':
      return { stringValue: value };
    case 'number':
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) return { integerValue: String(value) };
      // JSON numbers cannot say NaN, the infinities or -0; the API takes those as strings.
      return { doubleValue: Number.isFinite(value) && !Object.is(value, -0) ? value : Object.is(value, -0) ? '-0' : String(value) };
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) throw new Error(`${where}: ${value} is outside Firestore's 64-bit integers`);
      return { integerValue: value.toString() };
    case 'object':
      break;
    default:
      throw new Error(`${where}: a ${typeof value} cannot be stored`);
  }
  if (value instanceof Timestamp) return { timestampValue: value.toString() };
  if (value instanceof Date) return { timestampValue: Timestamp.fromMillis(value.getTime()).toString() };
  if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value).toString('base64') };
  if (value instanceof FieldValue) throw new Error(`${where}: FieldValue.${value.kind}() can only be a field of a written document`);
  if (depth > MAX_DEPTH) throw new Error(`${where}: the data is nested deeper than ${MAX_DEPTH} levels, Firestore's limit`);
  if (Array.isArray(value)) {
    if (inArray) throw new Error(`${where}: an array cannot hold an array directly`);
    return {
      arrayValue: {
        values: value.map((item, index) => {
          if (item === undefined) throw new Error(`${where}[${index}]: undefined cannot be stored`);
          return encodeValue(item, `${where}[${index}]`, depth + 1, true);
        }),
      },
    };
  }
  return { mapValue: { fields: encodeFields(value as Record<string, unknown>, where, depth + 1) } };
}

/** Encodes a map's entries; undefined ones are left out, as the service asks of the client. */
export function encodeFields(data: Record<string, unknown>, where = 'data', depth = 1): RestFields {
  const fields: RestFields = {};
  for (const [key, inner] of Object.entries(data)) {
    if (inner === undefined) continue;
    if (key === '') throw new Error(`${where}: a field name cannot be empty`);
    fields[key] = encodeValue(inner, where === 'data' ? key : `${where}.${key}`, depth);
  }
  return fields;
}

/** Decodes a stored value; `reference` turns a document name into what the caller uses for one. */
export function decodeValue(value: RestValue, reference: (name: string) => unknown): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('integerValue' in value) return BigInt(value.integerValue);
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('booleanValue' in value) return value.booleanValue;
  if ('mapValue' in value) return decodeFields(value.mapValue.fields ?? {}, reference);
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map((item) => decodeValue(item, reference));
  if ('nullValue' in value) return null;
  if ('timestampValue' in value) return Timestamp.parse(value.timestampValue);
  if ('bytesValue' in value) return Buffer.from(value.bytesValue, 'base64');
  if ('referenceValue' in value) return reference(value.referenceValue);
  if ('geoPointValue' in value) return { latitude: value.geoPointValue.latitude ?? 0, longitude: value.geoPointValue.longitude ?? 0 };
  throw new Error(`an unknown Firestore value: ${JSON.stringify(value)}`);
}

export function decodeFields(fields: RestFields, reference: (name: string) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(fields)) out[key] = decodeValue(inner, reference);
  return out;
}
