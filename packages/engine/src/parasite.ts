// State only the task itself can report, read by running single syscalls inside the stopped
// task (ENGINE-NOTES §2.1, §2.3): sigactions, itimers, brk, dumpable, subreaper, and per thread
// sigaltstack, clear_tid address, pdeath signal, securebits. Everything is put back afterwards.
import { native } from './native.js';
import type { MapLine } from './proc.js';
import { DumpError } from './log.js';

const NR = { mmap: 9, munmap: 11, brk: 12, rt_sigaction: 13, getitimer: 36, sigaltstack: 131, prctl: 157, timer_gettime: 224, timer_getoverrun: 225 };
const PR = { GET_PDEATHSIG: 2, GET_DUMPABLE: 3, GET_SECUREBITS: 27, GET_CHILD_SUBREAPER: 37, GET_TID_ADDRESS: 40 };
const TASK_SIZE = 0x7ffffffff000n;

export interface SigAction { handler: bigint; flags: bigint; restorer: bigint; mask: bigint }
export interface ITimer { isec: bigint; iusec: bigint; vsec: bigint; vusec: bigint }
export interface ProcessFacts {
  sigactions: SigAction[]; // 62 entries, signals 1..64 without 9 and 19
  itimers: ITimer[]; // real, virt, prof
  brk: bigint;
  dumpable: number;
  childSubreaper: boolean;
  posixTimers?: any[];
}
export interface ThreadFacts {
  sas: { sp: bigint; flags: number; size: bigint };
  clearTidAddr: bigint;
  pdeathSig: number;
  securebits: number;
}

/** Start of the first executable mapping below TASK_SIZE: where `syscall; int3` is patched in. */
export function syscallAddress(maps: MapLine[]): bigint {
  const m = maps.find((v) => v.perms[2] === 'x' && v.start >= 4096n && v.end <= TASK_SIZE);
  if (!m) throw new DumpError('no executable mapping to run syscalls in');
  return m.start;
}

export class Parasite {
  private scratch = 0n;
  constructor(private pid: number, private addr: bigint) {}

  call(tid: number, nr: number, args: (number | bigint)[] = []): bigint {
    return native().injectSyscall(tid, this.addr, nr, args);
  }

  private checked(tid: number, nr: number, args: (number | bigint)[], what: string): bigint {
    const r = this.call(tid, nr, args);
    if (r > 0xfffffffffffff000n) throw new DumpError(`task ${tid}: injected ${what} failed: errno ${Number(-BigInt.asIntN(64, r))}`);
    return r;
  }

  /** Maps one scratch page in the task (unmapped by finish()). */
  begin(): void {
    this.scratch = this.checked(this.pid, NR.mmap, [0, 4096, 3, 0x22, -1n & 0xffffffffffffffffn, 0], 'mmap');
  }

  finish(): void {
    if (!this.scratch) return;
    const s = this.scratch;
    this.scratch = 0n;
    this.checked(this.pid, NR.munmap, [s, 4096], 'munmap');
  }

  processFacts(): ProcessFacts {
    const s = this.scratch, pid = this.pid;
    const sigs: number[] = [];
    for (let sig = 1; sig <= 64; sig++) if (sig !== 9 && sig !== 19) sigs.push(sig);
    for (const sig of sigs) this.checked(pid, NR.rt_sigaction, [sig, 0, s + BigInt(sig * 32), 8], `rt_sigaction(${sig})`);
    for (let w = 0; w < 3; w++) this.checked(pid, NR.getitimer, [w, s + 2048n + BigInt(w * 32)], 'getitimer');
    const brk = this.checked(pid, NR.brk, [0], 'brk');
    const dumpable = Number(this.checked(pid, NR.prctl, [PR.GET_DUMPABLE, 0, 0, 0, 0], 'PR_GET_DUMPABLE'));
    this.checked(pid, NR.prctl, [PR.GET_CHILD_SUBREAPER, s + 2200n, 0, 0, 0], 'PR_GET_CHILD_SUBREAPER');
    const b = native().readMem(pid, s, 4096);
    const sigactions = sigs.map((sig) => ({
      handler: b.readBigUInt64LE(sig * 32), flags: b.readBigUInt64LE(sig * 32 + 8),
      restorer: b.readBigUInt64LE(sig * 32 + 16), mask: b.readBigUInt64LE(sig * 32 + 24),
    }));
    const itimers = [0, 1, 2].map((w) => {
      const o = 2048 + w * 32;
      return { isec: b.readBigInt64LE(o), iusec: b.readBigInt64LE(o + 8), vsec: b.readBigInt64LE(o + 16), vusec: b.readBigInt64LE(o + 24) };
    });
    return { sigactions, itimers, brk, dumpable, childSubreaper: b.readInt32LE(2200) !== 0 };
  }

  /** timer_gettime + timer_getoverrun for each POSIX timer id (from /proc/PID/timers). */
  posixTimers(ids: number[]): { id: number; isec: bigint; insec: bigint; vsec: bigint; vnsec: bigint; overrun: number }[] {
    const s = this.scratch, pid = this.pid;
    return ids.map((id) => {
      this.checked(pid, NR.timer_gettime, [id, s + 3584n], `timer_gettime(${id})`);
      const overrun = Number(this.checked(pid, NR.timer_getoverrun, [id], `timer_getoverrun(${id})`));
      const b = native().readMem(pid, s + 3584n, 32);
      return {
        id, isec: b.readBigInt64LE(0), insec: b.readBigInt64LE(8), vsec: b.readBigInt64LE(16), vnsec: b.readBigInt64LE(24), overrun,
      };
    });
  }

  threadFacts(tid: number): ThreadFacts {
    const s = this.scratch;
    this.checked(tid, NR.sigaltstack, [0, s + 3000n], 'sigaltstack');
    this.checked(tid, NR.prctl, [PR.GET_TID_ADDRESS, s + 3100n, 0, 0, 0], 'PR_GET_TID_ADDRESS');
    this.checked(tid, NR.prctl, [PR.GET_PDEATHSIG, s + 3200n, 0, 0, 0], 'PR_GET_PDEATHSIG');
    const securebits = Number(this.checked(tid, NR.prctl, [PR.GET_SECUREBITS, 0, 0, 0, 0], 'PR_GET_SECUREBITS'));
    const b = native().readMem(this.pid, s + 3000n, 256);
    return {
      sas: { sp: b.readBigUInt64LE(0), flags: b.readInt32LE(8), size: b.readBigUInt64LE(16) },
      clearTidAddr: b.readBigUInt64LE(100),
      pdeathSig: b.readInt32LE(200),
      securebits,
    };
  }
}
