// Protobuf wire codec driven by the schema plans, over protobufjs's Reader and
// Writer. It differs from protobufjs's generated codecs where CRIU images need it:
// presence is exact (an optional field is present iff it was on the wire),
// 64-bit integers are bigint, strings that are not UTF-8 survive (as lone
// surrogates U+DC80..U+DCFF, Python's "surrogateescape"), and unknown fields
// are kept as raw bytes under UNKNOWN_KEY so that decode -> encode is lossless.
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs/minimal.js';
import { messagePlan, type FieldPlan, type MessagePlan } from './schema.js';

/** A decoded message: field name -> value, in field-number order. */
export type Message = { [field: string]: FieldValue };
export type Scalar = number | bigint | boolean | string | Buffer;
export type FieldValue = Scalar | Message | FieldValue[] | undefined;

/** Key under which fields unknown to the schema are kept (raw tag + value bytes). */
export const UNKNOWN_KEY = '$unknown';

export class WireError extends Error {}

const { Reader, Writer } = protobuf;

function readVarint64(r: protobuf.Reader): bigint {
  // Split into two 32-bit halves like protobufjs's LongBits, then join once.
  const buf = r.buf;
  let lo = 0;
  let hi = 0;
  let shift = 0;
  let pos = r.pos;
  for (let i = 0; i < 10; i++) {
    if (pos >= r.len) throw new WireError('truncated varint');
    const b = buf[pos++];
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (shift - 32);
    shift += 7;
    if (b < 0x80) {
      r.pos = pos;
      // one BigInt allocation when the value fits a double exactly (addresses do)
      if (hi >>> 0 < 0x200000) return BigInt((hi >>> 0) * 4294967296 + (lo >>> 0));
      return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    }
  }
  throw new WireError('varint longer than 10 bytes');
}

function readFixed64(r: protobuf.Reader): bigint {
  if (r.pos + 8 > r.len) throw new WireError('truncated fixed64');
  const v = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, 8).readBigUInt64LE(0);
  r.pos += 8;
  return v;
}

/** Bytes -> string, keeping every invalid byte as a lone surrogate U+DCxx. */
export function decodeText(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (isUtf8(buf)) return buf.toString('utf8');
  let out = '';
  let i = 0;
  while (i < buf.length) {
    const n = validSequenceLength(buf, i);
    if (n > 0) {
      out += buf.toString('utf8', i, i + n);
      i += n;
    } else {
      out += String.fromCharCode(0xdc00 | buf[i]);
      i++;
    }
  }
  return out;
}

function validSequenceLength(b: Buffer, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  let n: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) [n, min] = [2, 0x80];
  else if (c >= 0xe0 && c <= 0xef) [n, min] = [3, 0x800];
  else if (c >= 0xf0 && c <= 0xf4) [n, min] = [4, 0x10000];
  else return 0;
  if (i + n > b.length) return 0;
  let cp = c & (0xff >> (n + 1));
  for (let k = 1; k < n; k++) {
    if ((b[i + k] & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (b[i + k] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/** string -> bytes, the inverse of decodeText. */
export function encodeText(s: string): Buffer {
  if (!/[\udc80-\udcff]/.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // a lone low surrogate (not preceded by a high one) in U+DC80..U+DCFF is a raw byte
    if (c >= 0xdc80 && c <= 0xdcff && !(i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff)) {
      parts.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.of(c & 0xff));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

function readScalar(r: protobuf.Reader, f: FieldPlan): Scalar {
  switch (f.kind) {
    case 'uint32': return r.uint32();
    case 'int32': case 'enum': return r.int32();
    case 'sint32': return r.sint32();
    case 'fixed32': return r.fixed32();
    case 'sfixed32': return r.sfixed32();
    case 'bool': return readVarint64(r) !== 0n;
    case 'uint64': return readVarint64(r);
    case 'int64': return BigInt.asIntN(64, readVarint64(r));
    case 'sint64': {
      const v = readVarint64(r);
      return (v >> 1n) ^ -(v & 1n);
    }
    case 'fixed64': return readFixed64(r);
    case 'sfixed64': return BigInt.asIntN(64, readFixed64(r));
    case 'double': return r.double();
    case 'float': return r.float();
    case 'string': return decodeText(r.bytes());
    case 'bytes': {
      // a copy: a view would pin the reader's whole window in memory
      return Buffer.from(r.bytes());
    }
    default: throw new WireError(`field ${f.name}: not a scalar`);
  }
}

function wireTypeOf(f: FieldPlan): number {
  switch (f.kind) {
    case 'fixed64': case 'sfixed64': case 'double': return 1;
    case 'string': case 'bytes': case 'message': return 2;
    case 'fixed32': case 'sfixed32': case 'float': return 5;
    default: return 0;
  }
}

function enumValue(f: FieldPlan, n: number): string | number {
  return f.enumPlan!.byNumber.get(n) ?? n;
}

function enumNumber(f: FieldPlan, name: string): number {
  const n = f.enumPlan!.byName.get(name);
  if (n === undefined) throw new WireError(`field ${f.name}: ${name} is not a value of ${f.enumPlan!.name}`);
  return n;
}

/**
 * The fields to decode, by name, nested for sub-messages: `{ tc: { comm: true } }`.
 * Fields left out are skipped on the wire (still bounds-checked), which is
 * what makes reading a few fields of many images cheap (crit x).
 */
export type FieldSelection = { readonly [field: string]: true | FieldSelection };

/**
 * Decodes one message from buf[start, end), or only the selected fields of it.
 * Throws WireError on malformed input.
 */
export function decodeMessage(plan: MessagePlan, buf: Uint8Array, start = 0, end = buf.length, select?: FieldSelection): Message {
  const r = new Reader(buf.subarray(start, end));
  try {
    return readMessage(plan, r, r.len, select);
  } catch (e) {
    // protobufjs's Reader reports malformed input with plain Error/RangeError
    if (e instanceof WireError) throw e;
    throw new WireError(`${(e as Error).message} (at byte ${r.pos} of the entry)`);
  }
}

function readMessage(plan: MessagePlan, r: protobuf.Reader, end: number, select?: FieldSelection): Message {
  const msg: Message = {};
  let unknown: Buffer[] | undefined;
  let sorted = true;
  let lastId = 0;
  while (r.pos < end) {
    const tagStart = r.pos;
    const tag = r.uint32();
    const id = tag >>> 3;
    const wt = tag & 7;
    if (id === 0) throw new WireError(`invalid field number 0 at byte ${tagStart}`);
    const f = plan.byId.get(id);
    const expected = f ? wireTypeOf(f) : -1;
    const wanted = select === undefined || !f ? true : Object.hasOwn(select, f.name) && select[f.name];
    if (!f || !wanted || (wt !== expected && !(f.repeated && wt === 2 && expected !== 2))) {
      r.skipType(wt);
      if (r.pos > end) throw new WireError('field runs past the end of its message');
      if (select === undefined) (unknown ??= []).push(Buffer.from(r.buf.subarray(tagStart, r.pos)));
      continue;
    }
    if (id < lastId) sorted = false;
    lastId = id;
    let value: FieldValue;
    if (f.kind === 'message') {
      const len = r.uint32();
      const subEnd = r.pos + len;
      if (subEnd > end) throw new WireError(`message ${f.name} runs past the end of its parent`);
      const sub = readMessage(messagePlan(f.msgName!), r, subEnd, wanted === true ? undefined : wanted);
      value = sub;
    } else if (f.repeated && wt === 2 && expected !== 2) {
      // packed repeated scalars: accepted on read (re-encoded unpacked)
      const len = r.uint32();
      const subEnd = r.pos + len;
      if (subEnd > end) throw new WireError(`packed field ${f.name} runs past the end`);
      const arr = (msg[f.name] as FieldValue[] | undefined) ?? [];
      while (r.pos < subEnd) {
        const v = readScalar(r, f);
        arr.push(f.kind === 'enum' ? enumValue(f, v as number) : v);
      }
      msg[f.name] = arr;
      continue;
    } else {
      const v = readScalar(r, f);
      value = f.kind === 'enum' ? enumValue(f, v as number) : v;
    }
    if (r.pos > end) throw new WireError(`field ${f.name} runs past the end of its message`);
    if (f.repeated) {
      const arr = msg[f.name] as FieldValue[] | undefined;
      if (arr) arr.push(value);
      else msg[f.name] = [value];
    } else if (f.kind === 'message' && msg[f.name] !== undefined) {
      msg[f.name] = mergeMessages(msg[f.name] as Message, value as Message);
    } else {
      msg[f.name] = value;
    }
  }
  if (r.pos !== end) throw new WireError('message ends inside a field');
  const out = sorted ? msg : reorder(plan, msg);
  if (unknown) out[UNKNOWN_KEY] = Buffer.concat(unknown);
  return out;
}

function mergeMessages(a: Message, b: Message): Message {
  const out: Message = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = Array.isArray(v) && Array.isArray(out[k]) ? [...(out[k] as FieldValue[]), ...v] : v;
  }
  return out;
}

function reorder(plan: MessagePlan, msg: Message): Message {
  const out: Message = {};
  for (const f of plan.fields) if (msg[f.name] !== undefined) out[f.name] = msg[f.name];
  return out;
}

/** The names of required fields missing from msg (protobuf would refuse it on encode). */
export function missingRequired(plan: MessagePlan, msg: Message): string[] {
  return plan.fields.filter((f) => f.required && msg[f.name] === undefined).map((f) => f.name);
}

// ---------------------------------------------------------------- encoding

function longBits(v: bigint): { low: number; high: number } {
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0 };
}

function writeScalar(w: protobuf.Writer, f: FieldPlan, v: Scalar): void {
  switch (f.kind) {
    case 'uint32': w.uint32(v as number); break;
    case 'int32': w.int32(v as number); break;
    case 'enum': w.int32(typeof v === 'string' ? enumNumber(f, v) : (v as number)); break;
    case 'sint32': w.sint32(v as number); break;
    case 'fixed32': w.fixed32(v as number); break;
    case 'sfixed32': w.sfixed32(v as number); break;
    case 'bool': w.bool(v as boolean); break;
    case 'uint64': case 'int64': w.uint64(longBits(v as bigint) as unknown as number); break;
    case 'sint64': {
      const b = v as bigint;
      w.uint64(longBits((b << 1n) ^ (b < 0n ? -1n : 0n)) as unknown as number);
      break;
    }
    case 'fixed64': case 'sfixed64': w.fixed64(longBits(v as bigint) as unknown as number); break;
    case 'double': w.double(v as number); break;
    case 'float': w.float(v as number); break;
    case 'string': w.bytes(encodeText(v as string)); break;
    case 'bytes': w.bytes(v as Buffer); break;
    default: throw new WireError(`field ${f.name}: not a scalar`);
  }
}

/**
 * Encodes a message whose values already have their wire types (numbers, bigint
 * for 64-bit kinds, enum names or numbers, Buffers for bytes): what
 * decodeMessage gives. Fields in number order,
 * repeated fields unpacked, as protobuf-c writes them.
 */
export function encodeMessage(plan: MessagePlan, msg: Message): Uint8Array {
  const w = Writer.create();
  for (const f of plan.fields) {
    const v = msg[f.name];
    if (v === undefined) continue;
    const tag = (f.id << 3) | wireTypeOf(f);
    const items = f.repeated ? (v as FieldValue[]) : [v];
    for (const item of items) {
      w.uint32(tag);
      if (f.kind === 'message') w.bytes(encodeMessage(messagePlan(f.msgName!), item as Message));
      else writeScalar(w, f, item as Scalar);
    }
  }
  const body = w.finish();
  const unknown = msg[UNKNOWN_KEY] as Buffer | undefined;
  return unknown && unknown.length ? Buffer.concat([body, unknown]) : body;
}

