// File identities and the files.img / fdinfo-N.img / fs-N.img / pipes-data.img content.
// One global id counter for all files (ENGINE-NOTES §0): one id per open file description
// (kcmp KCMP_FILE), "special" files (exe, mapped files) deduplicated by (dev, ino) except dirs
// and devices, which always get a new id.
import { closeSync, constants, openSync, readlinkSync, readSync, statSync, writeSync, Stats } from 'node:fs';
import { join } from 'node:path';
import { imageFileName } from '@ckpt/images';
import { native } from './native.js';
import { fdLink, listFds, readFdinfo, readStatus } from './proc.js';
import { buildId } from './elf.js';
import { DumpError, Log } from './log.js';
import { anonKind, epollEntry, fdinfoEntry } from './fdkinds.js';
import { writeImage } from './images-out.js';
import type { UnixSockets } from './unix.js';
import type { TtyFacts } from './parasite.js';

const O_WRONLY = 0o1, O_ACCMODE = 0o3, O_APPEND = 0o2000, O_CLOEXEC = 0o2000000;
const KCMP_FILE = 0;
const F_GETPIPE_SZ = 1032, F_GET_SEALS = 1034;
const SEEK_DATA = 3, SEEK_HOLE = 4;
export const FOWN_NONE = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
/** CRIU's default --ghost-limit: deleted files larger than this (on disk) are refused. */
const GHOST_LIMIT = 1 << 20;
/** Ghost files of at least this size are written in chunks (SEEK_DATA/SEEK_HOLE), as CRIU does. */
const GHOST_CHUNKS_THRESH = 3 * 4096;

/** Where the files code writes images of its own (ghost files, shmem pages) and takes pages ids from. */
export interface FilesOutput { dir: string; nextPagesId(): number }

interface OfdRecord { pid: number; fd: number; key: string; id: number }

/** A pts fd seen in the dump (CRIU's tty_dump_info): checked against the tree once every task is dumped. */
export interface TtySeen { pid: number; fd: number; index: number; sid: number; pgrp: number; hangup: boolean }

/** Whether st is a terminal this dump handles: a pts slave (major 136..143). */
export function isPtsSlave(st: Stats): boolean {
  return st.isCharacterDevice() && major(st.rdev) >= 136 && major(st.rdev) <= 143;
}

export class Files {
  private nextId = 1;
  readonly entries: any[] = [];
  readonly pipeData: any[] = [];
  readonly fifoData: any[] = [];
  private pipesSeen = new Set<number>();
  private special = new Map<string, number>();
  private ofds: OfdRecord[] = [];
  unix?: UnixSockets;
  /** remap-fpath.img entries (ghost files) */
  readonly remaps: any[] = [];
  /** filelocks.img entries (--file-locks) */
  readonly locks: any[] = [];
  private lockKeys = new Set<string>();
  /** memfd.img entries (memfd and shared-anonymous inodes) */
  readonly memfdInodes: any[] = [];
  private ghosts = new Map<string, number>(); // dev:ino -> ghost id
  private nextGhost = 1;
  private memfdIds = new Map<string, number>(); // dev:ino -> inode_id
  private memfdFiles = new Map<string, number>(); // dev:ino -> file id of the VMA memfd entry
  shmemPagesWritten = 0;
  shmemPagesScanned = 0;
  /** tty-info.img entries, one per terminal (tty_info_id) */
  readonly ttyInfos: any[] = [];
  readonly ttys: TtySeen[] = [];
  /** epoll entries whose targets were found under other fds: written after every task, as CRIU */
  readonly deferredEpoll: any[] = [];

  constructor(private log: Log, private out?: FilesOutput) {}

  newId(): number {
    return this.nextId++;
  }

  /** exe, mapped files, cwd, root. statPath is a /proc link to the object (map_files, exe, cwd). */
  specialFile(name: string, statPath: string): number {
    const st = statSync(statPath);
    const isRegular = st.isFile();
    const key = `${st.dev}:${st.ino}`;
    if (isRegular && this.special.has(key)) return this.special.get(key)!;
    const id = this.newId();
    if (isRegular) this.special.set(key, id);
    this.entries.push({ type: 'REG', id, reg: this.regEntry(id, name, 0, 0n, st, isRegular ? statPath : undefined) });
    if (isRegular && st.nlink === 0) this.ghost(id, statPath, `mapped file ${name}`);
    return id;
  }

  /**
   * A memfd or shared anonymous mapping (CRIU 4.2 dumps both as memfd inodes): one MEMFD file entry per
   * inode (flags 0, pos 0), the inode in memfd.img and its pages in pagemap-shmem-INO.img.
   */
  memfdMapping(name: string, statPath: string): number {
    const st = statSync(statPath);
    const key = `${st.dev}:${st.ino}`;
    const known = this.memfdFiles.get(key);
    if (known !== undefined) return known;
    const id = this.newId();
    this.memfdFiles.set(key, id);
    const inode_id = this.memfdInode(name, statPath, st);
    this.entries.push({ type: 'MEMFD', id, memfd: { id, flags: 0, pos: 0n, fown: FOWN_NONE, inode_id } });
    return id;
  }

  private memfdInode(name: string, path: string, st: Stats): number {
    const key = `${st.dev}:${st.ino}`;
    const known = this.memfdIds.get(key);
    if (known !== undefined) return known;
    const inode_id = this.memfdIds.size + 1;
    this.memfdIds.set(key, inode_id);
    const fd = openSync(path, constants.O_RDONLY);
    try {
      const seals = native().fcntl(fd, F_GET_SEALS);
      if (seals < 0) throw new DumpError(`Can't read the seals of memfd ${name}: errno ${-seals}`);
      this.dumpShmemPages(fd, st.ino, st.size);
      this.memfdInodes.push({
        name, uid: st.uid, gid: st.gid, size: BigInt(st.size), shmid: st.ino, seals, inode_id: BigInt(inode_id), mode: st.mode,
      });
    } finally {
      closeSync(fd);
    }
    return inode_id;
  }

  /** Present pages of a shmem file (SEEK_DATA/SEEK_HOLE) into pagemap-shmem-INO.img + pages-N.img. */
  private dumpShmemPages(fd: number, ino: number, size: number): void {
    if (!this.out) throw new DumpError('shared memory needs an images dir');
    const n = native();
    const runs: [number, number][] = [];
    let off = 0;
    while (off < size) {
      const d = n.lseek(fd, off, SEEK_DATA);
      if (typeof d === 'number') break; // ENXIO: no more data
      const h = n.lseek(fd, d, SEEK_HOLE);
      const start = Number(d) & ~4095;
      const end = Math.min(typeof h === 'number' ? size : Number(h), size);
      const endPage = (end + 4095) & ~4095;
      if (endPage > start) runs.push([start, (endPage - start) / 4096]);
      off = endPage;
    }
    const pagesId = this.out.nextPagesId();
    const out = openSync(join(this.out.dir, imageFileName('pages', pagesId)), 'w');
    try {
      const buf = Buffer.alloc(1 << 20);
      for (const [start, nr] of runs) {
        let pos = start;
        const stop = start + nr * 4096;
        while (pos < stop) {
          const len = Math.min(buf.length, stop - pos);
          buf.fill(0, 0, len);
          let got = 0;
          while (got < len) {
            const r = readSync(fd, buf, got, len - got, pos + got);
            if (r <= 0) break;
            got += r;
          }
          writeSync(out, buf, 0, len);
          pos += len;
        }
        this.shmemPagesWritten += nr;
      }
    } finally {
      closeSync(out);
    }
    this.shmemPagesScanned += Math.ceil(size / 4096);
    writeImage(this.out.dir, 'pagemap-shmem', ino, {
      magic: 'PAGEMAP', entries: [{ pages_id: pagesId }, ...runs.map(([v, nr]) => ({ vaddr: BigInt(v), compat_nr_pages: 0, flags: 4, nr_pages: nr }))],
    });
  }

  /**
   * A deleted-but-open file: its contents go to ghost-file-ID.img (once per inode), and
   * remap-fpath.img maps the file id to it (CRIU's GHOST remap).
   */
  private ghost(id: number, path: string, what: string): void {
    if (!this.out) throw new DumpError(`Can't dump ${what}: ghost files need an images dir`);
    const st = statSync(path, { bigint: true });
    const onDisk = Number(st.blocks) * 512;
    if (onDisk > GHOST_LIMIT) {
      throw new DumpError(`Can't dump ${what}: deleted file with ${onDisk} bytes on disk is over the ghost file limit (${GHOST_LIMIT})`);
    }
    const key = `${st.dev}:${st.ino}`;
    let gid = this.ghosts.get(key);
    if (gid === undefined) {
      gid = this.nextGhost++;
      this.ghosts.set(key, gid);
      this.writeGhost(gid, path, st);
    }
    this.remaps.push({ orig_id: id, remap_id: gid, remap_type: 'GHOST' });
  }

  private writeGhost(gid: number, path: string, st: import('node:fs').BigIntStats): void {
    const dev = Number(st.dev);
    const mode = Number(st.mode);
    const size = Number(st.size);
    const head: any = {
      uid: Number(st.uid), gid: Number(st.gid), mode,
      dev: kdev(major(dev), minor(dev)), ino: st.ino,
      atim: { tv_sec: st.atimeNs / 1000000000n, tv_usec: (st.atimeNs % 1000000000n) / 1000n },
      mtim: { tv_sec: st.mtimeNs / 1000000000n, tv_usec: (st.mtimeNs % 1000000000n) / 1000n },
    };
    const S_IFMT = 0o170000, S_IFREG = 0o100000, S_IFCHR = 0o020000, S_IFBLK = 0o060000;
    if ((mode & S_IFMT) === S_IFCHR || (mode & S_IFMT) === S_IFBLK) head.rdev = Number(st.rdev);
    const entries: any[] = [head];
    if ((mode & S_IFMT) === S_IFREG) {
      const fd = openSync(path, constants.O_RDONLY);
      try {
        const read = (off: number, len: number) => {
          const b = Buffer.alloc(len);
          let got = 0;
          while (got < len) {
            const r = readSync(fd, b, got, len - got, off + got);
            if (r <= 0) break;
            got += r;
          }
          return b.subarray(0, got);
        };
        if (size >= GHOST_CHUNKS_THRESH) {
          head.chunks = true;
          head.size = BigInt(size);
          const n = native();
          let hole = 0;
          while (hole < size) {
            let data: number;
            const d = n.lseek(fd, hole, SEEK_DATA);
            if (typeof d === 'number') {
              if (d === -6 /* ENXIO */) break;
              if (hole !== 0) throw new DumpError(`Can't seek data in ghost file ${path}: errno ${-d}`);
              data = 0;
              hole = size;
            } else {
              data = Number(d);
              const h = n.lseek(fd, data, SEEK_HOLE);
              if (typeof h === 'number') throw new DumpError(`Can't seek hole in ghost file ${path}: errno ${-h}`);
              hole = Number(h);
            }
            const chunk = read(data, hole - data);
            entries.push({ len: BigInt(hole - data), off: BigInt(data), extra: chunk });
          }
        } else {
          head.extra = read(0, size);
        }
      } finally {
        closeSync(fd);
      }
    }
    writeImage(this.out!.dir, 'ghost-file', gid, { magic: 'GHOST_FILE', entries });
  }

  private regEntry(id: number, name: string, flags: number, pos: bigint, st: Stats, elfPath?: string): any {
    const reg: any = { id, flags, pos, fown: FOWN_NONE, name };
    const wronlyAppend = (flags & O_ACCMODE) === O_WRONLY && (flags & O_APPEND) !== 0;
    if (st.isFile() && !wronlyAppend) reg.size = BigInt(st.size);
    reg.mode = st.mode;
    if (elfPath && st.isFile()) {
      const b = buildId(elfPath);
      if (b) reg.build_id = b;
    }
    return reg;
  }

  /** Dumps the fd table of pid; returns the fdinfo entries. */
  dumpFds(pid: number, opts: { shellJob: boolean; fileLocks?: boolean; ttys?: Map<number, TtyFacts> }): any[] {
    const out: any[] = [];
    for (const fd of listFds(pid)) {
      let link: string;
      try {
        link = fdLink(pid, fd);
      } catch {
        continue; // closed meanwhile (cannot happen while frozen, unless shared with an outside task)
      }
      const info = readFdinfo(pid, fd);
      this.collectLocks(pid, fd, link, info.lines, !!opts.fileLocks);
      const fdFlags = info.flags & O_CLOEXEC ? 1 : 0;
      const flags = info.flags & ~O_CLOEXEC;
      const procFd = `/proc/${pid}/fd/${fd}`;
      const st = statSync(procFd);
      const key = `${link}|${st.dev}:${st.ino}`;
      const known = this.ofds.find((o) => o.key === key && native().kcmp(pid, o.pid, KCMP_FILE, fd, o.fd) === 0);
      const type = this.kindOf(pid, fd, link, st, opts);
      if (known) {
        out.push({ id: known.id, flags: fdFlags, type, fd });
        continue;
      }
      const id = this.newId();
      this.ofds.push({ pid, fd, key, id });
      const what = `fd ${fd} of task ${pid} (${link})`;
      const fown = this.fown(pid, fd);
      switch (type) {
        case 'REG': {
          const reg = this.regEntry(id, stripDeleted(link), flags, info.pos, st, procFd);
          reg.fown = fown;
          this.entries.push({ type, id, reg });
          if (st.isFile() && st.nlink === 0) this.ghost(id, procFd, what);
          break;
        }
        case 'PIPE': {
          const ino = st.ino;
          this.entries.push({ type, id, pipe: { id, pipe_id: ino, flags, fown } });
          this.collectPipeData(procFd, ino, this.pipeData);
          break;
        }
        case 'FIFO': {
          const regId = this.newId();
          const reg = this.regEntry(regId, link, flags, 0n, st);
          reg.fown = fown;
          this.entries.push({ type: 'REG', id: regId, reg });
          this.entries.push({ type, id, fifo: { id, pipe_id: st.ino, regf_id: regId } });
          this.collectPipeData(procFd, st.ino, this.fifoData);
          break;
        }
        case 'UNIXSK':
          this.unix!.dumpFd(pid, fd, id, st.ino, flags, (e) => this.entries.push(e));
          break;
        case 'EVENTPOLL': {
          const e = epollEntry(id, flags, fown, info.lines, pid, fd, what);
          if (e.moved) this.deferredEpoll.push(e.entry);
          else this.entries.push(e.entry);
          break;
        }
        case 'TTY':
          this.dumpTty(pid, fd, id, link, flags, info.pos, st, fown, opts.ttys?.get(fd));
          break;
        case 'MEMFD': {
          const inode_id = this.memfdInode(memfdName(link), procFd, st);
          this.entries.push({ type, id, memfd: { id, flags, pos: info.pos, fown, inode_id } });
          break;
        }
        default:
          this.entries.push(fdinfoEntry(type, id, flags, fown, info.lines, pid, what));
      }
      out.push({ id, flags: fdFlags, type, fd });
    }
    return out;
  }

  private kindOf(pid: number, fd: number, link: string, st: Stats, opts: { shellJob: boolean }): string {
    const what = `fd ${fd} of task ${pid} (${link})`;
    const anon = anonKind(link);
    if (anon) return anon;
    if (link.startsWith('/memfd:') && st.isFile()) return 'MEMFD';
    if (st.isFIFO()) return link.startsWith('pipe:') ? 'PIPE' : 'FIFO';
    if (st.isSocket()) {
      if (this.unix?.isUnix(st.ino)) return 'UNIXSK';
      throw new DumpError(`Can't dump ${what}: only unix sockets are supported`);
    }
    if (link.startsWith('/')) {
      if (st.isFile() || st.isDirectory()) return 'REG';
      if (st.isCharacterDevice()) {
        const rdev = st.rdev;
        if (rdev === makedev(1, 3) || rdev === makedev(1, 5)) return 'REG'; // /dev/null, /dev/zero
        if (isPtsSlave(st)) return 'TTY';
        if (major(rdev) === 5 || major(rdev) === 4 || major(rdev) === 204) {
          throw new DumpError(`Can't dump ${what}: only pts terminals are supported (not ptmx, /dev/tty, consoles or serial lines)`);
        }
      }
    }
    throw new DumpError(`Can't dump ${what}: unsupported file type`);
  }

  /**
   * A pts slave (CRIU's dump_one_tty): a REG entry for the device path (regf_id, a new id), the
   * terminal's tty-info entry once per tty_info_id (index << 1 for a slave), then the TTY entry.
   */
  private dumpTty(pid: number, fd: number, id: number, link: string, flags: number, pos: bigint, st: Stats, fown: any, f?: TtyFacts): void {
    const what = `fd ${fd} of task ${pid} (${link})`;
    const m = /\/(\d+)$/.exec(link);
    if (!m) throw new DumpError(`Can't dump ${what}: can't tell the pts index from its path`);
    if (!f) throw new DumpError(`Can't dump ${what}: terminal state was not collected`);
    const index = Number(m[1]);
    const ttyInfoId = index << 1;
    const regId = this.newId();
    const reg = this.regEntry(regId, link, flags, pos, st);
    reg.fown = fown;
    this.entries.push({ type: 'REG', id: regId, reg });
    if (!this.ttyInfos.some((t) => t.id === ttyInfoId)) {
      const info: any = {
        id: ttyInfoId, type: 'PTY', locked: f.locked, exclusive: f.exclusive, packet_mode: f.packetMode,
        sid: f.sid, pgrp: f.pgrp, rdev: st.rdev,
      };
      if (!f.hangup) {
        info.termios = termiosEntry(f.termios!);
        info.termios_locked = termiosEntry(f.termiosLocked!);
        const w = f.winsize!;
        info.winsize = { ws_row: w.readUInt16LE(0), ws_col: w.readUInt16LE(2), ws_xpixel: w.readUInt16LE(4), ws_ypixel: w.readUInt16LE(6) };
      }
      info.pty = { index };
      info.dev = st.dev;
      info.uid = st.uid;
      info.gid = st.gid;
      this.ttyInfos.push(info);
      this.ttys.push({ pid, fd, index, sid: f.sid, pgrp: f.pgrp, hangup: f.hangup });
    }
    this.entries.push({ type: 'TTY', id, tty: { id, tty_info_id: ttyInfoId, flags, fown, regf_id: regId } });
  }

  private collectPipeData(procFd: string, ino: number, into: any[]): void {
    if (this.pipesSeen.has(ino)) return;
    this.pipesSeen.add(ino);
    const fd = openSync(procFd, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const data = native().pipePeek(fd);
      const size = native().fcntl(fd, F_GETPIPE_SZ);
      into.push({ pipe_id: ino, bytes: data.length, size, extra: data });
    } finally {
      closeSync(fd);
    }
  }

  /** fs-PID.img: cwd and root get new ids (directories are never shared by id), umask from status. */
  fsEntry(pid: number): any {
    const cwd_id = this.specialFile(readlinkSync(`/proc/${pid}/cwd`), `/proc/${pid}/cwd`);
    const root_id = this.specialFile(readlinkSync(`/proc/${pid}/root`), `/proc/${pid}/root`);
    const umask = parseInt(readStatus(pid).Umask ?? '022', 8);
    return { cwd_id, root_id, umask };
  }

  /**
   * Locks set through this fd (fdinfo "lock:" lines: POSIX, FLOCK, OFDLCK). CRIU refuses a tree holding
   * locks unless --file-locks is given; then they go to filelocks.img (flag FL_POSIX 1, FL_FLOCK 2,
   * FL_OFD 4; type F_RDLCK 0 / F_WRLCK 1; len 0 = to EOF).
   */
  private collectLocks(pid: number, fd: number, link: string, lines: string[], allowed: boolean): void {
    for (const l of lines) {
      const m = /^lock:\s*\d+:\s*(\S+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(\S+)\s+(\d+)\s+(\d+|EOF)/.exec(l);
      if (!m) continue;
      const [, kind, , rw, lpid, devIno, start, end] = m;
      const what = `fd ${fd} of task ${pid} (${link})`;
      if (!allowed) throw new DumpError(`Can't dump ${what}: it holds a ${kind} ${rw} lock; use --file-locks to dump file locks`);
      const flag = kind === 'POSIX' ? 1 : kind === 'FLOCK' ? 2 : kind === 'OFDLCK' ? 4 : 0;
      if (!flag || (rw !== 'READ' && rw !== 'WRITE')) throw new DumpError(`Can't dump ${what}: ${kind} ${rw} locks are not supported`);
      const key = `${devIno}|${kind}|${rw}|${start}|${end}|${lpid}`;
      if (this.lockKeys.has(key)) continue; // the same lock seen through a dup of the fd
      this.lockKeys.add(key);
      const s = BigInt(start);
      this.locks.push({
        flag, type: rw === 'READ' ? 0 : 1, pid: Number(lpid) > 0 ? Number(lpid) : pid, fd,
        start: s, len: end === 'EOF' ? 0n : BigInt(end) - s + 1n,
      });
    }
  }

  /** The owner (F_SETOWN) of the task's open file description; all zero when none is set. */
  private fown(pid: number, fd: number): any {
    const n = native();
    let local: number;
    try {
      local = n.getFd(pid, fd);
    } catch {
      return FOWN_NONE;
    }
    try {
      const o = n.fown(local);
      if (!o.pid) return FOWN_NONE;
      return { uid: o.uid, euid: o.euid, signum: o.signum, pid_type: o.pidType, pid: o.pid };
    } catch {
      return FOWN_NONE;
    } finally {
      n.close(local);
    }
  }
}

/**
 * termios_entry as CRIU fills it: the flags, c_line, and c_cc as a memcpy of glibc's 32-byte c_cc
 * (the kernel's 19 bytes, then zeros) over the first 8 of 19 u32 words; CRIU leaves the other 11
 * words uninitialised, we write zeros. Speeds stay 0.
 */
function termiosEntry(k: Buffer): any {
  const cc = Buffer.alloc(19 * 4);
  k.copy(cc, 0, 17, 36);
  const c_cc: number[] = [];
  for (let i = 0; i < 19; i++) c_cc.push(cc.readUInt32LE(i * 4));
  return {
    c_iflag: k.readUInt32LE(0), c_oflag: k.readUInt32LE(4), c_cflag: k.readUInt32LE(8), c_lflag: k.readUInt32LE(12),
    c_line: k[16], c_ispeed: 0, c_ospeed: 0, c_cc,
  };
}

/** "/memfd:NAME (deleted)" -> NAME; the shared-anonymous "/dev/zero (deleted)" -> "/dev/zero". */
export function memfdName(link: string): string {
  const s = stripDeleted(link);
  return s.startsWith('/memfd:') ? s.slice(7) : s;
}

function stripDeleted(link: string): string {
  return link.endsWith(' (deleted)') ? link.slice(0, -10) : link;
}
function makedev(ma: number, mi: number): number {
  return (ma << 8) | mi;
}
function major(dev: number): number {
  return (dev >> 8) & 0xfff;
}
function minor(dev: number): number {
  return (dev & 0xff) | ((dev >> 12) & 0xfff00);
}
/** The kernel's internal dev_t (MKDEV), as CRIU stores devices of ghost files. */
function kdev(ma: number, mi: number): number {
  return ((ma << 20) | mi) >>> 0;
}
