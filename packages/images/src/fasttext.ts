// Compiled text decoders: for each message type and JSON form, a function
// generated once (as protobufjs generates its codecs) that goes straight from
// protobuf bytes to CRIT's JSON text, written as ASCII bytes into a growable
// buffer (CRIT's JSON is pure ASCII: Python's json with ensure_ascii), with no
// intermediate objects or strings on the common paths.
//
// It writes while it reads, which holds for what CRIU (protobuf-c) writes:
// fields in field-number order, each repeated field contiguous. On anything
// else (fields out of order, a field seen twice, a repeated field split by
// another, unknown, packed or mistyped fields, missing required fields,
// malformed bytes) it throws BAIL, the output goes back to where the entry
// began, and the caller takes the general path (decodeMessage +
// messageToText), which prints the same text.
import { ipText } from './forms.js';
import { b64Lines, pyString, qpEncode } from './pyjson.js';
import { messagePlan, type MessagePlan } from './schema.js';
import { DICT_TABLES, FLAG_TABLES, flagsToText, type FlagTable } from './tables.js';
import { decodeText } from './wire.js';

/** Appends the text of the message in buf[start, end) to S.w; throws BAIL to decline. */
export type TextDecoder = (buf: Uint8Array, start: number, end: number) => void;

const BAIL = new Error('bail'); // control flow only: never escapes this module

/**
 * State shared by the helpers and the generated code: p = read position after
 * a helper's varint, hi = its high 32 bits; w = the TextOut being written
 * (generated code keeps its buffer and position in locals, synced around calls).
 *
 * The 32-bit halves of values are kept as signed int32 (x | 0), converted to
 * unsigned only where printed: the JIT compiles arithmetic for the kinds of
 * numbers it has seen, and a uint32 above 2^31 (an address's low half, say,
 * half-way through an image) after only small ones throws that code away.
 */
const S: { p: number; hi: number; w: TextOut } = { p: 0, hi: 0, w: undefined as unknown as TextOut };

/** Makes room for n more bytes after o in the current output; returns its (possibly new) buffer. */
function grow(o: number, n: number): Buffer {
  const w = S.w;
  const b = Buffer.allocUnsafe(Math.max(INITIAL, 2 * w.b.length, o + n));
  w.b.copy(b, 0, 0, o);
  return (w.b = b);
}

/** Reads a varint of up to 10 bytes at p: returns its low 32 bits, leaves the high ones in S.hi, the end in S.p. */
function v64(buf: Uint8Array, p: number, end: number): number {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw BAIL;
    const x = buf[p++];
    if (i < 4) lo |= (x & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (x & 0x0f) << 28;
      hi |= (x & 0x7f) >> 4;
    } else hi |= (x & 0x7f) << (7 * i - 32);
    if (x < 0x80) {
      S.p = p;
      S.hi = hi;
      return lo;
    }
  }
  throw BAIL;
}

/** A 32-bit varint (v64's low half). protobufjs takes a longer one as exactly 10 bytes, whatever they hold: we only accept those. */
function v32(buf: Uint8Array, p: number, end: number): number {
  const v = v64(buf, p, end);
  const n = S.p - p;
  if (n > 5 && n !== 10) throw BAIL;
  return v;
}

/** a short ASCII string (room already made) */
function ws(b: Buffer, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[o + i] = s.charCodeAt(i);
  return o + s.length;
}

/** any ASCII string, at the end of the current output */
function wt(s: string): void {
  const w = S.w;
  let b = w.b;
  const o = w.o;
  if (o + s.length > b.length) b = grow(o, s.length);
  w.o = s.length < 32 ? ws(b, o, s) : o + b.write(s, o, 'latin1');
}

// Digits are written from tables two at a time: fewer steps before the JIT has
// compiled the decoders, which is most of a one-shot run's time.
const DEC2 = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1');
const HEX2 = Buffer.from(Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).join(''), 'latin1');

// The digit writers run the same operations whatever the value (no branch
// taken only by some lengths): code the JIT compiled early never meets an
// operation it has not seen, which would throw it away (deoptimize).
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/** v (0..2^32-1) in decimal, in n digits (zero-padded) ending at b[e] */
function decDigits(b: Buffer, e: number, v: number, n: number): void {
  for (; n > 0; n -= 2) {
    const q = (v / 100) >>> 0;
    const r = 2 * (v - q * 100);
    b[--e] = DEC2[r + 1];
    if (n > 1) b[--e] = DEC2[r];
    v = q;
  }
}

/** dec() of a value of 2^53 or more, apart: BigInt code in dec made its optimizing compile several times slower */
function decBig(b: Buffer, o: number, lo: number, hi: number): number {
  return ws(b, o, ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString());
}

/** the unsigned 64-bit integer hi:lo (int32 bits) in decimal */
function dec(b: Buffer, o: number, lo: number, hi: number): number {
  // top: the digits before the last eight (all of them below 2^32), low: those eight
  let top = 0;
  let low = 0;
  let n8 = 0;
  if (hi === 0) top = lo >>> 0;
  else {
    if (hi < 0 || hi >= 0x200000) return decBig(b, o, lo, hi); // >= 2^53: rare
    // exact in doubles: n < 2^53, top * 1e8 <= n; the division may round, low puts it right
    const n = hi * 4294967296 + lo + (lo < 0 ? 4294967296 : 0);
    top = Math.floor(n / 1e8);
    low = n - top * 1e8;
    if (low < 0) {
      top--;
      low += 1e8;
    } else if (low >= 1e8) {
      top++;
      low -= 1e8;
    }
    n8 = 8;
  }
  const t = ((32 - Math.clz32(top)) * 1233) >>> 12; // floor(log10(2) * bits): the digit count, or one less
  const n = t + (top >= POW10[t] ? 1 : 0) || 1;
  decDigits(b, o + n, top, n);
  decDigits(b, o + n + n8, low, n8);
  return o + n + n8;
}

/** v (int32 bits) in hex, in n digits (zero-padded) ending at b[e] */
function hexDigits(b: Buffer, e: number, v: number, n: number): void {
  for (; n > 0; n -= 2) {
    const x = 2 * (v & 0xff);
    b[--e] = HEX2[x + 1];
    if (n > 1) b[--e] = HEX2[x];
    v >>>= 8;
  }
}

/** hi:lo (int32 bits) in lowercase hex, no prefix */
function x64(b: Buffer, o: number, lo: number, hi: number): number {
  const nh = (35 - Math.clz32(hi)) >>> 2; // 0 for hi = 0
  const nlo = (35 - Math.clz32(lo)) >>> 2 || 1;
  const nl = nh ? 8 : nlo;
  hexDigits(b, o + nh + nl, lo, nl);
  hexDigits(b, o + nh, hi, nh);
  return o + nh + nl;
}

/** a string field's bytes as a JSON string: copied when plain printable ASCII, else through pyString */
function str(buf: Uint8Array, s: number, e: number): void {
  const w = S.w;
  let b = w.b;
  let o = w.o;
  if (o + e - s + 2 > b.length) b = grow(o, e - s + 2);
  b[o++] = 0x22;
  for (let i = s; i < e; i++) {
    const c = buf[i];
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return wt(pyString(decodeText(buf.subarray(s, e))));
    b[o++] = c;
  }
  b[o++] = 0x22;
  w.o = o;
}

interface FlagCache {
  table: FlagTable;
  text: Map<number, Uint8Array>;
}

const H = {
  BAIL, grow, v32, v64, ws, dec, x64, str,
  /** called as set.call(b, src, o): b.set is looked up in Buffer.prototype, too large for the JIT to inline the lookup */
  set: Uint8Array.prototype.set,
  /** the quoted flags text of v, cached per table (a few distinct values per image; capped against hostile input) */
  flags(cache: FlagCache, v: number): Uint8Array {
    let t = cache.text.get(v);
    if (t === undefined) {
      t = Buffer.from(pyString(flagsToText(v >>> 0, cache.table)), 'latin1');
      if (cache.text.size < 4096) cache.text.set(v, t);
    }
    return t;
  },
  b64: (buf: Uint8Array, s: number, e: number) => wt(pyString(b64Lines(buf.subarray(s, e)))),
  qp: (buf: Uint8Array, s: number, e: number) => wt(pyString(qpEncode(buf.subarray(s, e)))),
  dev(v: number, odev: boolean): string {
    v >>>= 0;
    if (odev) return `"${(v >>> 8) & 0xfff}:${(v & 0xff) | ((v >>> 12) & 0xfff00)}"`;
    return `"${v >>> 20}:${v & 0xfffff}"`;
  },
  /** a pretty ip list's items: CRIT prints an address for 1 or 4+ words, the numbers otherwise */
  ip(words: number[], sep: string): void {
    wt(words.length === 1 || words.length >= 4 ? pyString(ipText(words)) : words.map((x) => x >>> 0).join(sep));
  },
};

// Constant pieces of text and name tables, shared by all decoders (about 200
// are compiled by the start-up snapshot's warm-up, whose heap every run loads).
const pieceBytes = new Map<string, Buffer>();
const nameTables = new Map<object, Map<number, Uint8Array>>();

/** ASCII bytes of a constant piece of text */
function bytes(s: string): Buffer {
  let b = pieceBytes.get(s);
  if (!b) pieceBytes.set(s, (b = Buffer.from(s, 'latin1')));
  return b;
}

/** number -> quoted name, as ASCII bytes, once per table */
function names(table: object, pairs: () => Iterable<[number, string]>): Map<number, Uint8Array> {
  let m = nameTables.get(table);
  if (!m) nameTables.set(table, (m = new Map([...pairs()].map(([k, name]) => [k, bytes(pyString(name))]))));
  return m;
}

const cache = new Map<string, TextDecoder | null>();
const compiling = new Set<string>();
const flagCaches = new Map<string, FlagCache>();

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

const WIRE: Record<string, number> = { fixed64: 1, string: 2, bytes: 2, message: 2, fixed32: 5 };

// Reading one value into v (low 32 bits) and hi (high 32 bits); one-byte varints inline.
const READ32 = 'if (p >= end) throw H.BAIL; v = buf[p]; if (v < 128) p++; else { v = H.v32(buf, p, end); p = S.p; }';
const READ64 = 'if (p >= end) throw H.BAIL; v = buf[p]; if (v < 128) { p++; hi = 0; } else { v = H.v64(buf, p, end); p = S.p; hi = S.hi; }';
const FIXED32 = 'if (p + 4 > end) throw H.BAIL; v = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24); p += 4;';
const FIXED64 = 'if (p + 8 > end) throw H.BAIL; v = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24); hi = buf[p + 4] | (buf[p + 5] << 8) | (buf[p + 6] << 16) | (buf[p + 7] << 24); p += 8;';
// Signed kinds: neg and the magnitude in v (and hi).
const SIGN32 = 'neg = v < 0; if (neg) v = -v;';
const SIGN: Record<string, string> = {
  uint32: '', fixed32: '', uint64: '', fixed64: '',
  int32: SIGN32,
  sint32: 'v = (v >>> 1) ^ -(v & 1); ' + SIGN32,
  int64: 'neg = hi < 0; if (neg) { v = -v | 0; hi = (~hi + (v === 0 ? 1 : 0)) | 0; }',
  sint64: 'neg = (v & 1) !== 0; v = (v >>> 1) | (hi << 31); hi >>>= 1; if (neg) { v = (v + 1) | 0; if (v === 0) hi++; }',
};
const READ: Record<string, string> = {
  uint32: READ32, int32: READ32, sint32: READ32, fixed32: FIXED32, uint64: READ64, int64: READ64, sint64: READ64, fixed64: FIXED64,
};
// Writing v (and hi) in decimal; one digit inline.
const DEC32 = 'if (v >= 0 && v < 10) b[o++] = 48 + v; else o = H.dec(b, o, v, 0);';
const DEC64 = 'if (hi === 0 && v >= 0 && v < 10) b[o++] = 48 + v; else o = H.dec(b, o, v, hi);';
/** the room every field write may take beyond its constant pieces: a 64-bit number with sign, quotes and 0x */
const VALUE_ROOM = 32;

/**
 * Generates the decoder of one message type and form. Fields are found through
 * tables indexed by tag (key text, required bit, list or not), and the value
 * code is generated once per distinct form (fields of the same form share one
 * `case`): the function stays small, so the JIT compiles it early and fast.
 */
function compile(plan: MessagePlan, pretty: boolean, level: number, hexInherited: boolean): TextDecoder | null {
  const nl = (l: number) => (pretty ? '\n' + ' '.repeat(4 * l) : '');
  const fieldSep = pretty ? ',' : ', ';
  const itemSep = pretty ? ',' + nl(level + 2) : ', ';
  const listClose = nl(level + 1) + ']';
  const objClose = nl(level) + '}';
  const n = plan.fields.length;
  const maxTag = Math.max(0, ...plan.fields.map((f) => (f.id << 3) | 7));
  const T = {
    /** tag -> field index, -1 for tags not in the schema (or with another wire type) */
    IDX: new Int16Array(maxTag + 1).fill(-1),
    /** the field's key (after a newline and indent when pretty), written after the separator from the field before */
    KEY: [] as Buffer[],
    REQ: new Int32Array(n),
    /** 1: a list, 2: a pretty ip list (printed when it ends) */
    LST: new Int8Array(n),
    /** the field's table: flag names, dict or enum names, sub-message decoder */
    P: [] as unknown[],
    ITEMSEP: itemSep,
    /** constant pieces of text written by the generated code */
    K: [] as Buffer[],
  };
  /** code writing constant text (room already made), the same for the same text: short ones byte by byte */
  const pieces = new Map<string, number>();
  const put = (text: string) => {
    if (text.length <= 4) return [...text].map((ch) => `b[o++] = ${ch.charCodeAt(0)};`).join(' ');
    let k = pieces.get(text);
    if (k === undefined) pieces.set(text, (k = T.K.push(bytes(text)) - 1));
    return `set.call(b, K[${k}], o); o += ${text.length};`;
  };
  /** value code -> the fields printed by it */
  const forms = new Map<string, number[]>();
  let room = listClose.length + objClose.length;
  let required = 0;
  for (const [i, f] of plan.fields.entries()) {
    const isHex = hexInherited || f.opts.hex === true;
    const ip = pretty && f.opts.ipadd === true && f.repeated;
    if (ip && f.kind !== 'uint32') return null; // (criu).ipadd is on uint32 fields only in CRIU's schema
    let value: string;
    switch (f.kind) {
      case 'uint32': case 'int32': case 'sint32': case 'fixed32': case 'uint64': case 'int64': case 'sint64': case 'fixed64': {
        const read = READ[f.kind] + ' ' + SIGN[f.kind];
        const minus = SIGN[f.kind] ? 'if (neg) b[o++] = 45; ' : '';
        // the human form, in intToJson's order
        const opts = f.opts;
        const form = !pretty ? 'dec' : isHex ? 'hex' : opts.dev ? 'dev' : opts.flags ? (FLAG_TABLES[opts.flags] ? 'flags' : 'hex') : opts.dict ? 'dict' : 'dec';
        if (form !== 'dec' && form !== 'hex' && f.kind !== 'uint32') return null; // dev, flags and dict forms are on uint32 fields only in CRIU's schema
        if (ip) value = `${READ32} (ipw ??= []).push(v);`;
        else if (form === 'dec') value = `${read} ${minus}${f.wide ? DEC64 : DEC32}`;
        else if (form === 'hex') value = `${read} ${put('"0x')} ${minus}o = H.x64(b, o, v, ${f.wide ? 'hi' : 0}); b[o++] = 34;`;
        else if (form === 'dev') value = `${read} o = H.ws(b, o, H.dev(v, ${opts.odev === true}));`;
        else if (form === 'flags') {
          let fc = flagCaches.get(opts.flags!);
          if (!fc) flagCaches.set(opts.flags!, (fc = { table: FLAG_TABLES[opts.flags!], text: new Map() }));
          T.P[i] = fc;
          value = `${read} t = H.flags(P[i], v); if (o + t.length > b.length) b = H.grow(o, t.length); set.call(b, t, o); o += t.length;`;
        } else {
          const table = DICT_TABLES[opts.dict!]?.[f.name] ?? {};
          T.P[i] = names(table, () => Object.entries(table).map(([k, name]) => [Number(k), name]));
          value = `${read} t = P[i].get(v); if (t !== undefined) { set.call(b, t, o); o += t.length; } else ${DEC32}`;
        }
        break;
      }
      case 'bool':
        value = `${READ64} if (v !== 0 || hi !== 0) { ${put('true')} } else { ${put('false')} }`;
        break;
      case 'enum':
        T.P[i] = names(f.enumPlan!, () => f.enumPlan!.byNumber);
        value = `${READ32} t = P[i].get(v); if (t !== undefined) { set.call(b, t, o); o += t.length; } else { if (v < 0) { b[o++] = 45; v = -v; } ${DEC32} }`;
        break;
      case 'string': case 'bytes': case 'message': {
        let call: string;
        if (f.kind === 'string') call = 'H.str';
        else if (f.kind === 'bytes') call = f.opts.conv === 'unix_name' ? 'H.qp' : 'H.b64';
        else {
          T.P[i] = textDecoder(messagePlan(f.msgName!), pretty, f.repeated ? level + 2 : level + 1, isHex);
          if (!T.P[i]) return null;
          call = 'P[i]';
        }
        value = `${READ32} if (v < 0 || p + v > end) throw H.BAIL; w.o = o; ${call}(buf, p, p + v); p += v; o = w.o; b = w.b;`;
        break;
      }
      default:
        return null; // float, double, sfixed: not in CRIU's schema; the general path handles them
    }
    // dict and enum names are written without making room: ROOM holds them
    for (const t of (T.P[i] instanceof Map ? T.P[i].values() : []) as Iterable<Uint8Array>) room = Math.max(room, t.length + VALUE_ROOM);
    T.KEY[i] = bytes(nl(level + 1) + pyString(f.name) + ': ' + (f.repeated ? '[' + nl(level + 2) : ''));
    room = Math.max(room, listClose.length + fieldSep.length + T.KEY[i].length + VALUE_ROOM, itemSep.length + VALUE_ROOM);
    T.IDX[(f.id << 3) | (WIRE[f.kind] ?? 0)] = i;
    if (f.required) T.REQ[i] = 1 << required++;
    T.LST[i] = ip ? 2 : f.repeated ? 1 : 0;
    forms.set(value, [...(forms.get(value) ?? []), i]);
  }
  if (required > 31) return null;
  const lists = T.LST.some((l) => l !== 0);
  const ips = T.LST.includes(2);
  const ipFlush = 'if (lst === 2) { w.o = o; H.ip(ipw, ITEMSEP); ipw = null; o = w.o; b = w.b; if (o + ROOM > b.length) b = H.grow(o, ROOM); } ';
  const closeList = `if (lst !== 0) { ${ips ? ipFlush : ''}${put(listClose)} lst = 0; }`;
  const cases = [...forms].map(([value, fields]) => `${fields.map((i) => `case ${i}:`).join(' ')}\n        ${value}\n        break;`);
  const src = `
const { IDX, KEY, REQ, LST, P, ITEMSEP, K } = T;
const ROOM = ${room}, set = H.set;
return function decode_${plan.name.replace(/\W/g, '_')}(buf, start, end) {
  const w = S.w;
  let p = start, b = w.b, o = w.o, f = -1, seen = 0, v = 0, hi = 0, neg = false, t;${lists ? ' let lst = 0;' : ''}${ips ? ' let ipw = null;' : ''}
  if (o + ROOM > b.length) b = H.grow(o, ROOM);
  b[o++] = 123;
  while (p < end) {
    let i = buf[p];
    if (i < 128) p++; else { i = H.v32(buf, p, end); p = S.p; }
    i = i >= 0 && i <= ${maxTag} ? IDX[i] : -1;
    if (i < 0) throw H.BAIL;
    if (o + ROOM > b.length) b = H.grow(o, ROOM);
    if (i !== f) {
      if (i < f) throw H.BAIL;
      ${lists ? closeList : ''}
      if (f >= 0) { ${put(fieldSep)} }
      t = KEY[i];
      set.call(b, t, o);
      o += t.length;
      f = i;
      seen |= REQ[i];${lists ? '\n      lst = LST[i];' : ''}
    } else ${lists ? `if (lst === 1) { ${put(itemSep)} } else if (lst === 0) throw H.BAIL;` : 'throw H.BAIL;'}
    switch (i) {
      ${cases.join('\n      ')}
    }
  }
  if (seen !== ${required ? (2 ** required - 1) | 0 : 0}) throw H.BAIL;
  if (o + ROOM > b.length) b = H.grow(o, ROOM);
  ${lists ? closeList : ''}
  if (f < 0) b[o++] = 125; else { ${put(objClose)} }
  w.o = o;
};`;
  try {
    return new Function('H', 'S', 'T', src)(H, S, T) as TextDecoder;
  } catch {
    return null;
  }
}

/** Room of a TextOut at its first write: grown (doubling) for larger entries. */
const INITIAL = 1 << 18;
const EMPTY = Buffer.alloc(0);

/** Where JSON text is built: ASCII bytes, filled by compiled decoders and by general-path text. */
export class TextOut {
  // allocated by the first write, not here: so the field is written before any
  // code is compiled with it, and growing later does not deoptimize that code
  b: Buffer = EMPTY;
  /** bytes written */
  o = 0;

  /** Appends ASCII text (the general path's). */
  text(s: string): void {
    S.w = this;
    wt(s);
  }

  /** Makes room for n more bytes now. */
  reserve(n: number): void {
    if (this.o + n > this.b.length) {
      S.w = this;
      grow(this.o, n);
    }
  }

  /** Appends ASCII bytes. */
  bytes(src: Uint8Array): void {
    this.reserve(src.length);
    H.set.call(this.b, src, this.o);
    this.o += src.length;
  }

  /**
   * Appends the text of the message in buf[start, end) through a compiled
   * decoder; false, with nothing appended, when it declines (the general path must be taken).
   */
  run(d: TextDecoder, buf: Uint8Array, start: number, end: number): boolean {
    const o = this.o;
    S.w = this;
    try {
      d(buf, start, end);
      return true;
    } catch (e) {
      if (e !== BAIL) throw e;
      this.o = o;
      return false;
    }
  }

  /** The text written so far, the last of it: the buffer is let go. */
  take(): string {
    const s = this.b.toString('latin1', 0, this.o);
    this.b = EMPTY;
    this.o = 0;
    return s;
  }

  /**
   * The text written so far in pieces of max bytes, while there are that many
   * (one large entry makes many: small strings are cheap, large ones are not);
   * the rest stays, moved to the start.
   */
  *pieces(max: number): Generator<string> {
    let r = 0;
    for (; this.o - r >= max; r += max) yield this.b.toString('latin1', r, r + max);
    if (r === 0) return;
    this.b.copyWithin(0, r, this.o);
    this.o -= r;
  }
}
