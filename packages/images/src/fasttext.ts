// Compiled text decoders: for each message type and JSON form, a function
// generated once (as protobufjs generates its codecs) that goes straight from
// protobuf bytes to CRIT's JSON text, with no intermediate objects. It covers
// what real images contain; on anything unusual (unknown or repeated-message
// fields, packed or mistyped fields, missing required fields, malformed bytes)
// it returns undefined and the caller takes the general path
// (decodeMessage + messageToText), which prints the same text.
import { isUtf8 } from 'node:buffer';
import { ipText } from './forms.js';
import { b64Lines, pyString, qpEncode } from './pyjson.js';
import { messagePlan, type FieldPlan, type MessagePlan } from './schema.js';
import { DICT_TABLES, FLAG_TABLES, flagsToText } from './tables.js';
import { decodeText } from './wire.js';

export type TextDecoder = (buf: Uint8Array, start: number, end: number) => string;

const BAIL = new Error('bail'); // control flow only: never escapes this module
/** read position shared by the helpers and the generated code; high half of the last 64-bit varint */
const S = { p: 0, hi: 0 };

function varint32(buf: Uint8Array, end: number): number {
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (S.p >= end) throw BAIL;
    const b = buf[S.p++];
    v |= (b & 0x7f) << shift;
    if (b < 0x80) return v;
  }
  // longer varints (negative int32 values, malformed input): the general path
  throw BAIL;
}

/** Reads a varint; returns its low 32 bits (as uint), leaves the high ones in S.hi. */
function varint64(buf: Uint8Array, end: number): number {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (S.p >= end) throw BAIL;
    const b = buf[S.p++];
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (7 * i - 32);
    if (b < 0x80) {
      S.hi = hi >>> 0;
      return lo >>> 0;
    }
  }
  throw BAIL;
}

function bytesAt(buf: Uint8Array, end: number): Uint8Array {
  const len = varint32(buf, end) >>> 0;
  if (S.p + len > end) throw BAIL;
  const b = buf.subarray(S.p, S.p + len);
  S.p += len;
  return b;
}

function u64(lo: number, hi: number): bigint | number {
  return hi < 0x200000 ? hi * 4294967296 + lo : (BigInt(hi) << 32n) | BigInt(lo);
}

const H = {
  varint32, varint64, bytesAt, BAIL,
  /** 64-bit varint as a number or bigint, per kind */
  v64(buf: Uint8Array, end: number, kind: string): bigint | number {
    const lo = varint64(buf, end);
    const hi = S.hi;
    if (kind === 'uint64') return u64(lo, hi);
    if (kind === 'int64') return hi & 0x80000000 ? BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)) : u64(lo, hi);
    // sint64: zigzag
    const big = (BigInt(hi) << 32n) | BigInt(lo);
    const v = (big >> 1n) ^ -(big & 1n);
    return v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v;
  },
  fixed32(buf: Uint8Array, end: number): number {
    if (S.p + 4 > end) throw BAIL;
    const v = (buf[S.p] | (buf[S.p + 1] << 8) | (buf[S.p + 2] << 16) | (buf[S.p + 3] << 24)) >>> 0;
    S.p += 4;
    return v;
  },
  fixed64(buf: Uint8Array, end: number): bigint | number {
    const lo = H.fixed32(buf, end);
    return u64(lo, H.fixed32(buf, end));
  },
  str(b: Uint8Array): string {
    return pyString(isUtf8(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') : decodeText(b));
  },
  /** a length-delimited sub-message, through its own compiled decoder */
  msg(dec: TextDecoder, buf: Uint8Array, end: number): string {
    const len = varint32(buf, end) >>> 0;
    const start = S.p;
    if (start + len > end) throw BAIL;
    const text = dec(buf, start, start + len);
    S.p = start + len;
    return text;
  },
  b64: (b: Uint8Array) => pyString(b64Lines(b)),
  qp: (b: Uint8Array) => pyString(qpEncode(b)),
  hex: (v: number | bigint) => (v < 0 ? '"0x-' + (-BigInt(v)).toString(16) + '"' : '"0x' + v.toString(16) + '"'),
  flags: (v: number, table: string) => pyString(flagsToText(v, FLAG_TABLES[table])),
  dict: (v: number, dict: string, field: string) => {
    const name = DICT_TABLES[dict]?.[field]?.[v];
    return name !== undefined ? pyString(name) : String(v);
  },
  dev: (v: number | bigint, odev: boolean) => {
    const d = BigInt(v);
    if (odev) return `"${((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n)}:${(d & 0xffn) | ((d >> 12n) & 0xffffff00n)}"`;
    return `"${d >> 20n}:${d & 0xfffffn}"`;
  },
  /** CRIT prints an address for 1 or 4+ words, the numbers otherwise */
  ipItems: (words: number[]) => (words.length === 1 || words.length >= 4 ? [pyString(ipText(words))] : words.map(String)),
  enumName: (names: Map<number, string>, v: number) => {
    const n = names.get(v);
    return n !== undefined ? pyString(n) : String(v);
  },
};

const cache = new Map<string, TextDecoder | null>();
const compiling = new Set<string>();

/** The compiled decoder of a message type, or null when the type has fields it does not cover. */
export function textDecoder(plan: MessagePlan, pretty: boolean, level: number, hexInherited: boolean): TextDecoder | null {
  const key = `${plan.name}|${pretty ? 1 : 0}|${level}|${hexInherited ? 1 : 0}`;
  let d = cache.get(key);
  if (d === undefined) {
    // a type that contains itself (cgroup_dir_entry) stays on the general path
    if (compiling.has(plan.name)) return null;
    compiling.add(plan.name);
    try {
      d = compile(plan, pretty, level, hexInherited);
    } finally {
      compiling.delete(plan.name);
    }
    cache.set(key, d);
  }
  return d;
}

const WIRE: Record<string, number> = { fixed64: 1, sfixed64: 1, double: 1, string: 2, bytes: 2, message: 2, fixed32: 5, sfixed32: 5, float: 5 };

/** JS expression reading one value of field f at S.p and giving its JSON text (or raw number for ipadd). */
function readExpr(f: FieldPlan, pretty: boolean, level: number, isHex: boolean, consts: unknown[]): string | null {
  const c = (v: unknown) => {
    consts.push(v);
    return `C[${consts.length - 1}]`;
  };
  const human = (raw: string) => {
    if (!pretty) return `String(${raw})`;
    if (isHex) return `H.hex(${raw})`;
    if (f.opts.dev) return `H.dev(${raw}, ${f.opts.odev === true})`;
    if (f.opts.flags) return FLAG_TABLES[f.opts.flags] ? `H.flags(${raw}, ${c(f.opts.flags)})` : `H.hex(${raw})`;
    if (f.opts.dict) return `H.dict(${raw}, ${c(f.opts.dict)}, ${c(f.name)})`;
    return `String(${raw})`;
  };
  switch (f.kind) {
    case 'uint32': return human('(H.varint32(buf, end) >>> 0)');
    case 'int32': return human('(H.varint32(buf, end) | 0)');
    case 'sint32': return human('((n => (n >>> 1) ^ -(n & 1))(H.varint32(buf, end) >>> 0))');
    case 'uint64': case 'int64': case 'sint64': return human(`H.v64(buf, end, ${c(f.kind)})`);
    case 'fixed32': return human('H.fixed32(buf, end)');
    case 'fixed64': return human('H.fixed64(buf, end)');
    case 'bool': return `(H.varint64(buf, end) !== 0 || S.hi !== 0 ? 'true' : 'false')`;
    case 'enum': return `H.enumName(${c(f.enumPlan!.byNumber)}, H.varint32(buf, end) | 0)`;
    case 'string': return 'H.str(H.bytesAt(buf, end))';
    case 'bytes': return f.opts.conv === 'unix_name' ? 'H.qp(H.bytesAt(buf, end))' : 'H.b64(H.bytesAt(buf, end))';
    case 'message': return `H.msg(SUB[${f.id}], buf, end)`;
    default: return null; // float, double, sfixed: not in CRIU's schema; the general path handles them
  }
}

function compile(plan: MessagePlan, pretty: boolean, level: number, hexInherited: boolean): TextDecoder | null {
  const consts: unknown[] = [];
  const nl = (l: number) => JSON.stringify('\n' + ' '.repeat(4 * l));
  const sep = pretty ? JSON.stringify(',') + ' + ' + nl(level + 1) : JSON.stringify(', ');
  const first = pretty ? nl(level + 1) : '""';
  const decls: string[] = [];
  const cases: string[] = [];
  const emits: string[] = [];
  const SUB: Record<number, TextDecoder> = {};
  let requiredMask = 0;
  const bits: string[] = [];
  for (const [i, f] of plan.fields.entries()) {
    const isHex = hexInherited || f.opts.hex === true;
    const ip = pretty && f.opts.ipadd && f.repeated;
    const expr = ip ? '(H.varint32(buf, end) >>> 0)' : readExpr(f, pretty, f.repeated ? level + 2 : level + 1, isHex, consts);
    if (expr === null) return null;
    if (f.kind === 'message') {
      const sub = textDecoder(messagePlan(f.msgName!), pretty, f.repeated ? level + 2 : level + 1, isHex);
      if (!sub) return null;
      SUB[f.id] = sub;
    }
    const v = `v${i}`;
    const tag = (f.id << 3) | (WIRE[f.kind] ?? 0);
    if (f.repeated) {
      decls.push(`let ${v} = null;`);
      cases.push(`case ${tag}: (${v} ??= []).push(${expr}); break;`);
      const items = ip ? `H.ipItems(${v})` : v;
      const list = pretty
        ? `'[' + ${nl(level + 2)} + ${items}.join(',' + ${nl(level + 2)}) + ${nl(level + 1)} + ']'`
        : `'[' + ${items}.join(', ') + ']'`;
      emits.push(`if (${v} !== null) { o += (o ? ${sep} : ${first}) + ${JSON.stringify(pyString(f.name) + ': ')} + ${list}; }`);
    } else {
      decls.push(`let ${v};`);
      // a second occurrence of a sub-message would have to be merged: leave that to the general path
      const set = f.kind === 'message' ? `if (${v} !== undefined) throw H.BAIL; ${v} = ${expr};` : `${v} = ${expr};`;
      if (f.required) {
        bits.push(`if (${v} !== undefined) seen |= ${1 << (requiredMask % 31)};`);
        requiredMask++;
      }
      cases.push(`case ${tag}: ${set} break;`);
      emits.push(`if (${v} !== undefined) { o += (o ? ${sep} : ${first}) + ${JSON.stringify(pyString(f.name) + ': ')} + ${v}; }`);
    }
  }
  if (requiredMask > 31) return null;
  const allRequired = requiredMask ? (2 ** requiredMask - 1) | 0 : 0;
  const close = pretty ? `${nl(level)} + '}'` : `'}'`;
  const src = `
return function decode_${plan.name.replace(/\W/g, '_')}(buf, start, end) {
  S.p = start;
  ${decls.join(' ')}
  while (S.p < end) {
    const tag = H.varint32(buf, end) >>> 0;
    switch (tag) {
      ${cases.join('\n      ')}
      default: throw H.BAIL;
    }
  }
  if (S.p !== end) throw H.BAIL;
  let seen = 0;
  ${bits.join(' ')}
  if (seen !== ${allRequired}) throw H.BAIL;
  let o = '';
  ${emits.join('\n  ')}
  return o ? '{' + o + ${close} : '{}';
};`;
  try {
    return new Function('H', 'S', 'C', 'SUB', src)(H, S, consts, SUB) as TextDecoder;
  } catch {
    return null;
  }
}

/**
 * The JSON text of the message in buf[start, end) (same as messageToText), or
 * undefined when the compiled decoder declines and the general path must be taken.
 */
export function runTextDecoder(d: TextDecoder, buf: Uint8Array, start: number, end: number): string | undefined {
  try {
    return d(buf, start, end);
  } catch (e) {
    if (e === BAIL) return undefined;
    throw e;
  }
}
