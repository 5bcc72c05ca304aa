// Message <-> JSON, in CRIT's two forms: plain (decode) and pretty (decode
// --pretty, show). Human forms come only from the schema's (criu) options.
// fromJSON is the inverse of both forms, and also accepts native values
// (bigint, Buffer) so that programs can build images without going through text.
import { createRequire } from 'node:module';
import { ImageError } from './errors.js';
import { b64Lines, fromB64, pyString, qpDecode, qpEncode, type Json } from './pyjson.js';
import { messagePlan, type FieldPlan, type MessagePlan } from './schema.js';
import { DICT_TABLES, FLAG_TABLES, flagsToText } from './tables.js';
import { UNKNOWN_KEY, type FieldValue, type Message, type Scalar } from './wire.js';

// ip-address is loaded on first use: most runs never print an address
type IpAddress = typeof import('ip-address');
let ipAddressModule: IpAddress | undefined;
const ip = (): IpAddress => (ipAddressModule ??= createRequire(import.meta.url)('ip-address') as IpAddress);

// ------------------------------------------------------------ to JSON

function hex(v: number | bigint): string {
  return v < 0 ? '0x-' + (-BigInt(v)).toString(16) : '0x' + v.toString(16);
}

function devText(f: FieldPlan, v: number | bigint): string {
  const d = BigInt(v);
  if (f.opts.odev) {
    const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n);
    const minor = (d & 0xffn) | ((d >> 12n) & 0xffffff00n);
    return `${major}:${minor}`;
  }
  return `${d >> 20n}:${d & 0xfffffn}`;
}

function ntohl(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** CRIT's ipadd form: one u32 -> IPv4, otherwise IPv6 from the first four. */
export function ipText(words: number[]): string {
  if (words.length === 1) return ip().Address4.fromInteger(ntohl(words[0])).correctForm();
  const big = words.slice(0, 4).reduce((acc, w) => (acc << 32n) | BigInt(ntohl(w)), 0n);
  return ip().Address6.fromBigInt(big).correctForm();
}

function intToJson(f: FieldPlan, v: number | bigint, pretty: boolean, isHex: boolean): Json {
  if (!pretty) return v;
  if (isHex) return hex(v);
  if (f.opts.dev) return devText(f, v);
  if (f.opts.flags) {
    const table = FLAG_TABLES[f.opts.flags];
    return table ? flagsToText(Number(v), table) : hex(v);
  }
  if (f.opts.dict) {
    const name = DICT_TABLES[f.opts.dict]?.[f.name]?.[Number(v)];
    if (name !== undefined) return name;
  }
  return v;
}

function scalarToJson(f: FieldPlan, v: Scalar, pretty: boolean, isHex: boolean): Json {
  switch (typeof v) {
    case 'number': case 'bigint':
      return f.kind === 'enum' ? v : intToJson(f, v, pretty, isHex);
    case 'string': case 'boolean':
      return v;
  }
  // bytes
  return f.opts.conv === 'unix_name' ? qpEncode(v) : b64Lines(v);
}

function valueToJson(f: FieldPlan, v: FieldValue, pretty: boolean, isHex: boolean): Json {
  if (f.kind === 'message') return messageToJson(messagePlan(f.msgName!), v as Message, pretty, isHex);
  return scalarToJson(f, v as Scalar, pretty, isHex);
}

/** One message as CRIT prints it (plain or pretty). hexInherited: an outer field was (criu).hex. */
export function messageToJson(plan: MessagePlan, msg: Message, pretty: boolean, hexInherited = false): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const f of plan.fields) {
    const v = msg[f.name];
    if (v === undefined) continue;
    const isHex = hexInherited || f.opts.hex === true;
    if (f.repeated) {
      const arr = v as FieldValue[];
      if (arr.length === 0) continue;
      if (pretty && f.opts.ipadd && (arr.length === 1 || arr.length >= 4)) out[f.name] = [ipText(arr as number[])];
      else out[f.name] = arr.map((x) => valueToJson(f, x, pretty, isHex));
    } else out[f.name] = valueToJson(f, v, pretty, isHex);
  }
  const unknown = msg[UNKNOWN_KEY] as Buffer | undefined;
  if (unknown) out[UNKNOWN_KEY] = b64Lines(unknown);
  return out;
}

const NEWLINES: string[] = [];
const newline = (level: number) => (NEWLINES[level] ??= '\n' + ' '.repeat(4 * level));

function scalarText(v: Json): string {
  return typeof v === 'string' ? pyString(v) : String(v);
}

function valueToText(f: FieldPlan, v: FieldValue, pretty: boolean, level: number, isHex: boolean): string {
  if (f.kind === 'message') return messageToText(messagePlan(f.msgName!), v as Message, pretty, level, isHex);
  return scalarText(scalarToJson(f, v as Scalar, pretty, isHex));
}

/**
 * messageToJson and Python's json.dumps in one pass, without building objects:
 * the hot path of decode and show. level = nesting depth of this object
 * (pretty form); tail = extra [key, JSON text] pairs appended (the entry's "extra").
 */
export function messageToText(plan: MessagePlan, msg: Message, pretty: boolean, level = 0, hexInherited = false, tail: Array<[string, string]> = []): string {
  let out = '';
  const sep = pretty ? ',' + newline(level + 1) : ', ';
  const add = (key: string, text: string) => {
    out += (out ? sep : pretty ? newline(level + 1) : '') + pyString(key) + ': ' + text;
  };
  for (const f of plan.fields) {
    const v = msg[f.name];
    if (v === undefined) continue;
    const isHex = hexInherited || f.opts.hex === true;
    if (!f.repeated) {
      add(f.name, valueToText(f, v, pretty, level + 1, isHex));
      continue;
    }
    const arr = v as FieldValue[];
    if (arr.length === 0) continue;
    const items = pretty && f.opts.ipadd && (arr.length === 1 || arr.length >= 4)
      ? [pyString(ipText(arr as number[]))]
      : arr.map((x) => valueToText(f, x, pretty, level + 2, isHex));
    add(f.name, pretty ? '[' + newline(level + 2) + items.join(',' + newline(level + 2)) + newline(level + 1) + ']' : '[' + items.join(', ') + ']');
  }
  const unknown = msg[UNKNOWN_KEY] as Buffer | undefined;
  if (unknown) add(UNKNOWN_KEY, pyString(b64Lines(unknown)));
  for (const [k, text] of tail) add(k, text);
  return out ? '{' + out + (pretty ? newline(level) : '') + '}' : '{}';
}

// ------------------------------------------------------------ from JSON

const RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n], sint32: [-(2n ** 31n), 2n ** 31n - 1n], sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n], fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n], sint64: [-(2n ** 63n), 2n ** 63n - 1n], sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n], fixed64: [0n, 2n ** 64n - 1n], enum: [-(2n ** 31n), 2n ** 31n - 1n],
};

function fail(path: string, msg: string): never {
  throw new ImageError(msg, { path });
}

/** Python's int(text, 0): optional sign, 0x/0o/0b prefixes, underscores between digits. */
export function parseIntLiteral(text: string): bigint | undefined {
  const m = /^\s*([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?0)*|[1-9](?:_?[0-9])*)\s*$/.exec(text);
  if (!m) return undefined;
  const v = BigInt(m[2].replace(/_/g, '').replace(/^0[oO]/, '0o').replace(/^0[xX]/, '0x').replace(/^0[bB]/, '0b'));
  return m[1] === '-' ? -v : v;
}

function parseDev(f: FieldPlan, text: string, path: string): bigint {
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!m) fail(path, `expected a device number "major:minor", got ${JSON.stringify(text)}`);
  const major = BigInt(m[1]);
  const minor = BigInt(m[2]);
  if (f.opts.odev) return ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
  return (major << 20n) | minor;
}

function parseFlags(table: readonly (readonly [string, number])[], text: string, path: string): bigint {
  if (text === '') return 0n;
  let sum = 0n;
  for (const part of text.split('|').map((p) => p.trim())) {
    const bit = table.find(([name]) => name === part)?.[1];
    const v = bit !== undefined ? BigInt(bit) : parseIntLiteral(part);
    if (v === undefined) {
      fail(path, `unknown flag ${JSON.stringify(part)} (known: ${table.map(([n]) => n).filter((n) => !n.endsWith('_NONE')).join(', ')})`);
    }
    sum += v;
  }
  return sum;
}

function intFromJson(f: FieldPlan, v: unknown, path: string): bigint {
  let n: bigint | undefined;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(path, `expected an integer, got ${v}`);
    n = BigInt(v);
  } else if (typeof v === 'boolean') n = v ? 1n : 0n;
  else if (typeof v === 'string') {
    if (f.opts.dev && v.includes(':')) n = parseDev(f, v, path);
    else if (f.opts.flags && FLAG_TABLES[f.opts.flags]) n = parseFlags(FLAG_TABLES[f.opts.flags], v, path);
    else {
      const table = f.opts.dict ? DICT_TABLES[f.opts.dict]?.[f.name] : undefined;
      const byName = table ? Object.entries(table).find(([, name]) => name === v)?.[0] : undefined;
      n = byName !== undefined ? BigInt(byName) : parseIntLiteral(v);
      if (n === undefined) {
        const hint = table ? ` or one of ${Object.values(table).join(', ')}` : '';
        fail(path, `expected an integer (decimal, 0x.., 0o.., 0b..)${hint}, got ${JSON.stringify(v)}`);
      }
    }
  } else fail(path, `expected an integer, got ${describe(v)}`);
  const [lo, hi] = RANGES[f.kind];
  if (n < lo || n > hi) fail(path, `value ${n} is out of range for ${f.kind} (${lo}..${hi})`);
  return n;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (Buffer.isBuffer(v)) return 'bytes';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function scalarFromJson(f: FieldPlan, v: unknown, path: string): Scalar {
  switch (f.kind) {
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1 || v === 0n || v === 1n) return Boolean(v);
      return fail(path, `expected true or false, got ${describe(v)}`);
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'bigint') return String(v);
      return fail(path, `expected a string, got ${describe(v)}`);
    case 'bytes':
      if (Buffer.isBuffer(v)) return v;
      if (v instanceof Uint8Array) return Buffer.from(v);
      if (typeof v !== 'string') return fail(path, `expected ${f.opts.conv === 'unix_name' ? 'quoted-printable text' : 'base64 text'}, got ${describe(v)}`);
      if (f.opts.conv === 'unix_name') return qpDecode(v);
      try {
        return fromB64(v);
      } catch (e) {
        return fail(path, (e as Error).message);
      }
    case 'enum': {
      const ep = f.enumPlan!;
      if (typeof v === 'string') {
        const n = ep.byName.get(v);
        if (n === undefined) fail(path, `unknown ${ep.name} value ${JSON.stringify(v)} (known: ${[...ep.byName.keys()].join(', ')})`);
        return n;
      }
      return Number(intFromJson(f, v, path));
    }
    case 'double': case 'float':
      if (typeof v !== 'number') fail(path, `expected a number, got ${describe(v)}`);
      return v;
    default: {
      const n = intFromJson(f, v, path);
      return f.wide ? n : Number(n);
    }
  }
}

function ipFromJson(text: string, path: string): number[] {
  const htonl = ntohl;
  const { Address4, Address6 } = ip();
  if (Address4.isValid(text)) return [htonl(Number(new Address4(text).bigInt()))];
  if (Address6.isValid(text)) {
    const big = new Address6(text).bigInt();
    return [96n, 64n, 32n, 0n].map((s) => htonl(Number((big >> s) & 0xffffffffn)));
  }
  return fail(path, `not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
}

/** The inverse of messageToJson (either form, or native values). Errors carry the JSON path. */
export function messageFromJson(plan: MessagePlan, obj: unknown, path: string): Message {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || Buffer.isBuffer(obj)) {
    fail(path, `expected an object for ${plan.name}, got ${describe(obj)}`);
  }
  const src = obj as Record<string, unknown>;
  const msg: Message = {};
  for (const f of plan.fields) {
    const v = src[f.name];
    if (v === undefined) continue;
    const fpath = `${path}.${f.name}`;
    if (f.repeated) {
      if (!Array.isArray(v)) fail(fpath, `expected a list, got ${describe(v)}`);
      if (v.length === 0) continue;
      if (f.opts.ipadd && typeof v[0] === 'string') msg[f.name] = ipFromJson(v[0], `${fpath}[0]`);
      else msg[f.name] = v.map((x, i) => fieldFromJson(f, x, `${fpath}[${i}]`));
    } else msg[f.name] = fieldFromJson(f, v, fpath);
  }
  const unknown = src[UNKNOWN_KEY];
  if (unknown !== undefined) {
    msg[UNKNOWN_KEY] = Buffer.isBuffer(unknown) ? unknown : (scalarFromJson({ ...UNKNOWN_FIELD }, unknown, `${path}.${UNKNOWN_KEY}`) as Buffer);
  }
  const missing = plan.fields.filter((f) => f.required && msg[f.name] === undefined).map((f) => f.name);
  if (missing.length) fail(path, `${plan.name} is missing required field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return msg;
}

const UNKNOWN_FIELD: FieldPlan = { name: UNKNOWN_KEY, id: 0, kind: 'bytes', repeated: false, required: false, wide: false, opts: {} };

function fieldFromJson(f: FieldPlan, v: unknown, path: string): FieldValue {
  if (f.kind === 'message') return messageFromJson(messagePlan(f.msgName!), v, path);
  return scalarFromJson(f, v, path);
}
