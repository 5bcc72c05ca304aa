// A task's vDSO against this kernel's (what CRIU calls the vDSO proxy: criu/pie/parasite-vdso.c). The dumped
// program keeps pointers to the vDSO functions it looked up at start (glibc caches them), so the code at the
// dumped addresses must do what it did. Same sizes, order and function offsets: the restorer maps this
// kernel's vvar+vDSO where the dump had them. Otherwise the dumped vDSO comes back from the pages image like
// any private mapping, each of its entry points becomes a jump into the same function of this kernel's vDSO
// (mapped by the restorer in a hole), and the dumped vvar area is mapped inaccessible: the old code only runs
// behind the jumps, and a stray read of its data must fault rather than return times computed from zeros.
import { imageFileName, type PageReader } from '@ckpt/images';
import { runningVdso, VdsoError, vdsoSymbols, type RunningVdso, type VdsoSymbol } from '../vdso.js';
import { b, n, RestoreError } from './read.js';
import type { PlanTask } from './types.js';

/** x86-64 syscall numbers of the vDSO functions a plain syscall can stand in for, when this kernel lacks them */
const SYSCALL_OF: Record<string, number> = { clock_gettime: 228, gettimeofday: 96, time: 201, getcpu: 309, clock_getres: 229 };

const MAP_PRIVATE_ANON = 0x22;
type Vma = PlanTask['vmas'][number];

const hex = (v: number | bigint) => `0x${v.toString(16)}`;

/** The test hook CKPT_VDSO_PROXY: 'always' proxies even a matching vDSO; 'syscall' also puts a syscall in place
 * of every function that has one, instead of a jump. */
function proxyHook(): '' | 'always' | 'syscall' {
  const v = process.env.CKPT_VDSO_PROXY ?? '';
  if (v !== '' && v !== 'always' && v !== 'syscall') throw new RestoreError(`CKPT_VDSO_PROXY=${v}: expected 'always' or 'syscall'`);
  return v;
}

/**
 * Decides how task t's vDSO comes back: t.vdso.proxy and its patches. vvar and vdso are the dump's VMA entries,
 * ips the threads' instruction pointers. Returns the VMAs the dumped vvar and vDSO become when proxied (text
 * receives its pages), undefined when the running ones take their place.
 */
export function planVdso(pages: PageReader, t: PlanTask, who: string, vvar: any, vdso: any, ips: [number, bigint][]): { vvar: Vma; text: Vma } | undefined {
  const rt = runningVdso();
  const start = b(vdso.start), len = b(vdso.end) - start;
  if (!rt) throw new RestoreError(`${who}: the dump has a vDSO, this kernel maps none`);
  const img = dumpedImage(pages, t.pid, who, start, len);
  let syms: VdsoSymbol[];
  try {
    syms = vdsoSymbols(img);
  } catch (e) {
    if (!(e instanceof VdsoError)) throw e;
    throw new RestoreError(`${who}: the dumped vDSO at ${hex(start)}: ${e.message}`);
  }
  const hook = proxyHook();
  const why = hook ? `CKPT_VDSO_PROXY=${hook}` : difference(t, rt, syms);
  const vdsoText = `${who}: the dumped vDSO`;
  if (!why) {
    // the same functions at the same places: a thread stopped inside one goes on in this kernel's code, which
    // must then be the same code
    if (!img.equals(rt.image)) refuseInside(ips, start, len, new Set(syms.map((s) => s.offset)), 'its code differs from this kernel\'s', who);
    return undefined;
  }
  t.vdso.proxy = 1;
  t.vdso.why = why;
  t.vdso.patches = patches(syms, rt, hook === 'syscall', vdsoText).map((p) => ({ ...p, at: start + BigInt(p.off) }));
  const windows = [...t.vdso.patches].sort((x, y) => (x.at < y.at ? -1 : 1));
  for (const [i, p] of windows.entries()) {
    const next = windows[i + 1];
    if (p.at + BigInt(p.code.length) > (next ? next.at : start + len)) {
      throw new RestoreError(`${vdsoText}'s function at +${hex(p.at - start)} is too short for its ${p.code.length}-byte jump`);
    }
  }
  refuseInside(ips, start, len, new Set(windows.map((p) => Number(p.at - start))), 'its entry points are rewritten to use this kernel\'s vDSO', who);
  return {
    vvar: { start: b(vvar.start), end: b(vvar.end), pgoff: 0n, prot: 0, flags: MAP_PRIVATE_ANON, file: -1, madv: 0n, addWrite: 0 },
    text: { start, end: start + len, pgoff: 0n, prot: n(vdso.prot), flags: MAP_PRIVATE_ANON, file: -1, madv: b(vdso.madv), addWrite: 1 },
  };
}

/** The dumped vDSO's bytes, from the pages image (CRIU and we always dump the whole vDSO). */
function dumpedImage(pages: PageReader, pid: number, who: string, start: bigint, len: bigint): Buffer {
  let got;
  try {
    got = pages.read(start, Number(len));
  } catch (err) {
    throw new RestoreError(`${who}: the vDSO at ${hex(start)} in ${pages.pagesFile.split('/').pop()}: ${(err as Error).message}`);
  }
  if (got.missing) throw new RestoreError(`${who}: ${imageFileName('pagemap', pid)} lacks ${got.missing} bytes of the vDSO at ${hex(start)}: cannot compare it with this kernel's`);
  return got.data;
}

/** What keeps this kernel's vvar+vDSO from standing in for the dumped ones ('' when nothing does). */
function difference(t: PlanTask, rt: RunningVdso, syms: VdsoSymbol[]): string {
  const kib = (v: bigint) => `${v >> 10n} KiB`;
  if (t.vdso.vdsoLen !== rt.vdsoLen) return `vDSO of ${kib(t.vdso.vdsoLen)} in the dump, ${kib(rt.vdsoLen)} here`;
  if (t.vdso.vvarLen !== rt.vvarLen) return `vvar of ${kib(t.vdso.vvarLen)} in the dump, ${kib(rt.vvarLen)} here`;
  if (t.vdso.expect !== t.vdso.hint + t.vdso.vvarLen || !rt.vvarFirst) return 'vvar and vDSO in another order';
  const here = new Map(rt.symbols.map((s) => [s.name, s.offset]));
  for (const s of syms) {
    const o = here.get(s.name);
    if (o !== s.offset) return `${s.name} at ${hex(s.offset)} in the dump, ${o === undefined ? 'absent' : hex(o)} here`;
  }
  return '';
}

/** One patch per entry point of the dumped vDSO: a jump into the running vDSO's function of the same name
 * (movabs $addr, %rax; jmp *%rax - %rax is scratch at a call; the helper adds the running vDSO's address to the
 * 8 bytes at `rel`), or, for a function this kernel lacks (or with the 'syscall' hook), the syscall it stands for. */
function patches(syms: VdsoSymbol[], rt: RunningVdso, preferSyscall: boolean, what: string): { off: number; code: Buffer; rel: number }[] {
  const here = new Map(rt.symbols.map((s) => [s.name, s.offset]));
  const names = new Map<number, string[]>();
  for (const s of syms) names.set(s.offset, [...(names.get(s.offset) ?? []), s.name]);
  const out: { off: number; code: Buffer; rel: number }[] = [];
  for (const [off, all] of names) {
    all.sort((x, y) => Number(!x.startsWith('__vdso_')) - Number(!y.startsWith('__vdso_')));
    const target = all.map((s) => here.get(s)).find((o) => o !== undefined);
    const nr = all.map((s) => SYSCALL_OF[s.replace(/^__vdso_/, '')]).find((v) => v !== undefined);
    if (nr !== undefined && (preferSyscall || target === undefined)) {
      const code = Buffer.from([0xb8, 0, 0, 0, 0, 0x0f, 0x05, 0xc3]); // mov $nr, %eax; syscall; ret
      code.writeUInt32LE(nr, 1);
      out.push({ off, code, rel: -1 });
    } else if (target !== undefined) {
      const code = Buffer.from([0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe0]);
      code.writeBigUInt64LE(BigInt(target), 2);
      out.push({ off, code, rel: 2 });
    } else {
      throw new RestoreError(`${what}'s ${all.join('/')} has no counterpart in this kernel's vDSO`);
    }
  }
  return out;
}

/** Refuses a thread stopped inside the dumped vDSO's code other than at an entry point in `entries`. */
function refuseInside(ips: [number, bigint][], start: bigint, len: bigint, entries: Set<number>, because: string, who: string): void {
  for (const [tid, ip] of ips) {
    if (ip >= start && ip < start + len && !entries.has(Number(ip - start))) {
      throw new RestoreError(`${who} thread ${tid}: stopped inside the dumped vDSO (+${hex(ip - start)}), and ${because}; dump it again`);
    }
  }
}
