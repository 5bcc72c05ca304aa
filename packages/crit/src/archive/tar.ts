// The tar format as container engines write it (Go's archive/tar through
// containers/storage: ustar headers, PAX records for long names and large
// sizes; GNU tar's long-name records too). Only what locating members needs:
// names, types, sizes and where their data starts in the tar stream.
import { ImageError } from '@ckpt/images';
import type { TarBytes } from './stream.js';

const BLOCK = 512;
/** a member bigger than this is not a checkpoint, whatever its header says */
export const MAX_MEMBER = 2 ** 40;
/** PAX records and GNU long names are a few hundred bytes; more is corrupt */
const MAX_META = 1 << 20;
const MAX_MEMBERS = 1_000_000;

export type MemberType = 'file' | 'dir' | 'link' | 'other';

export interface TarMember {
  /** normalised: no leading "./" or "/", no trailing "/" */
  name: string;
  type: MemberType;
  size: number;
  /** where the data starts in the (uncompressed) tar stream */
  offset: number;
}

function cString(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

function numberField(h: Buffer, start: number, len: number, what: string, at: number, file: string): number {
  // base-256 (GNU, Go): high bit of the first byte set
  if (h[start] & 0x80) {
    let v = h[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[start + i];
    return v;
  }
  const text = h.toString('latin1', start, start + len).replace(/[\0 ]+$/, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new ImageError(`not a tar archive (bad ${what} field in the header at byte ${at})`, { file });
  return parseInt(text, 8);
}

function checksumOk(h: Buffer, at: number, file: string): boolean {
  const want = numberField(h, 148, 8, 'checksum', at, file);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

export function normaliseName(raw: string): string {
  let n = raw;
  while (n.startsWith('./')) n = n.slice(2);
  n = n.replace(/^\/+/, '').replace(/\/+$/, '');
  return n === '.' ? '' : n;
}

function paxRecords(data: Buffer, at: number, file: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    const len = sp < 0 ? NaN : Number(data.toString('latin1', i, sp));
    if (!Number.isSafeInteger(len) || len <= sp - i || i + len > data.length) {
      if (data.subarray(i).every((b) => b === 0)) break;
      throw new ImageError(`bad PAX header at byte ${at}`, { file });
    }
    const rec = data.toString('utf8', sp + 1, i + len - 1); // without the newline
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/**
 * Walks the members of a tar stream, calling visit with each; visit reads the
 * member's data from `bytes` (or not: what it leaves is skipped). Throws a
 * one-line ImageError on a truncated or corrupt archive.
 */
export function scanTar(bytes: TarBytes, file: string, visit: (m: TarMember, bytes: TarBytes) => void): void {
  let longName: string | undefined;
  let pax = new Map<string, string>();
  let global = new Map<string, string>();
  let count = 0;
  for (;;) {
    const at = bytes.pos;
    const h = bytes.read(BLOCK);
    if (h.length === 0 && count > 0) return; // no end blocks: tolerated, as GNU tar does
    if (h.length < BLOCK && count === 0) throw new ImageError('not a checkpoint archive (not a tar file, nor gzip or zstd)', { file });
    if (h.length < BLOCK) throw new ImageError(`truncated tar archive (a header at byte ${at} is cut short)`, { file });
    if (h.every((b) => b === 0)) return; // end of archive
    let ok: boolean;
    try {
      ok = checksumOk(h, at, file);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new ImageError(count ? `corrupt tar archive (bad header checksum at byte ${at})` : 'not a checkpoint archive (not a tar file, nor gzip or zstd)', { file });
    }
    if (++count > MAX_MEMBERS) throw new ImageError(`more than ${MAX_MEMBERS} members: not a checkpoint archive`, { file });
    const flag = String.fromCharCode(h[156] || 0x30);
    let size = numberField(h, 124, 12, 'size', at, file);
    const magic = h.toString('latin1', 257, 263);
    let name = cString(h, 0, 100);
    if (magic === 'ustar\0') {
      const prefix = cString(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (pax.has('path') || global.has('path')) name = pax.get('path') ?? global.get('path')!;
    if (longName !== undefined) name = longName;
    const paxSize = pax.get('size') ?? global.get('size');
    if (paxSize !== undefined && /^\d+$/.test(paxSize)) size = Number(paxSize);
    if (!Number.isSafeInteger(size) || size > MAX_MEMBER) {
      throw new ImageError(`member ${normaliseName(name) || name} claims ${size} bytes: absurd size, refused`, { file });
    }
    const offset = bytes.pos;
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const hasData = flag !== '5' && flag !== '1' && flag !== '2' && flag !== '3' && flag !== '4' && flag !== '6';
    const dataLen = hasData ? padded : 0;
    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      if (size > MAX_META) throw new ImageError(`header record of ${size} bytes at byte ${at}: corrupt archive`, { file });
      const data = bytes.read(padded);
      if (data.length < padded) throw new ImageError(`truncated tar archive (member data at byte ${offset} is cut short)`, { file });
      if (flag === 'L') longName = cString(data, 0, size);
      else if (flag === 'x') pax = paxRecords(data.subarray(0, size), at, file);
      else if (flag === 'g') global = paxRecords(data.subarray(0, size), at, file);
      continue;
    }
    const type: MemberType = flag === '0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : flag === '1' || flag === '2' ? 'link' : 'other';
    longName = undefined;
    pax = new Map();
    const before = bytes.pos;
    visit({ name: normaliseName(name), type, size: hasData ? size : 0, offset }, bytes);
    const left = dataLen - (bytes.pos - before);
    if (left > 0 && bytes.skip(left) < left) {
      throw new ImageError(`truncated tar archive (${normaliseName(name)} is cut short)`, { file });
    }
  }
}
