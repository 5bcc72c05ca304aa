// Text forms exactly as upstream CRIT prints them with Python's json, base64 and
// quopri modules: these rules are what make our output byte-identical.

/** A JSON value as we print it: integers may be bigint. */
export type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

// Characters that Python's json (ensure_ascii) prints as themselves.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** A JSON string literal with Python's ensure_ascii escaping (lowercase \uXXXX). */
export function pyString(s: string): string {
  if (PLAIN.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && ch !== '"' && ch !== '\\') out += ch;
    else out += SHORT[ch] ?? '\\u' + c.toString(16).padStart(4, '0');
  }
  return out + '"';
}

/**
 * Serializes like Python's json.dumps: indent undefined -> one line with ", "
 * and ": "; indent n -> n spaces per level, "," at line ends, empty containers
 * as [] and {}.
 */
export function pyDumps(value: Json, indent?: number, level = 0): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string': return pyString(value);
    case 'number': case 'bigint': return String(value);
    case 'boolean': return value ? 'true' : 'false';
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (indent === undefined) return '[' + value.map((v) => pyDumps(v)).join(', ') + ']';
    const pad = '\n' + ' '.repeat(indent * (level + 1));
    return '[' + pad + value.map((v) => pyDumps(v, indent, level + 1)).join(',' + pad) + '\n' + ' '.repeat(indent * level) + ']';
  }
  const keys = Object.keys(value);
  if (keys.length === 0) return '{}';
  if (indent === undefined) return '{' + keys.map((k) => pyString(k) + ': ' + pyDumps(value[k])).join(', ') + '}';
  const pad = '\n' + ' '.repeat(indent * (level + 1));
  return '{' + pad + keys.map((k) => pyString(k) + ': ' + pyDumps(value[k], indent, level + 1)).join(',' + pad) + '\n' + ' '.repeat(indent * level) + '}';
}

/** Python's base64.encodebytes: 76-character lines, each ending in "\n"; "" for no data. */
export function b64Lines(data: Uint8Array): string {
  if (data.length === 0) return '';
  const s = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  let out = '';
  for (let i = 0; i < s.length; i += 76) out += s.slice(i, i + 76) + '\n';
  return out;
}

/** Decodes base64 text (line breaks and spaces allowed); throws on other characters. */
export function fromB64(text: string): Buffer {
  const compact = text.replace(/[\s]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw new Error('not valid base64 data');
  }
  return Buffer.from(compact, 'base64');
}

/** Python's quopri.encodestring (binascii.b2a_qp, quotetabs off, no header mode). */
export function qpEncode(data: Uint8Array): string {
  const MAX = 76;
  const n = data.length;
  const firstNl = data.indexOf(0x0a);
  const crlf = firstNl > 0 && data[firstNl - 1] === 0x0d;
  const lineBreak = crlf ? '\r\n' : '\n';
  let out = '';
  let lineLen = 0;
  const hex = (b: number) => '=' + b.toString(16).toUpperCase().padStart(2, '0');
  for (let i = 0; i < n; i++) {
    const c = data[i];
    const atLineStart = lineLen === 0;
    const next = i + 1 < n ? data[i + 1] : -1;
    const escape =
      c > 126 ||
      c === 0x3d ||
      (c === 0x2e && atLineStart && (next === -1 || next === 0x0a || next === 0x0d || next === 0)) ||
      ((c === 0x20 || c === 0x09) && i + 1 === n) ||
      (c < 33 && c !== 0x0d && c !== 0x0a && c !== 0x20 && c !== 0x09);
    const isBreak = c === 0x0a || (c === 0x0d && next === 0x0a);
    if (escape && !isBreak) {
      if (lineLen + 3 >= MAX) {
        out += '=' + lineBreak;
        lineLen = 0;
      }
      out += hex(c);
      lineLen += 3;
    } else if (isBreak) {
      const last = out.length ? out.charCodeAt(out.length - 1) : -1;
      if (last === 0x20 || last === 0x09) out = out.slice(0, -1) + hex(last);
      out += lineBreak;
      lineLen = 0;
      if (c === 0x0d) i++;
    } else {
      if (i + 1 !== n && next !== 0x0a && lineLen + 1 >= MAX) {
        out += '=' + lineBreak;
        lineLen = 0;
      }
      out += String.fromCharCode(c);
      lineLen++;
    }
  }
  return out;
}

/** Python's quopri.decodestring (binascii.a2b_qp). */
export function qpDecode(text: string): Buffer {
  const out: number[] = [];
  const s = Buffer.from(text, 'latin1');
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== 0x3d) {
      out.push(c);
      continue;
    }
    if (i + 1 >= s.length) break; // "=" at the end: dropped
    const a = s[i + 1];
    if (a === 0x0a) { i += 1; continue; } // soft line break
    if (a === 0x0d && s[i + 2] === 0x0a) { i += 2; continue; }
    const h = s.toString('latin1', i + 1, i + 3);
    if (/^[0-9a-fA-F]{2}$/.test(h)) {
      out.push(parseInt(h, 16));
      i += 2;
    } else out.push(c);
  }
  return Buffer.from(out);
}

/** Python's "%d" / "%.1f" of CRIT's human_readable() size (round half to even on the binary value). */
export function humanSize(bytes: number): string {
  let num = bytes;
  for (const unit of ['', 'K', 'M', 'G', 'T', 'P', 'E', 'Z']) {
    if (num < 1024) return Number.isInteger(num) ? `${Math.trunc(num)}${unit}B` : `${pyFixed1(num)}${unit}B`;
    num /= 1024;
  }
  return `${pyFixed1(num)}YB`;
}

/** "%.1f": correctly rounded from the exact binary value, ties to even. */
function pyFixed1(x: number): string {
  // toPrecision with enough digits exposes the exact decimal expansion's prefix
  const exact = x.toFixed(20); // exact enough for values < 2^53 with 20 decimals
  const [int, frac] = exact.split('.');
  const first = Number(frac[0]);
  const rest = frac.slice(1);
  let tenths = BigInt(int) * 10n + BigInt(first);
  const restIsHalf = rest[0] === '5' && /^5(0*)$/.test(rest);
  const restAboveHalf = rest > '5' && !restIsHalf;
  if (restAboveHalf || (restIsHalf && (tenths & 1n) === 1n)) tenths += 1n;
  const s = tenths.toString().padStart(2, '0');
  return s.slice(0, -1) + '.' + s.slice(-1);
}
