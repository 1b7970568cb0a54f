/**
 * Firestore's value types and their encoding as google.firestore.v1.Value messages (in the shape
 * `protobuf.ts` writes and reads), with the conventions the service and
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

  toMillis(): number {
    return this.seconds * 1000 + this.nanoseconds / 1e6;
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

  /** The form the API takes: each segment that is not a plain identifier quoted in backticks. */
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

/** A google.firestore.v1.Value: integers are written from numbers or bigints and read as bigints. */
export type WireValue =
  | { nullValue: null }
  | { booleanValue: boolean }
  | { integerValue: string | number | bigint }
  | { doubleValue: number }
  | { timestampValue: Timestamp }
  | { stringValue: string }
  | { bytesValue: Uint8Array }
  | { referenceValue: string }
  | { geoPointValue: { latitude?: number; longitude?: number } }
  | { arrayValue: { values?: WireValue[] } }
  | { mapValue: { fields?: Record<string, WireValue> } };

export type WireFields = Record<string, WireValue>;

/**
 * Sets a field as the object's own property, whatever its name: a plain assignment of `__proto__`
 * would replace the object's prototype instead, losing the field (and polluting what it touches).
 */
export function setField<T>(object: Record<string, unknown>, key: string, value: T): T {
  if (key === '__proto__') Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
  return value;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Firestore's limit on nested maps and arrays in a document. */
const MAX_DEPTH = 20;

/** Encodes a value for a document or a query; `where` names it in errors, `depth` counts the maps and arrays around it. */
export function encodeValue(value: unknown, where: string, depth = 1, inArray = false): WireValue {
  if (value === null) return { nullValue: null };
  switch (typeof value) {
    case 'boolean':
      return { booleanValue: value };
    case 'string':
      return { stringValue: value };
    case 'number':
      return Number.isSafeInteger(value) && !Object.is(value, -0) ? { integerValue: value } : { doubleValue: value };
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) throw new Error(`${where}: ${value} is outside Firestore's 64-bit integers`);
      return { integerValue: value };
    case 'object':
      break;
    default:
      throw new Error(`${where}: a ${typeof value} cannot be stored`);
  }
  if (value instanceof Timestamp) return { timestampValue: value };
  if (value instanceof Date) return { timestampValue: Timestamp.fromMillis(value.getTime()) };
  if (value instanceof Uint8Array) return { bytesValue: value };
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
export function encodeFields(data: Record<string, unknown>, where = 'data', depth = 1): WireFields {
  const fields: WireFields = {};
  for (const [key, inner] of Object.entries(data)) {
    if (inner === undefined) continue;
    if (key === '') throw new Error(`${where}: a field name cannot be empty`);
    setField(fields, key, encodeValue(inner, where === 'data' ? key : `${where}.${key}`, depth));
  }
  return fields;
}

/** Decodes a stored value; `reference` turns a document name into what the caller uses for one. */
export function decodeValue(value: WireValue, reference: (name: string) => unknown): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('integerValue' in value) return BigInt(value.integerValue);
  if ('doubleValue' in value) return value.doubleValue;
  if ('booleanValue' in value) return value.booleanValue;
  if ('mapValue' in value) return decodeFields(value.mapValue.fields ?? {}, reference);
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map((item) => decodeValue(item, reference));
  if ('nullValue' in value) return null;
  if ('timestampValue' in value) return value.timestampValue;
  if ('bytesValue' in value) return value.bytesValue;
  if ('referenceValue' in value) return reference(value.referenceValue);
  if ('geoPointValue' in value) return { latitude: value.geoPointValue.latitude ?? 0, longitude: value.geoPointValue.longitude ?? 0 };
  throw new Error(`an unknown Firestore value: ${JSON.stringify(value)}`);
}

export function decodeFields(fields: WireFields, reference: (name: string) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(fields)) setField(out, key, decodeValue(inner, reference));
  return out;
}
