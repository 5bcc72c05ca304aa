// State only the task itself can report, read by running single syscalls inside the stopped
// task (ENGINE-NOTES §2.1, §2.3): sigactions, itimers, brk, dumpable, subreaper, and per thread
// sigaltstack, clear_tid address, pdeath signal, securebits. Everything is put back afterwards.
import { native } from './native.js';
import type { MapLine } from './proc.js';
import { DumpError } from './log.js';

const NR = { membarrier: 324, mmap: 9, munmap: 11, brk: 12, rt_sigaction: 13, ioctl: 16, getitimer: 36, sigaltstack: 131, prctl: 157, timer_gettime: 224, timer_getoverrun: 225 };
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
  /** membarrier(2) registrations of the mm (MEMBARRIER_CMD_REGISTER_* bits) */
  membarrier: number;
  posixTimers?: any[];
}
/** What CRIU's parasite_dump_tty and its TCGETS/TIOCGLCKTRMIOS/TIOCGWINSZ calls report for a tty fd. */
export interface TtyFacts {
  sid: number;
  pgrp: number;
  exclusive: boolean;
  packetMode: boolean;
  locked: boolean;
  /** EIO on the get ioctls: a pty whose other side is gone; only the minimum is dumped */
  hangup: boolean;
  termios?: Buffer; // kernel struct termios, 36 bytes
  termiosLocked?: Buffer;
  winsize?: Buffer; // 8 bytes
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
    for (const sig of sigs) this.checked(pid, NR.rt_sigaction, [sig, 0, s + BigInt((sig - 1) * 32), 8], `rt_sigaction(${sig})`);
    for (let w = 0; w < 3; w++) this.checked(pid, NR.getitimer, [w, s + 2048n + BigInt(w * 32)], 'getitimer');
    const brk = this.checked(pid, NR.brk, [0], 'brk');
    const dumpable = Number(this.checked(pid, NR.prctl, [PR.GET_DUMPABLE, 0, 0, 0, 0], 'PR_GET_DUMPABLE'));
    this.checked(pid, NR.prctl, [PR.GET_CHILD_SUBREAPER, s + 2200n, 0, 0, 0], 'PR_GET_CHILD_SUBREAPER');
    const b = native().readMem(pid, s, 4096);
    const sigactions = sigs.map((sig) => ({
      handler: b.readBigUInt64LE((sig - 1) * 32), flags: b.readBigUInt64LE((sig - 1) * 32 + 8),
      restorer: b.readBigUInt64LE((sig - 1) * 32 + 16), mask: b.readBigUInt64LE((sig - 1) * 32 + 24),
    }));
    const itimers = [0, 1, 2].map((w) => {
      const o = 2048 + w * 32;
      return { isec: b.readBigInt64LE(o), iusec: b.readBigInt64LE(o + 8), vsec: b.readBigInt64LE(o + 16), vusec: b.readBigInt64LE(o + 24) };
    });
    return { sigactions, itimers, brk, dumpable, childSubreaper: b.readInt32LE(2200) !== 0, membarrier: this.membarrierRegistrations() };
  }

  /**
   * membarrier(2) registrations, as the REGISTER_* commands that make them again. Whether a private expedited
   * barrier runs tells whether the task registered for it: GET_REGISTRATIONS (Linux 6.3+) also reports it for a
   * task that registered only for the sync-core or rseq kind, which implies it without letting it run. Before
   * 6.3, these probes are all there is (CRIU's way; a global expedited registration cannot be seen there).
   */
  private membarrierRegistrations(): number {
    const GET_REGISTRATIONS = 1 << 9, QUERY = 0, PRIVATE_EXPEDITED = 1 << 3, EINVAL = 22, EPERM = 1;
    const errno = (r: bigint) => (r > 0xfffffffffffff000n ? Number(-BigInt.asIntN(64, r)) : 0);
    const runs = (cmd: number): boolean => {
      const e = errno(this.call(this.pid, NR.membarrier, [cmd, 0, 0]));
      if (e && e !== EPERM) throw new DumpError(`task ${this.pid}: injected membarrier(0x${cmd.toString(16)}) failed: errno ${e}`);
      return !e;
    };
    const r = this.call(this.pid, NR.membarrier, [GET_REGISTRATIONS, 0, 0]);
    if (!errno(r)) {
      const mask = Number(r);
      return mask & (PRIVATE_EXPEDITED << 1) && !runs(PRIVATE_EXPEDITED) ? mask & ~(PRIVATE_EXPEDITED << 1) : mask;
    }
    if (errno(r) !== EINVAL) throw new DumpError(`task ${this.pid}: injected membarrier(GET_REGISTRATIONS) failed: errno ${errno(r)}`);
    const supported = this.call(this.pid, NR.membarrier, [QUERY, 0, 0]);
    if (errno(supported)) return 0; // no membarrier(2) at all
    let mask = 0;
    for (const cmd of [PRIVATE_EXPEDITED, 1 << 5, 1 << 7]) { // and its _SYNC_CORE and _RSEQ kinds
      if (Number(supported) & cmd && runs(cmd)) mask |= cmd << 1;
    }
    return mask;
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

  /**
   * A terminal fd, asked from inside the task (TIOCGSID/TIOCGPGRP answer only for the caller's
   * controlling terminal): ENOTTY -> 0, EIO -> hung up, as CRIU's parasite_dump_tty.
   */
  ttyFacts(fd: number, pty: boolean): TtyFacts {
    const s = this.scratch, pid = this.pid;
    const ENOTTY = 25, EIO = 5;
    const f: TtyFacts = { sid: 0, pgrp: 0, exclusive: false, packetMode: false, locked: false, hangup: false };
    const intIoctl = (req: number, what: string): number | undefined => {
      const r = this.call(pid, NR.ioctl, [fd, req, s + 3800n]);
      if (r > 0xfffffffffffff000n) {
        const e = Number(-BigInt.asIntN(64, r));
        if (e === ENOTTY) return 0;
        if (e === EIO) return undefined;
        throw new DumpError(`task ${pid}: tty fd ${fd}: ${what} failed: errno ${e}`);
      }
      return native().readMem(pid, s + 3800n, 4).readInt32LE(0);
    };
    const TIOCGSID = 0x5429, TIOCGPGRP = 0x540f, TIOCGEXCL = 0x80045440, TIOCGPKT = 0x80045438, TIOCGPTLCK = 0x80045439;
    const vals: (number | undefined)[] = [intIoctl(TIOCGSID, 'TIOCGSID'), intIoctl(TIOCGPGRP, 'TIOCGPGRP'), intIoctl(TIOCGEXCL, 'TIOCGEXCL')];
    if (pty && !vals.includes(undefined)) vals.push(intIoctl(TIOCGPKT, 'TIOCGPKT'), intIoctl(TIOCGPTLCK, 'TIOCGPTLCK'));
    if (vals.includes(undefined)) {
      f.hangup = true;
      return f;
    }
    f.sid = vals[0]!;
    f.pgrp = vals[1]!;
    f.exclusive = vals[2] !== 0;
    f.packetMode = (vals[3] ?? 0) !== 0;
    f.locked = (vals[4] ?? 0) !== 0;
    const TCGETS = 0x5401, TIOCGLCKTRMIOS = 0x5456, TIOCGWINSZ = 0x5413;
    this.checked(pid, NR.ioctl, [fd, TCGETS, s + 3700n], `TCGETS on tty fd ${fd}`);
    this.checked(pid, NR.ioctl, [fd, TIOCGLCKTRMIOS, s + 3744n], `TIOCGLCKTRMIOS on tty fd ${fd}`);
    this.checked(pid, NR.ioctl, [fd, TIOCGWINSZ, s + 3784n], `TIOCGWINSZ on tty fd ${fd}`);
    const b = native().readMem(pid, s + 3700n, 96);
    f.termios = Buffer.from(b.subarray(0, 36));
    f.termiosLocked = Buffer.from(b.subarray(44, 80));
    f.winsize = Buffer.from(b.subarray(84, 92));
    return f;
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
