// `ckpt cpuinfo dump|check`: criu's cpuinfo.img (one cpuinfo_x86_entry, as compel_cpuid fills it from CPUID)
// and its check against this CPU with criu's default --cpu-cap (fpu and ins): the image's FPU bits, xsave
// features and sizes, and instruction-level features must all be here (a richer CPU is fine).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, imageFileName } from '@ckpt/images';
import { native } from '../native.js';
import { writeImage } from '../images-out.js';
import { DumpError, type Log } from '../log.js';

/** criu's capability words (compel's NCAPINTS_V2 = 19, capability_ver 2), by the CPUID leaf each holds */
const W = { '1_EDX': 0, '8000_0001_EDX': 1, LNX_1: 3, '1_ECX': 4, '8000_0001_ECX': 6, '7_0_EBX': 9, D_1_EAX: 10, '7_0_ECX': 11,
  F_1_EDX: 12, '8000_0008_EBX': 13, '6_EAX': 14, '8000_000A_EDX': 15, F_0_EDX: 16, '8000_0007_EBX': 17, '7_0_EDX': 18 } as const;
const NCAPINTS = 19;
const bit = (word: number, b: number) => word * 32 + b;
const F = {
  FPU: bit(0, 0), FXSR: bit(0, 24), XMM: bit(0, 25), NOPL: bit(3, 20), CPUID: bit(3, 25), REP_GOOD: bit(3, 16),
  XSAVE: bit(4, 26), OSXSAVE: bit(4, 27), AVX: bit(4, 28), MPX: bit(9, 14), AVX512F: bit(9, 16), INTEL_PT: bit(9, 25),
  ERMS: bit(9, 9), XSAVES: bit(10, 3), PKU: bit(11, 3), HDC: bit(14, 13), CQM_LLC: bit(16, 1),
};
/** compel's xsave_cpuid_features: the CPUID feature each xsave component needs */
const XSAVE_FEATURES = [F.FPU, F.XMM, F.AVX, F.MPX, F.MPX, F.AVX512F, F.AVX512F, F.AVX512F, F.INTEL_PT, F.PKU, F.HDC];
const XFEATURE_MASK_USER = 0b1011111111n; // FP SSE YMM BNDREGS BNDCSR OPMASK ZMM_Hi256 Hi16_ZMM PKRU
// compel's XFEATURE_MASK_SUPERVISOR is (XFEATURE_MASK_PT | XFEATURE_HDC): the HDC feature number (10), not its
// mask, so bits 1 (SSE) and 3 (BNDREGS) go too; kept as criu writes it, or our images would not compare
const XFEATURE_MASK_SUPERVISOR = (1n << 8n) | 10n;

/** criu's x86_ins_capability_mask: the instruction-level bits `--cpu-cap=ins` compares, word by word */
const INS_BITS: Record<number, number[]> = {
  0: [0, 4, 8, 11, 15, 19, 23, 24, 25, 26],
  1: [11, 22, 27, 30, 31],
  3: [16, 20],
  4: [0, 1, 3, 9, 13, 19, 20, 22, 23, 25, 26, 27, 28, 29, 30],
  6: [5, 6, 7, 8, 11, 16, 21],
  9: [0, 3, 4, 5, 8, 9, 11, 14, 16, 17, 18, 19, 23, 26, 27, 28, 29, 30, 31],
  10: [0, 1, 2],
  11: [1, 6, 8, 9, 10, 11, 12, 13, 14, 22],
  13: [0],
  18: [2, 3],
};

export interface CpuInfo {
  vendor_id: 'INTEL' | 'AMD'; cpu_family: number; model: number; stepping: number; capability_ver: number;
  capability: number[]; model_id?: string; xfeatures_mask: bigint; xsave_size: number; xsave_size_max: number;
}

/** compel_cpuid + compel_fpuid: this CPU as criu describes it */
export function thisCpu(): CpuInfo {
  const cpuid = (leaf: number, sub = 0) => native().cpuid(leaf, sub).map((x) => x >>> 0);
  const [level, ebx0, ecx0, edx0] = cpuid(0);
  const vendorStr = Buffer.concat([ebx0, edx0, ecx0].map((x) => { const b = Buffer.alloc(4); b.writeUInt32LE(x); return b; })).toString('latin1');
  let vendor: CpuInfo['vendor_id'];
  if (vendorStr === 'GenuineIntel') vendor = 'INTEL';
  else if (vendorStr === 'AuthenticAMD' || vendorStr === 'HygonGenuine') vendor = 'AMD';
  else throw new DumpError(`unsupported CPU vendor ${vendorStr} (criu knows Intel, AMD and Hygon)`);
  const cap = new Array<number>(NCAPINTS).fill(0);
  const set = (f: number, on = true) => { cap[f >> 5] = on ? (cap[f >> 5] | (1 << (f & 31))) >>> 0 : (cap[f >> 5] & ~(1 << (f & 31))) >>> 0; };
  const has = (f: number) => (cap[f >> 5] >>> (f & 31)) & 1;
  let family = 4, model = 0, stepping = 0;
  if (level >= 1) {
    const [a, , c, d] = cpuid(1);
    family = (a >> 8) & 0xf;
    model = (a >> 4) & 0xf;
    stepping = a & 0xf;
    if (family === 0xf) family += (a >> 20) & 0xff;
    if (family >= 6) model += ((a >> 16) & 0xf) << 4;
    cap[W['1_EDX']] = d;
    cap[W['1_ECX']] = c;
  }
  if (level >= 6) cap[W['6_EAX']] = cpuid(6)[0];
  if (level >= 7) {
    const [, b, c, d] = cpuid(7, 0);
    cap[W['7_0_EBX']] = b; cap[W['7_0_ECX']] = c; cap[W['7_0_EDX']] = d;
  }
  if (level >= 0xd) cap[W.D_1_EAX] = cpuid(0xd, 1)[0];
  if (level >= 0xf) {
    cap[W.F_0_EDX] = cpuid(0xf, 0)[3];
    if (has(F.CQM_LLC)) cap[W.F_1_EDX] = cpuid(0xf, 1)[3];
  }
  const ext = cpuid(0x80000000)[0];
  if ((ext & 0xffff0000) >>> 0 === 0x80000000 && ext >= 0x80000001) {
    const [, , c, d] = cpuid(0x80000001);
    cap[W['8000_0001_ECX']] = c; cap[W['8000_0001_EDX']] = d;
  }
  let modelId: string | undefined;
  if (ext >= 0x80000004) {
    const words = [0x80000002, 0x80000003, 0x80000004].flatMap((l) => cpuid(l));
    const b = Buffer.alloc(48);
    words.forEach((x, i) => b.writeUInt32LE(x, i * 4));
    modelId = b.toString('latin1').replace(/\0.*$/s, '').replace(/^ +/, '');
  }
  if (ext >= 0x80000007) cap[W['8000_0007_EBX']] = cpuid(0x80000007)[1];
  if (ext >= 0x8000000a) cap[W['8000_000A_EDX']] = cpuid(0x8000000a)[3];
  if (ext >= 0x80000008) cap[W['8000_0008_EBX']] = cpuid(0x80000008)[1];
  set(F.CPUID);
  set(F.NOPL);
  if (level < 0xd) set(F.XSAVE, false);
  if (vendor === 'INTEL') {
    if (family === 15) { set(F.REP_GOOD, false); set(F.ERMS, false); } else if (family === 6) set(F.REP_GOOD);
  } else {
    set(31, false); // bit 31 of CPUID 1 EDX: AMD's nonstandard 3DNow id
    if (family >= 0x10) set(F.REP_GOOD);
    if (family === 0xf) {
      const l = cpuid(1)[0];
      if ((l >= 0x0f48 && l < 0x0f50) || l >= 0x0f58) set(F.REP_GOOD);
    }
  }
  if (!has(F.FPU)) throw new DumpError('this CPU reports no FPU');
  let xfeatures = 0n, xsaveSize = 0, xsaveSizeMax = 0;
  if (has(F.XSAVE)) {
    const [a, b, c, d] = cpuid(0xd, 0);
    xfeatures = BigInt(a) | (BigInt(d) << 32n);
    XSAVE_FEATURES.forEach((f, i) => { if (!has(f)) xfeatures &= ~(1n << BigInt(i)); });
    xfeatures &= XFEATURE_MASK_USER & ~XFEATURE_MASK_SUPERVISOR;
    xsaveSize = b;
    xsaveSizeMax = c;
  }
  return {
    vendor_id: vendor, cpu_family: family, model, stepping, capability_ver: 2, capability: cap,
    ...(modelId ? { model_id: modelId } : {}), xfeatures_mask: xfeatures, xsave_size: xsaveSize, xsave_size_max: xsaveSizeMax,
  };
}

export function cpuinfoDump(dir: string, log: Log): void {
  const cpu = thisCpu();
  writeImage(dir, 'cpuinfo', { magic: 'CPUINFO', entries: [{ x86_entry: [cpu] }] });
  log.info(`cpuinfo: ${cpu.vendor_id} family ${cpu.cpu_family} model ${cpu.model} (${cpu.model_id ?? '?'}) written to ${join(dir, imageFileName('cpuinfo'))}`);
}

/** criu's cpu_validate_features with --cpu-cap=fpu,ins (its default): the first mismatch, or undefined */
export function cpuMismatch(img: CpuInfo, here: CpuInfo): string | undefined {
  const has = (c: CpuInfo, f: number) => ((c.capability[f >> 5] ?? 0) >>> (f & 31)) & 1;
  const fpu = [['fpu', F.FPU], ['fxsr', F.FXSR], ['osxsave', F.OSXSAVE], ['xsaves', F.XSAVES]] as const;
  const lost = fpu.filter(([, f]) => has(img, f) && !has(here, f)).map(([n]) => n);
  if (lost.length) return `FPU feature required by image is not supported on host (${lost.join(', ')})`;
  const m = BigInt(img.xfeatures_mask ?? 0) & ~BigInt(here.xfeatures_mask);
  if (m) return `CPU xfeatures has unsupported bits (0x${m.toString(16)})`;
  if ((img.xsave_size ?? 0) !== here.xsave_size) return `CPU xsave size mismatch (${img.xsave_size}/${here.xsave_size})`;
  if ((img.xsave_size_max ?? 0) !== here.xsave_size_max) return `CPU xsave max size mismatch (${img.xsave_size_max}/${here.xsave_size_max})`;
  for (const [w, bits] of Object.entries(INS_BITS)) {
    const mask = bits.reduce((a, b) => (a | (1 << b)) >>> 0, 0);
    const missing = ((img.capability[Number(w)] ?? 0) & mask & ~(here.capability[Number(w)] ?? 0)) >>> 0;
    if (missing) return `CPU instruction capabilities do not match run time (word ${w}: 0x${missing.toString(16)})`;
  }
  return undefined;
}

export function cpuinfoCheck(dir: string, log: Log): void {
  const path = join(dir, imageFileName('cpuinfo'));
  if (!existsSync(path)) throw new DumpError(`No cpuinfo image: ${path} (make it with ckpt cpuinfo dump)`);
  let img: CpuInfo;
  try {
    const entries = decodeImage(readFileSync(path)).entries as { x86_entry?: CpuInfo[] }[];
    const x86 = entries[0]?.x86_entry ?? [];
    if (x86.length !== 1) throw new Error(`${x86.length} x86 entries, not 1`);
    img = x86[0];
  } catch (e) {
    throw new DumpError(`${path}: ${(e as Error).message}`);
  }
  if (img.vendor_id !== 'INTEL' && img.vendor_id !== 'AMD') throw new DumpError(`${path}: unknown cpu vendor ${img.vendor_id}`);
  if (img.capability_ver !== 1 && img.capability_ver !== 2) throw new DumpError(`${path}: unknown capability version ${img.capability_ver}`);
  const why = cpuMismatch(img, thisCpu());
  if (why) throw new DumpError(why);
  log.info('cpuinfo: this CPU can run what was dumped on the one in the image');
}
