// The x86 xsave layout of this CPU (CPUID leaf 0xD, XCR0) and the components the images hold by name
// (user_x86_xsave_entry), so that images do not depend on where a CPU puts them.
// Which form where: ptrace's NT_X86_XSTATE (read at dump) and the rt_sigframe's fpstate (written for a
// restore) are the standard format, every component at its CPUID.(0xD,i).EBX offset, which differs between
// vendors (opmask: 832 on AMD, 1088 on Intel). The compacted form (XSAVEC/XSAVES, the kernel's own buffers)
// packs the components of XCOMP_BV in order, 64-aligned where CPUID.(0xD,i).ECX bit 1 says so; an area
// whose header has XCOMP_BV bit 63 set is read at those offsets.
import { native } from './native.js';

export interface XComponent { bit: number; size: number; offset: number; align64: boolean; supervisor: boolean }

export interface XsaveLayout {
  /** the user components the OS enabled (XCR0); 0n when XSAVE is off: the FPU state is the fxsave area only */
  xcr0: bigint;
  /** every component CPUID describes, from 2 on (0 and 1 live in the fxsave area) */
  components: Map<number, XComponent>;
}

/** The fxsave (legacy) area and the xsave header that follows it: the components begin after them. */
export const LEGACY_SIZE = 512, XSAVE_HEADER_END = 576;

/** The components user_x86_xsave_entry holds: its field, the size of one repeated element, the
 * component's architectural size. x87 and SSE are the fxsave fields of user_x86_fpregs_entry. */
export const IMAGE_COMPONENTS: { bit: number; key: string; word: 4 | 8; size: number }[] = [
  { bit: 2, key: 'ymmh_space', word: 4, size: 256 },
  { bit: 3, key: 'bndreg_state', word: 8, size: 64 },
  { bit: 4, key: 'bndcsr_state', word: 8, size: 64 },
  { bit: 5, key: 'opmask_reg', word: 8, size: 64 },
  { bit: 6, key: 'zmm_upper', word: 8, size: 512 },
  { bit: 7, key: 'hi16_zmm', word: 8, size: 1024 },
  { bit: 9, key: 'pkru', word: 4, size: 8 },
];
/** xstate_bv bits the image can hold */
export const IMAGE_BITS = IMAGE_COMPONENTS.reduce((m, c) => m | (1n << BigInt(c.bit)), 3n);

const NAMES: Record<number, [feature: string, component: string]> = {
  0: ['x87', 'x87'], 1: ['SSE', 'SSE'], 2: ['AVX', 'YMM_Hi128'], 3: ['MPX', 'BNDREGS'], 4: ['MPX', 'BNDCSR'],
  5: ['AVX-512', 'opmask'], 6: ['AVX-512', 'ZMM_Hi256'], 7: ['AVX-512', 'Hi16_ZMM'], 8: ['Intel PT', 'PT'],
  9: ['protection keys', 'PKRU'], 10: ['PASID', 'PASID'], 11: ['CET', 'CET_U'], 12: ['CET', 'CET_S'], 13: ['HDC', 'HDC'],
  14: ['user interrupts', 'UINTR'], 15: ['LBR', 'LBR'], 16: ['HWP', 'HWP'], 17: ['AMX', 'XTILECFG'], 18: ['AMX', 'XTILEDATA'],
  19: ['APX', 'APX'],
};

/** "AVX-512 (xsave component 5 opmask)" */
export function componentName(bit: number): string {
  const n = NAMES[bit];
  return n ? `${n[0]} (xsave component ${bit} ${n[1]})` : `xsave component ${bit}`;
}

/** The set bits of a mask, lowest first. */
export function bitsOf(mask: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; mask >> BigInt(i); i++) if ((mask >> BigInt(i)) & 1n) out.push(i);
  return out;
}

export const hasBit = (mask: bigint, bit: number): boolean => ((mask >> BigInt(bit)) & 1n) === 1n;

let cached: XsaveLayout | undefined;

/** This CPU's layout, from the native core (read once). */
export function cpuLayout(): XsaveLayout {
  if (cached) return cached;
  const x = native().cpuXsave();
  const components = new Map<number, XComponent>();
  for (const c of x.components) components.set(c.bit, { ...c });
  cached = { xcr0: x.osxsave ? x.xcr0 : 0n, components };
  return cached;
}

/** Offsets of the components an area holds: CPUID's in the standard form; in the compacted form (XCOMP_BV
 * bit 63) those of XCOMP_BV's components packed in order from 576, aligned to 64 bytes where CPUID says. */
export function componentOffsets(layout: XsaveLayout, xcompBv: bigint): Map<number, number> {
  const at = new Map<number, number>();
  if (!(xcompBv >> 63n)) {
    for (const c of layout.components.values()) if (!c.supervisor) at.set(c.bit, c.offset);
    return at;
  }
  let next = XSAVE_HEADER_END;
  for (const bit of bitsOf(xcompBv & ((1n << 63n) - 1n))) {
    if (bit < 2) continue;
    const c = layout.components.get(bit);
    if (!c) throw new Error(`a compacted xsave area holds ${componentName(bit)}, which this CPU does not describe`);
    if (c.align64) next = Math.ceil(next / 64) * 64;
    at.set(bit, next);
    next += c.size;
  }
  return at;
}
