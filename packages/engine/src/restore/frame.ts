// The x86_64 rt_sigframe a restored thread returns through (ENGINE-NOTES §6.3): ucontext with the
// dumped general registers, blocked mask and sigaltstack, followed at offset 448 (64-aligned) by the
// fxsave/xsave area, in the standard format at the restoring CPU's offsets (xsave.ts). The helper turns the
// fpstate pointer into an address once it knows where the frame lives.
import { bitsOf, componentName, cpuLayout, hasBit, IMAGE_COMPONENTS, LEGACY_SIZE, XSAVE_HEADER_END } from '../xsave.js';
import type { XsaveLayout } from '../xsave.js';
import { RestoreError } from './read.js';

/** where the fpstate begins in the frame: after the siginfo (312 + 128), 64-aligned for XRSTOR */
const FP_OFF = 448;
/** the ucontext's uc_mcontext.fpstate: frame.ts leaves FP_OFF there, the helper adds the frame's address */
const FPSTATE_PTR = 232;
const FP_XSTATE_MAGIC1 = 0x46505853;
const FP_XSTATE_MAGIC2 = 0x46505845;

const big = (v: unknown): bigint => (v === undefined || v === null ? 0n : BigInt(v as any));

/** The image's xsave components placed for this CPU: the standard-format offsets of its CPUID, the
 * features (xfeatures) and size the frame declares. Refuses an image whose state uses a component this CPU
 * lacks, or one that does not fit this CPU's layout: restoring it would lose registers silently. */
export function placeXsave(xs: any, layout: XsaveLayout, who: string): { bv: bigint; xfeatures: bigint; size: number; parts: { off: number; words: unknown[]; word: 4 | 8 }[] } {
  const bv = big(xs.xstate_bv);
  for (const bit of bitsOf(bv)) {
    if (bit > 1 && !hasBit(layout.xcr0, bit)) throw new RestoreError(`${who}: the image's FPU state uses ${componentName(bit)} but this CPU does not have it`);
  }
  if (big(xs.cet?.cet) || big(xs.cet?.ssp)) throw new RestoreError(`${who}: the image's FPU state uses a user shadow stack (CET), which ckpt cannot restore`);
  const parts: { off: number; words: unknown[]; word: 4 | 8 }[] = [];
  let xfeatures = 3n, size = XSAVE_HEADER_END;
  for (const c of IMAGE_COMPONENTS) {
    const words = xs[c.key] as unknown[] | undefined;
    if (!hasBit(layout.xcr0, c.bit)) continue; // not in the state (checked above): its data, if any, is the init state's
    if (!words?.length) {
      if (hasBit(bv, c.bit)) throw new RestoreError(`${who}: the image's FPU state uses ${componentName(c.bit)} but holds no ${c.key}`);
      continue;
    }
    const comp = layout.components.get(c.bit);
    if (!comp || comp.supervisor || words.length * c.word !== comp.size) {
      throw new RestoreError(`${who}: the image's ${componentName(c.bit)} has ${words.length * c.word} bytes, this CPU's ${comp?.size ?? 0}`);
    }
    parts.push({ off: comp.offset, words, word: c.word });
    xfeatures |= 1n << BigInt(c.bit);
    size = Math.max(size, comp.offset + comp.size);
  }
  return { bv: (bv | 3n) & xfeatures, xfeatures, size, parts };
}

/** Frame bytes for one thread: gpregs + fpregs of its core, blocked mask, sigaltstack; its xsave components
 * at the offsets of `layout` (this CPU's). */
export function buildSigframe(gp: any, fp: any, blocked: bigint, sas: any, who: string, layout: XsaveLayout = cpuLayout()): Buffer {
  // the xsave part: only where this CPU has XSAVE (the kernel takes the fxsave part alone otherwise)
  const xs = fp?.xsave;
  const placed = xs ? placeXsave(xs, layout, who) : undefined;
  const x = layout.xcr0 ? placed : undefined;
  const total = fp ? FP_OFF + (x ? x.size + 4 : LEGACY_SIZE) : FP_OFF;
  const b = Buffer.alloc(Math.ceil(total / 64) * 64);
  // uc_stack
  if (sas) {
    b.writeBigUInt64LE(big(sas.ss_sp), 24);
    b.writeInt32LE(Number(sas.ss_flags ?? 0), 32);
    b.writeBigUInt64LE(big(sas.ss_size), 40);
  } else b.writeInt32LE(2 /* SS_DISABLE */, 32);
  const mc = 48;
  const order = ['r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'di', 'si', 'bp', 'bx', 'dx', 'ax', 'cx', 'sp', 'ip', 'flags'];
  order.forEach((k, i) => b.writeBigUInt64LE(BigInt.asUintN(64, big(gp[k])), mc + i * 8));
  b.writeUInt16LE(Number(gp.cs ?? 0x33), mc + 144);
  b.writeUInt16LE(Number(gp.gs ?? 0) & 0xffff, mc + 146);
  b.writeUInt16LE(Number(gp.fs ?? 0) & 0xffff, mc + 148);
  b.writeUInt16LE(Number(gp.ss ?? 0x2b), mc + 150);
  b.writeBigUInt64LE(BigInt.asUintN(64, blocked), 304);
  if (fp) {
    const f = FP_OFF;
    b.writeBigUInt64LE(BigInt(FP_OFF), FPSTATE_PTR);
    b.writeUInt16LE(Number(fp.cwd ?? 0x37f), f);
    b.writeUInt16LE(Number(fp.swd ?? 0), f + 2);
    b.writeUInt16LE(Number(fp.twd ?? 0), f + 4);
    b.writeUInt16LE(Number(fp.fop ?? 0), f + 6);
    b.writeBigUInt64LE(big(fp.rip), f + 8);
    b.writeBigUInt64LE(big(fp.rdp), f + 16);
    b.writeUInt32LE(Number(fp.mxcsr ?? 0x1f80), f + 24);
    b.writeUInt32LE(Number(fp.mxcsr_mask ?? 0), f + 28);
    (fp.st_space ?? []).slice(0, 32).forEach((w: number, i: number) => b.writeUInt32LE(w >>> 0, f + 32 + i * 4));
    (fp.xmm_space ?? []).slice(0, 64).forEach((w: number, i: number) => b.writeUInt32LE(w >>> 0, f + 160 + i * 4));
    if (x) {
      b.writeUInt32LE(FP_XSTATE_MAGIC1, f + 464);
      b.writeUInt32LE(x.size + 4, f + 468);
      b.writeBigUInt64LE(x.xfeatures, f + 472);
      b.writeUInt32LE(x.size, f + 480);
      b.writeBigUInt64LE(x.bv, f + LEGACY_SIZE);
      for (const p of x.parts) {
        p.words.forEach((w, i) => {
          if (p.word === 4) b.writeUInt32LE(Number(w) >>> 0, f + p.off + i * 4);
          else b.writeBigUInt64LE(BigInt.asUintN(64, big(w)), f + p.off + i * 8);
        });
      }
      b.writeUInt32LE(FP_XSTATE_MAGIC2, f + x.size);
    }
  }
  return b;
}
