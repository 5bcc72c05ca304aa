// VMAs and mm fields (ENGINE-NOTES §3.5) from /proc/PID/smaps, stat and auxv.
import { lstatSync, statSync } from 'node:fs';
import { VMA } from '@ckpt/images';
import type { MapLine } from './proc.js';
import { readAuxv, readStat, readStatus } from './proc.js';
import { isShmem, memfdName, type Files } from './files.js';
import { DumpError } from './log.js';
import { native } from './native.js';
import { aioVma, isAioRing } from './aio.js';
import { packetMapId } from './kinds/packet.js';

/** mmap flags (kernel ABI), as vma_entry.flags holds them */
export const MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_DROPPABLE = 8, MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x100,
  MAP_LOCKED = 0x2000, MAP_NORESERVE = 0x4000, MAP_HUGETLB = 0x40000;
/** vma_entry.status of a guard area (CRIU's VMA_AREA_GUARD; not in CRIT's table of names, so not in ours) */
export const VMA_AREA_GUARD = 1 << 16;
const MADV: Record<string, number> = { rr: 1, sr: 2, dc: 10, mg: 12, hg: 14, nh: 15, dd: 16, wf: 18 };
const O_WRONLY = 1, O_RDWR = 2;

/** The open mode of the file behind a mapping, as CRIU reads it: the map_files link's mode mirrors the file
 * description's (0400 read, 0200 write). A MAP_SHARED mapping of an O_RDWR file may be made writable later
 * even when it is read-only now. undefined: no link (CRIU then guesses from the protection, as we do). */
function mapFileFlags(mf: string): number | undefined {
  let mode;
  try {
    mode = lstatSync(mf).mode & 0o600;
  } catch {
    return undefined;
  }
  return mode === 0o600 ? O_RDWR : mode === 0o200 ? O_WRONLY : 0;
}

export interface Vma {
  start: bigint; end: bigint; pgoff: bigint; shmid: number; prot: number; flags: number; status: number;
  fd: number; fdflags?: number; madv?: bigint;
  /** a socket's mapping: its shmid, once the fds are dumped */
  resolveShmid?: () => number;
}

function prot(perms: string): number {
  return (perms[0] === 'r' ? 1 : 0) | (perms[1] === 'w' ? 2 : 0) | (perms[2] === 'x' ? 4 : 0);
}

export function collectVmas(pid: number, maps: MapLine[], files: Files): Vma[] {
  const out: Vma[] = [];
  for (const m of maps) {
    if (isAioRing(m)) {
      out.push(aioVma(m));
      continue;
    }
    const v: Vma = { start: m.start, end: m.end, pgoff: 0n, shmid: 0, prot: prot(m.perms), flags: 0, status: VMA.VMA_AREA_REGULAR, fd: -1 };
    const shared = m.perms[3] === 's';
    v.flags = shared ? MAP_SHARED : MAP_PRIVATE;
    for (const f of m.vmFlags) {
      if (f === 'gd') v.flags |= MAP_GROWSDOWN;
      else if (f === 'lo') v.flags |= MAP_LOCKED;
      else if (f === 'nr') v.flags |= MAP_NORESERVE;
      else if (f === 'ht') v.flags |= MAP_HUGETLB;
      else if (f === 'dp') v.flags = (v.flags & ~MAP_PRIVATE) | MAP_DROPPABLE; // private in kind, but its own map type
      if (MADV[f] !== undefined) v.madv = (v.madv ?? 0n) | (1n << BigInt(MADV[f]));
    }
    const anon = m.ino === 0 && !m.path.startsWith('/');
    if (m.vmFlags.includes('ht')) {
      // hugetlbfs pages (MAP_HUGETLB, MFD_HUGETLB): the page size goes in the flags as mmap takes it (CRIU's
      // MAP_HUGETLB_2MB...); private anonymous ones are anonymous memory, shared ones a memfd inode (below)
      v.flags |= hugetlbFlag(pid, m);
      if (m.path.startsWith('/anon_hugepage') && !shared) {
        v.status |= VMA.VMA_ANON_PRIVATE;
        v.flags |= MAP_ANONYMOUS;
        out.push(v);
        continue;
      }
    }
    if (m.path === '[vsyscall]') {
      v.status = VMA.VMA_AREA_VSYSCALL | VMA.VMA_ANON_PRIVATE;
      v.flags |= MAP_ANONYMOUS;
    } else if (m.path === '[vvar]' || m.path === '[vvar_vclock]') {
      const prev = out[out.length - 1];
      if (m.path === '[vvar_vclock]' && prev && prev.status & VMA.VMA_AREA_VVAR && prev.end === m.start) {
        prev.end = m.end; // one VVAR entry for both parts, as CRIU writes it
        continue;
      }
      v.status |= VMA.VMA_ANON_PRIVATE | VMA.VMA_AREA_VVAR;
      v.flags |= MAP_ANONYMOUS;
    } else if (m.path === '[vdso]') {
      v.status |= VMA.VMA_AREA_VDSO | VMA.VMA_ANON_PRIVATE;
      v.flags |= MAP_ANONYMOUS;
    } else if (anon) {
      if (shared) throw new DumpError(`task ${pid}: shared anonymous mapping ${m.start.toString(16)}-${m.end.toString(16)} is not supported yet`);
      v.status |= VMA.VMA_ANON_PRIVATE | (m.path === '[heap]' ? VMA.VMA_AREA_HEAP : 0);
      v.flags |= MAP_ANONYMOUS;
    } else {
      const mf = `/proc/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
      // memfds and shared anonymous memory ("/dev/zero (deleted)" on the shmem device): memfd inodes
      const sharedAnon = (m.path.startsWith('/dev/zero') && isShmem(statSync(mf))) || (v.flags & MAP_HUGETLB && m.path.startsWith('/anon_hugepage'));
      if (m.path.startsWith('/memfd:') || sharedAnon) {
        v.shmid = files.memfdMapping(memfdName(m.path), mf);
        v.pgoff = m.pgoff;
        v.status |= (shared ? VMA.VMA_FILE_SHARED : VMA.VMA_FILE_PRIVATE) | VMA.VMA_AREA_MEMFD;
        v.fdflags = mapFileFlags(mf) ?? (shared && m.perms[1] === 'w' ? O_RDWR : 0);
        out.push(v);
        continue;
      }
      if (m.path.startsWith('socket:[')) {
        // a packet socket's ring (CRIU's VMA_AREA_SOCKET): no pages; shmid is the socket's file id, known once
        // the task's fds are dumped (the restore maps the ring of the socket made again)
        const ino = statSync(mf).ino;
        v.status |= VMA.VMA_AREA_SOCKET;
        v.pgoff = m.pgoff;
        v.fdflags = mapFileFlags(mf) ?? O_RDWR;
        v.resolveShmid = () => {
          const id = packetMapId(files, ino);
          if (id === undefined) throw new DumpError(`task ${pid}: mapping ${m.start.toString(16)}-${m.end.toString(16)} of socket:[${ino}]: only the rings of packet sockets open in the tree can be dumped`);
          return id;
        };
        out.push(v);
        continue;
      }
      if (m.path.startsWith('/SYSV') || m.path.startsWith('/dev/zero')) {
        throw new DumpError(`task ${pid}: mapping of ${m.path} (SysV shared memory) is not supported yet`);
      }
      v.shmid = files.specialFile(m.path.replace(/ \(deleted\)$/, ''), mf);
      v.pgoff = m.pgoff;
      v.status |= shared ? VMA.VMA_FILE_SHARED : VMA.VMA_FILE_PRIVATE;
      v.fdflags = mapFileFlags(mf) ?? (shared && m.perms[1] === 'w' ? O_RDWR : 0);
    }
    out.push(v);
  }
  out.push(...guardAreas(pid, out));
  return out;
}

/** MAP_HUGETLB with the huge page size (log2, at MAP_HUGE_SHIFT 26): as mmap and memfd_create take it */
function hugetlbFlag(pid: number, m: MapLine): number {
  const size = (m.pageKb ?? 0) * 1024;
  if (!size || size & (size - 1) || m.start % BigInt(size) || m.end % BigInt(size)) {
    throw new DumpError(`task ${pid}: hugetlb mapping ${m.start.toString(16)}-${m.end.toString(16)} (${m.path}): huge page size ${m.pageKb} kB not understood`);
  }
  return MAP_HUGETLB | (Math.log2(size) << 26);
}

/** Guard pages (madvise MADV_GUARD_INSTALL) are no VMAs of the kernel's; as CRIU does, they are entries of their
 * own (status VMA_AREA_GUARD only) after the VMAs, which the restorer installs again once the VMAs are there. */
function guardAreas(pid: number, vmas: Vma[]): Vma[] {
  const out: Vma[] = [];
  for (const v of vmas) {
    if (!(v.status & VMA.VMA_AREA_REGULAR) || v.status & (VMA.VMA_AREA_VVAR | VMA.VMA_AREA_VDSO)) continue;
    const r = native().scanPages(pid, v.start, v.end, { guards: true });
    for (let i = 0; i < r.length; i += 2) {
      out.push({ start: r[i], end: r[i] + r[i + 1] * 4096n, pgoff: 0n, shmid: 0, prot: 0, flags: 0, status: VMA_AREA_GUARD, fd: -1 });
    }
  }
  return out;
}

export function mmEntry(pid: number, vmas: Vma[], exeFileId: number, brk: bigint, dumpable: number): any {
  const s = readStat(pid);
  const n = (i: number) => BigInt(s[i]);
  const auxv = readAuxv(pid);
  // keep pairs up to (not including) AT_NULL, at most 44 values (x86 AT_VECTOR_SIZE)
  let end = auxv.length;
  for (let i = 0; i + 1 < auxv.length; i += 2) if (auxv[i] === 0n) { end = i; break; }
  const saved = auxv.slice(0, Math.min(end, 44));
  const status = readStatus(pid);
  return {
    mm_start_code: n(26), mm_end_code: n(27), mm_start_data: n(45), mm_end_data: n(46), mm_start_stack: n(28),
    mm_start_brk: n(47), mm_brk: brk, mm_arg_start: n(48), mm_arg_end: n(49), mm_env_start: n(50), mm_env_end: n(51),
    exe_file_id: exeFileId, mm_saved_auxv: saved,
    vmas: vmas.map((v) => {
      const e: any = { start: v.start, end: v.end, pgoff: v.pgoff, shmid: v.resolveShmid ? v.resolveShmid() : v.shmid, prot: v.prot, flags: v.flags, status: v.status, fd: v.fd };
      if (v.fdflags !== undefined) e.fdflags = v.fdflags;
      if (v.madv) e.madv = v.madv;
      return e;
    }),
    dumpable, thp_disabled: status.THP_enabled === '0',
  };
}
