// x86_64 register state from ptrace buffers into the image's user_x86_regs_entry /
// user_x86_fpregs_entry shapes, including CRIU's syscall-restart rewrite (ENGINE-NOTES §2.1).
import { native } from './native.js';
import { bitsOf, componentName, componentOffsets, cpuLayout, hasBit, IMAGE_BITS, IMAGE_COMPONENTS, LEGACY_SIZE, XSAVE_HEADER_END } from './xsave.js';
import type { XsaveLayout } from './xsave.js';

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

/** FPU/SSE/AVX/AVX-512/PKRU state of a thread, at this CPU's xsave offsets (xsave.ts). */
export function readFpRegs(tid: number): Record<string, unknown> {
  const n = native();
  return fpregsEntry(n.getXstate(tid), () => n.getFpregs(tid), cpuLayout(), `thread ${tid}`);
}

/** The image's fpregs from a ptrace NT_X86_XSTATE area `xs`: the fxsave part (from NT_PRFPREG, `fxsave()`,
 * when x87/SSE are in their init state) and every component XCR0 enables, by name. Refuses state the
 * image cannot hold (AMX tiles, APX registers...) rather than lose it. */
export function fpregsEntry(xs: Buffer, fxsave: () => Buffer, layout: XsaveLayout, who: string): Record<string, unknown> {
  const withX = xs.length > LEGACY_SIZE && layout.xcr0 !== 0n;
  const bv = withX && xs.length >= XSAVE_HEADER_END ? xs.readBigUInt64LE(LEGACY_SIZE) : 3n;
  const legacy = (bv & 3n) !== 3n ? fxsave() : xs;
  const fp: Record<string, unknown> = {
    cwd: legacy.readUInt16LE(0), swd: legacy.readUInt16LE(2), twd: legacy.readUInt16LE(4), fop: legacy.readUInt16LE(6),
    rip: legacy.readBigUInt64LE(8), rdp: legacy.readBigUInt64LE(16), mxcsr: legacy.readUInt32LE(24),
    mxcsr_mask: legacy.readUInt32LE(28), st_space: u32s(legacy, 32, 32), xmm_space: u32s(legacy, 160, 64),
  };
  if (!withX) return fp;
  if (xs.length < XSAVE_HEADER_END) throw new Error(`${who}: the kernel's xsave area has ${xs.length} bytes, no header`);
  const unheld = bitsOf(bv & ~IMAGE_BITS);
  if (unheld.length) throw new Error(`${who}: its FPU state uses ${componentName(unheld[0])}, which the image format cannot hold`);
  const at = componentOffsets(layout, xs.readBigUInt64LE(LEGACY_SIZE + 8));
  const xsave: Record<string, unknown> = { xstate_bv: bv };
  for (const c of IMAGE_COMPONENTS) {
    if (!hasBit(layout.xcr0, c.bit)) continue;
    const comp = layout.components.get(c.bit), off = at.get(c.bit);
    if (!comp || comp.size !== c.size) throw new Error(`${who}: this CPU's ${componentName(c.bit)} has ${comp?.size ?? 0} bytes, not ${c.size}`);
    if (off === undefined && !hasBit(bv, c.bit)) { // left out of a compacted area: in its init state, zeros
      xsave[c.key] = new Array(c.size / c.word).fill(c.word === 4 ? 0 : 0n);
      continue;
    }
    if (off === undefined || off + c.size > xs.length) throw new Error(`${who}: the kernel's xsave area (${xs.length} bytes) has no ${componentName(c.bit)} at ${off}`);
    xsave[c.key] = c.word === 4 ? u32s(xs, off, c.size / 4) : u64s(xs, off, c.size / 8);
  }
  // user shadow stacks are refused before (core.ts), so the CET state is off
  xsave.cet = { cet: 0n, ssp: 0n };
  fp.xsave = xsave;
  return fp;
}
