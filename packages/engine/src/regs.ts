// x86_64 register state from ptrace buffers into the image's user_x86_regs_entry /
// user_x86_fpregs_entry shapes, including CRIU's syscall-restart rewrite (ENGINE-NOTES §2.1).
import { native } from './native.js';

const GP_NAMES = ['r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di',
  'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs'];
const ERESTARTSYS = -512n, ERESTARTNOINTR = -513n, ERESTARTNOHAND = -514n, ERESTART_RESTARTBLOCK = -516n, EINTR = -4n;

export interface GpRegs { [k: string]: bigint | string; }

/** Returns the image gpregs and whether the task was stopped inside an interrupted syscall. */
export function readGpRegs(tid: number): { regs: GpRegs; restartWarning: boolean } {
  const b = native().getRegs(tid);
  if (b.length !== 27 * 8) throw new Error(`task ${tid}: compat (32-bit) tasks are not supported`);
  const r: Record<string, bigint> = {};
  GP_NAMES.forEach((n, i) => (r[n] = b.readBigUInt64LE(i * 8)));
  const ax = BigInt.asIntN(64, r.ax), orig = BigInt.asIntN(64, r.orig_ax);
  let restartWarning = false;
  if (orig >= 0n) {
    if (ax === ERESTARTSYS || ax === ERESTARTNOINTR || ax === ERESTARTNOHAND) {
      r.ax = r.orig_ax;
      r.ip -= 2n;
    } else if (ax === ERESTART_RESTARTBLOCK) {
      r.ax = BigInt.asUintN(64, EINTR);
      restartWarning = true;
    }
  }
  return { regs: { ...r, mode: 'NATIVE' }, restartWarning };
}

function u32s(b: Buffer, off: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(b.readUInt32LE(off + i * 4));
  return out;
}
function u64s(b: Buffer, off: number, n: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(b.readBigUInt64LE(off + i * 8));
  return out;
}

/** FPU/SSE/AVX state: fxsave legacy part + the xsave components this CPU enables (XCR0). */
export function readFpRegs(tid: number): Record<string, unknown> {
  const n = native();
  const xs = n.getXstate(tid);
  const bv = xs.length >= 520 ? xs.readBigUInt64LE(512) : 3n;
  const xcr0 = xs.length >= 472 ? xs.readBigUInt64LE(464) : 3n;
  const legacy = (bv & 3n) !== 3n ? n.getFpregs(tid) : xs;
  const fp: Record<string, unknown> = {
    cwd: legacy.readUInt16LE(0), swd: legacy.readUInt16LE(2), twd: legacy.readUInt16LE(4), fop: legacy.readUInt16LE(6),
    rip: legacy.readBigUInt64LE(8), rdp: legacy.readBigUInt64LE(16), mxcsr: legacy.readUInt32LE(24),
    mxcsr_mask: legacy.readUInt32LE(28), st_space: u32s(legacy, 32, 32), xmm_space: u32s(legacy, 160, 64),
  };
  if (xs.length > 512) {
    const has = (bit: number) => (xcr0 & (1n << BigInt(bit))) !== 0n && xs.length > 0;
    const xsave: Record<string, unknown> = { xstate_bv: bv };
    if (has(2) && xs.length >= 832) xsave.ymmh_space = u32s(xs, 576, 64);
    if (has(5) && xs.length >= 896) xsave.opmask_reg = u64s(xs, 832, 8);
    if (has(6) && xs.length >= 1408) xsave.zmm_upper = u64s(xs, 896, 64);
    if (has(7) && xs.length >= 2432) xsave.hi16_zmm = u64s(xs, 1408, 128);
    xsave.cet = { cet: 0n, ssp: 0n };
    fp.xsave = xsave;
  }
  return fp;
}
