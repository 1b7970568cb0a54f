/**
 * Protocol Buffers wire format, driven by a table of messages (`messages.ts`): objects with the
 * proto3 JSON names of their fields in, bytes out, and back. Table-driven rather than generated, so
 * that loading it costs next to nothing at a cold start. Unknown fields of an answer are skipped,
 * as the wire format intends, so a newer server does not break an older client.
 */
import { setField, Timestamp } from './values';

/** What a field holds; the special types are the well-known messages in their natural JS form. */
export type FieldType =
  | 'string'
  | 'bool'
  | 'int32'
  /** Written from a number, bigint or decimal string; read as a bigint. */
  | 'int64'
  | 'double'
  /** Written from a Uint8Array; read as a Buffer. */
  | 'bytes'
  /** google.protobuf.Timestamp as a Timestamp. */
  | 'timestamp'
  /** google.protobuf.Int32Value as a plain number. */
  | 'int32Value'
  /** google.protobuf.NullValue as null. */
  | 'null'
  | { readonly enum: Readonly<Record<string, number>> }
  | { readonly message: string }
  /** map<string, message>. */
  | { readonly mapOf: string };

export interface FieldSpec {
  readonly number: number;
  readonly type: FieldType;
  readonly repeated?: boolean;
}

export type Schema = Readonly<Record<string, Readonly<Record<string, FieldSpec>>>>;

type Message = Record<string, unknown>;

interface CompiledField extends FieldSpec {
  readonly name: string;
  readonly wireType: number;
  /** The enum's names by number, for reading. */
  readonly names?: ReadonlyMap<number, string>;
}

interface CompiledMessage {
  readonly byName: ReadonlyMap<string, CompiledField>;
  readonly byNumber: readonly (CompiledField | undefined)[];
}

const VARINT = 0;
const FIXED64 = 1;
const DELIMITED = 2;
const FIXED32 = 5;

const wireTypeOf = (type: FieldType) => (type === 'double' ? FIXED64 : typeof type === 'object' ? ('enum' in type ? VARINT : DELIMITED) : ['string', 'bytes', 'timestamp', 'int32Value'].includes(type) ? DELIMITED : VARINT);

export class ProtobufCodec {
  private readonly messages = new Map<string, CompiledMessage>();

  constructor(schema: Schema) {
    for (const [messageName, fields] of Object.entries(schema)) {
      const byName = new Map<string, CompiledField>();
      const byNumber: (CompiledField | undefined)[] = [];
      for (const [name, spec] of Object.entries(fields)) {
        const type = spec.type;
        const names = typeof type === 'object' && 'enum' in type ? new Map(Object.entries(type.enum).map(([key, number]) => [number, key])) : undefined;
        const field: CompiledField = { ...spec, name, names, wireType: wireTypeOf(type) };
        byName.set(name, field);
        byNumber[spec.number] = field;
      }
      this.messages.set(messageName, { byName, byNumber });
    }
    for (const { byName } of this.messages.values()) {
      for (const { type } of byName.values()) {
        const inner = typeof type === 'object' && ('message' in type ? type.message : 'mapOf' in type ? type.mapOf : undefined);
        if (inner && !this.messages.has(inner)) throw new Error(`the schema names ${inner} but does not describe it`);
      }
    }
  }

  encode(messageName: string, value: Message): Buffer {
    const writer = new Writer();
    this.write(writer, this.message(messageName), value);
    return writer.finish();
  }

  decode(messageName: string, bytes: Buffer): Message {
    return this.read(new Reader(bytes), this.message(messageName), bytes.length);
  }

  private message(name: string): CompiledMessage {
    const message = this.messages.get(name);
    if (!message) throw new Error(`no message ${name} in the schema`);
    return message;
  }

  private write(writer: Writer, message: CompiledMessage, value: Message): void {
    for (const key in value) {
      const inner = value[key];
      if (inner === undefined) continue;
      const field = message.byName.get(key);
      if (!field) throw new Error(`a message has no field ${key}`);
      const { type, number } = field;
      if (typeof type === 'object' && 'mapOf' in type) {
        const entryType = this.message(type.mapOf);
        for (const entryKey in inner as Message) {
          writer.tag(number, DELIMITED);
          writer.delimited(() => {
            writer.tag(1, DELIMITED);
            writer.string(entryKey);
            writer.tag(2, DELIMITED);
            writer.delimited(() => this.write(writer, entryType, (inner as Message)[entryKey] as Message));
          });
        }
      } else if (field.repeated) {
        for (const item of inner as unknown[]) this.writeField(writer, field, item);
      } else this.writeField(writer, field, inner);
    }
  }

  private writeField(writer: Writer, { number, type, name, wireType }: CompiledField, value: unknown): void {
    writer.tag(number, wireType);
    switch (type) {
      case 'string':
        return writer.string(value as string);
      case 'bool':
        return writer.varint(value ? 1 : 0);
      case 'int32':
        return writer.int64(BigInt(value as number));
      case 'int64':
        return writer.int64(BigInt(value as number | bigint | string));
      case 'double':
        return writer.double(value as number);
      case 'bytes':
        return writer.bytes(value as Uint8Array);
      case 'null':
        return writer.varint(0);
      case 'timestamp':
        return writer.delimited(() => {
          const { seconds, nanoseconds } = value as Timestamp;
          writer.tag(1, VARINT);
          writer.int64(BigInt(seconds));
          writer.tag(2, VARINT);
          writer.varint(nanoseconds);
        });
      case 'int32Value':
        return writer.delimited(() => {
          writer.tag(1, VARINT);
          writer.int64(BigInt(value as number));
        });
    }
    if ('enum' in type) {
      const code = type.enum[value as string];
      if (code === undefined) throw new Error(`${name} has no value ${String(value)}`);
      return writer.varint(code);
    }
    if ('message' in type) {
      const inner = this.message(type.message);
      return writer.delimited(() => this.write(writer, inner, value as Message));
    }
  }

  private read(reader: Reader, message: CompiledMessage, end: number): Message {
    const out: Message = {};
    while (reader.pos < end) {
      const tag = reader.varint();
      const field = message.byNumber[tag >>> 3];
      if (!field || field.wireType !== (tag & 7)) {
        reader.skip(tag & 7);
        continue;
      }
      const { type, name } = field;
      if (typeof type === 'object' && 'mapOf' in type) {
        const entryEnd = reader.varint() + reader.pos;
        let key = '';
        let value: Message = {};
        while (reader.pos < entryEnd) {
          const entryTag = reader.varint();
          if (entryTag === ((1 << 3) | DELIMITED)) key = reader.string();
          else if (entryTag === ((2 << 3) | DELIMITED)) value = this.read(reader, this.message(type.mapOf), reader.varint() + reader.pos);
          else reader.skip(entryTag & 7);
        }
        setField((out[name] ??= {}) as Message, key, value);
        continue;
      }
      const value = this.readField(reader, field);
      if (field.repeated) ((out[name] ??= []) as unknown[]).push(value);
      else out[name] = value;
    }
    return out;
  }

  private readField(reader: Reader, field: CompiledField): unknown {
    const { type } = field;
    switch (type) {
      case 'string':
        return reader.string();
      case 'bool':
        return reader.varint() !== 0;
      case 'int32':
        return Number(BigInt.asIntN(32, reader.int64()));
      case 'int64':
        return BigInt.asIntN(64, reader.int64());
      case 'double':
        return reader.double();
      case 'bytes':
        return reader.bytes();
      case 'null':
        reader.varint();
        return null;
      case 'timestamp': {
        const end = reader.varint() + reader.pos;
        let seconds = 0;
        let nanos = 0;
        while (reader.pos < end) {
          const tag = reader.varint();
          if (tag === ((1 << 3) | VARINT)) seconds = Number(BigInt.asIntN(64, reader.int64()));
          else if (tag === ((2 << 3) | VARINT)) nanos = reader.varint();
          else reader.skip(tag & 7);
        }
        return new Timestamp(seconds, nanos);
      }
      case 'int32Value': {
        const end = reader.varint() + reader.pos;
        let value = 0;
        while (reader.pos < end) {
          const tag = reader.varint();
          if (tag === ((1 << 3) | VARINT)) value = Number(BigInt.asIntN(32, reader.int64()));
          else reader.skip(tag & 7);
        }
        return value;
      }
    }
    if ('enum' in type) {
      const code = reader.varint();
      return field.names?.get(code) ?? code;
    }
    const inner = this.message((type as { message: string }).message);
    return this.read(reader, inner, reader.varint() + reader.pos);
  }
}

/** Appends to one growing buffer; a nested message's length is written in front of it once it is known. */
class Writer {
  private buffer = Buffer.allocUnsafe(256);
  private pos = 0;

  finish(): Buffer {
    return this.buffer.subarray(0, this.pos);
  }

  tag(number: number, wireType: number): void {
    this.varint(number * 8 + wireType);
  }

  /** A non-negative integer below 2^53. */
  varint(value: number): void {
    this.room(8);
    while (value >= 0x80) {
      this.buffer[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buffer[this.pos++] = value;
  }

  /** Any 64-bit integer: negative ones as their two's complement, in ten bytes. */
  int64(value: bigint): void {
    if (value >= 0n && value < 2n ** 53n) return this.varint(Number(value));
    let rest = BigInt.asUintN(64, value);
    this.room(10);
    while (rest >= 0x80n) {
      this.buffer[this.pos++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.pos++] = Number(rest);
  }

  double(value: number): void {
    this.room(8);
    this.buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  string(value: string): void {
    const length = Buffer.byteLength(value);
    this.varint(length);
    this.room(length);
    this.pos += this.buffer.write(value, this.pos, length, 'utf8');
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.room(value.length);
    this.buffer.set(value, this.pos);
    this.pos += value.length;
  }

  /** Writes what `body` writes as one length-delimited field. */
  delimited(body: () => void): void {
    // One byte is kept for the length, which fits it when the body is under 128 bytes.
    this.room(1);
    const start = ++this.pos;
    body();
    const length = this.pos - start;
    if (length < 0x80) {
      this.buffer[start - 1] = length;
      return;
    }
    const lengthBytes = varintSize(length);
    this.room(lengthBytes - 1);
    this.buffer.copyWithin(start + lengthBytes - 1, start, this.pos);
    this.pos = start - 1;
    this.varint(length);
    this.pos += length;
  }

  private room(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.pos + bytes));
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }
}

const varintSize = (value: number) => {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
};

class Reader {
  pos = 0;

  constructor(private readonly buffer: Buffer) {}

  /** A varint of a tag, length, boolean, enum or nanoseconds (bits past the 35th are not kept). */
  varint(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = this.next();
      if (shift < 35) value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  }

  /** Any varint, as an unsigned 64-bit bigint. */
  int64(): bigint {
    let low = 0;
    let shift = 0;
    let byte: number;
    // Up to 7 bytes (49 bits) stay a plain number.
    do {
      byte = this.next();
      low += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte >= 0x80 && shift < 49);
    if (byte < 0x80) return BigInt(low);
    let value = BigInt(low);
    do {
      byte = this.next();
      value |= BigInt(byte & 0x7f) << BigInt(shift);
      shift += 7;
    } while (byte >= 0x80);
    return BigInt.asUintN(64, value);
  }

  double(): number {
    const value = this.buffer.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  string(): string {
    const end = this.varint() + this.pos;
    const value = this.buffer.toString('utf8', this.pos, end);
    this.pos = end;
    return value;
  }

  bytes(): Buffer {
    const end = this.varint() + this.pos;
    const value = Buffer.from(this.buffer.subarray(this.pos, end));
    this.pos = end;
    return value;
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.int64();
    else if (wireType === FIXED64) this.pos += 8;
    else if (wireType === DELIMITED) {
      const length = this.varint();
      this.pos += length;
    }
    else if (wireType === FIXED32) this.pos += 4;
    else throw new Error(`a protobuf answer holds wire type ${wireType}, which this client cannot skip`);
    if (this.pos > this.buffer.length) throw new Error('a protobuf answer ends inside a field');
  }

  private next(): number {
    if (this.pos >= this.buffer.length) throw new Error('a protobuf answer ends inside a field');
    return this.buffer[this.pos++];
  }
}
