// The vDSO as an ELF image: the functions it exports and where they start, found as the dynamic linker finds
// them (PT_DYNAMIC -> DT_SYMTAB, DT_STRTAB, and DT_HASH or DT_GNU_HASH for the number of symbols); and this
// kernel's own vDSO, read from our memory. The restore compares a dump's vDSO with this kernel's (vDSO proxy).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export class VdsoError extends Error {}

/** A defined function symbol: offset of its first instruction from the image's first byte. */
export interface VdsoSymbol { name: string; offset: number; size: number }

const PT_LOAD = 1, PT_DYNAMIC = 2;
const DT_HASH = 4, DT_STRTAB = 5, DT_SYMTAB = 6, DT_STRSZ = 10, DT_SYMENT = 11, DT_GNU_HASH = 0x6ffffef5;
const STT_FUNC = 2, STB_GLOBAL = 1, STB_WEAK = 2;

/** The global and weak function symbols of a 64-bit little-endian vDSO image (duplicates by name dropped). */
export function vdsoSymbols(img: Buffer): VdsoSymbol[] {
  const need = (off: number, len: number, what: string) => {
    if (!Number.isSafeInteger(off) || off < 0 || off + len > img.length) throw new VdsoError(`${what} at 0x${off.toString(16)} is outside the ${img.length}-byte image`);
  };
  need(0, 64, 'ELF header');
  if (img.readUInt32BE(0) !== 0x7f454c46) throw new VdsoError('no ELF header');
  if (img[4] !== 2 || img[5] !== 1) throw new VdsoError('not a 64-bit little-endian ELF image');
  const phoff = Number(img.readBigUInt64LE(32)), phentsize = img.readUInt16LE(54), phnum = img.readUInt16LE(56);
  if (phentsize < 56) throw new VdsoError(`program headers of ${phentsize} bytes`);
  need(phoff, phentsize * phnum, 'program headers');
  let bias: number | undefined, dyn: [number, number] | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize, type = img.readUInt32LE(p);
    const off = Number(img.readBigUInt64LE(p + 8)), vaddr = Number(img.readBigUInt64LE(p + 16)), filesz = Number(img.readBigUInt64LE(p + 32));
    if (type === PT_LOAD && bias === undefined) bias = vaddr - off;
    if (type === PT_DYNAMIC) dyn = [off, filesz];
  }
  if (bias === undefined || !dyn) throw new VdsoError('no PT_LOAD or no PT_DYNAMIC program header');
  need(dyn[0], dyn[1], 'dynamic section');
  const tags = new Map<number, number>();
  for (let p = dyn[0]; p + 16 <= dyn[0] + dyn[1]; p += 16) {
    const tag = Number(img.readBigInt64LE(p));
    if (tag === 0) break;
    if (!tags.has(tag)) tags.set(tag, Number(img.readBigUInt64LE(p + 8)));
  }
  const at = (tag: number) => { const v = tags.get(tag); return v === undefined ? undefined : v - bias!; };
  const symtab = at(DT_SYMTAB), strtab = at(DT_STRTAB), strsz = tags.get(DT_STRSZ), syment = tags.get(DT_SYMENT) ?? 24;
  if (symtab === undefined || strtab === undefined || strsz === undefined) throw new VdsoError('no DT_SYMTAB, DT_STRTAB or DT_STRSZ');
  if (syment < 24) throw new VdsoError(`symbols of ${syment} bytes`);
  need(strtab, strsz, 'string table');
  const count = symbolCount(img, at(DT_HASH), at(DT_GNU_HASH), need);
  need(symtab, count * syment, 'symbol table');
  const out: VdsoSymbol[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < count; i++) {
    const s = symtab + i * syment;
    const info = img[s + 4], shndx = img.readUInt16LE(s + 6);
    if ((info & 0xf) !== STT_FUNC || ((info >> 4) !== STB_GLOBAL && (info >> 4) !== STB_WEAK) || shndx === 0) continue;
    const nameOff = img.readUInt32LE(s);
    const end = img.indexOf(0, strtab + nameOff);
    if (nameOff >= strsz || end < 0 || end >= strtab + strsz) throw new VdsoError(`symbol ${i}: name outside the string table`);
    const name = img.toString('latin1', strtab + nameOff, end);
    const offset = Number(img.readBigUInt64LE(s + 8)) - bias;
    const size = Number(img.readBigUInt64LE(s + 16));
    if (offset < 0 || offset >= img.length) throw new VdsoError(`${name} at 0x${offset.toString(16)} is outside the image`);
    if (!seen.has(name)) { seen.add(name); out.push({ name, offset, size }); }
  }
  return out;
}

/** Number of dynamic symbols: DT_HASH's nchain, else one past the last symbol the GNU hash chains reach. */
function symbolCount(img: Buffer, hash: number | undefined, gnu: number | undefined, need: (o: number, l: number, w: string) => void): number {
  if (hash !== undefined) {
    need(hash, 8, 'DT_HASH');
    return img.readUInt32LE(hash + 4);
  }
  if (gnu === undefined) throw new VdsoError('neither DT_HASH nor DT_GNU_HASH');
  need(gnu, 16, 'DT_GNU_HASH');
  const nbuckets = img.readUInt32LE(gnu), symoffset = img.readUInt32LE(gnu + 4), bloomSize = img.readUInt32LE(gnu + 8);
  const buckets = gnu + 16 + bloomSize * 8, chains = buckets + nbuckets * 4;
  need(buckets, nbuckets * 4, 'DT_GNU_HASH buckets');
  let last = 0;
  for (let i = 0; i < nbuckets; i++) last = Math.max(last, img.readUInt32LE(buckets + i * 4));
  if (last < symoffset) return symoffset;
  for (;;) { // the chain of the highest bucket ends with a word whose low bit is set
    need(chains + (last - symoffset) * 4, 4, 'DT_GNU_HASH chain');
    if (img.readUInt32LE(chains + (last - symoffset) * 4) & 1) return last + 1;
    last++;
  }
}

/** This kernel's vvar and vDSO as mapped into us (the same for every process): sizes, order, image, symbols. */
export interface RunningVdso { vvarLen: bigint; vdsoLen: bigint; vvarFirst: boolean; image: Buffer; symbols: VdsoSymbol[] }

let running: RunningVdso | null | undefined;

/** Our own vDSO, read through /proc/self/mem; null when the kernel maps none. */
export function runningVdso(): RunningVdso | null {
  if (running !== undefined) return running;
  let vvar: [bigint, bigint] | undefined, vdso: [bigint, bigint] | undefined;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) .*\s(\[vvar\]|\[vvar_vclock\]|\[vdso\])$/.exec(line);
    if (!m) continue;
    const s = BigInt('0x' + m[1]), e = BigInt('0x' + m[2]);
    if (m[3] === '[vdso]') vdso = [s, e];
    else vvar = vvar && vvar[1] === s ? [vvar[0], e] : [s, e]; // [vvar_vclock] follows [vvar]
  }
  if (!vdso) return (running = null);
  const image = Buffer.alloc(Number(vdso[1] - vdso[0]));
  const fd = openSync('/proc/self/mem', 'r');
  try {
    if (readSync(fd, image, 0, image.length, vdso[0]) !== image.length) throw new VdsoError('short read of our own vDSO');
  } finally {
    closeSync(fd);
  }
  running = {
    vvarLen: vvar ? vvar[1] - vvar[0] : 0n, vdsoLen: vdso[1] - vdso[0], vvarFirst: !!vvar && vvar[1] === vdso[0],
    image, symbols: vdsoSymbols(image),
  };
  return running;
}
