// The x86_64 rt_sigframe a restored thread returns through (ENGINE-NOTES §6.3): ucontext with the
// dumped general registers, blocked mask and sigaltstack, followed at offset 448 (64-aligned) by the
// fxsave/xsave area. The helper fills in the fpstate pointer once it knows where the frame lives.

const FP_OFF = 448;
const FP_XSTATE_MAGIC1 = 0x46505853;
const FP_XSTATE_MAGIC2 = 0x46505845;
// xsave component offsets (standard format; CPUID 0xD on this machine class)
const XCOMP: { bit: number; key: string; off: number; size: number; word: 4 | 8 }[] = [
  { bit: 2, key: 'ymmh_space', off: 576, size: 256, word: 4 },
  { bit: 5, key: 'opmask_reg', off: 832, size: 64, word: 8 },
  { bit: 6, key: 'zmm_upper', off: 896, size: 512, word: 8 },
  { bit: 7, key: 'hi16_zmm', off: 1408, size: 1024, word: 8 },
];

const big = (v: unknown): bigint => (v === undefined || v === null ? 0n : BigInt(v as any));

/** Frame bytes for one thread: gpregs + fpregs of its core, blocked mask, sigaltstack. */
export function buildSigframe(gp: any, fp: any, blocked: bigint, sas: any): Buffer {
  let xsize = 512;
  let xfeatures = 3n;
  const xs = fp?.xsave;
  const comps: typeof XCOMP = [];
  if (xs) {
    for (const c of XCOMP) {
      const arr = xs[c.key] as unknown[] | undefined;
      if (arr && arr.length * c.word === c.size) {
        comps.push(c);
        xfeatures |= 1n << BigInt(c.bit);
        xsize = Math.max(xsize, c.off + c.size);
      }
    }
    if (!comps.length) xsize = 576;
  }
  const withX = !!xs;
  const total = fp ? FP_OFF + (withX ? xsize + 4 : 512) : FP_OFF;
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
  // fpstate pointer at 232 is patched by the helper
  b.writeBigUInt64LE(BigInt.asUintN(64, blocked), 304);
  if (fp) {
    const f = FP_OFF;
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
    if (withX) {
      b.writeUInt32LE(FP_XSTATE_MAGIC1, f + 464);
      b.writeUInt32LE(xsize + 4, f + 468);
      b.writeBigUInt64LE(xfeatures, f + 472);
      b.writeUInt32LE(xsize, f + 480);
      b.writeBigUInt64LE((big(xs.xstate_bv) | 3n) & xfeatures, f + 512);
      for (const c of comps) {
        (xs[c.key] as any[]).forEach((w, i) => {
          if (c.word === 4) b.writeUInt32LE(Number(w) >>> 0, f + c.off + i * 4);
          else b.writeBigUInt64LE(BigInt.asUintN(64, big(w)), f + c.off + i * 8);
        });
      }
      b.writeUInt32LE(FP_XSTATE_MAGIC2, f + xsize);
    }
  }
  return b;
}
