// File identities and the files.img / fdinfo-N.img / fs-N.img / pipes-data.img content.
// One global id counter for all files (ENGINE-NOTES §0): one id per open file description
// (kcmp KCMP_FILE), "special" files (exe, mapped files) deduplicated by (dev, ino) except dirs
// and devices, which always get a new id.
import { closeSync, constants, openSync, readlinkSync, statSync, Stats } from 'node:fs';
import { native } from './native.js';
import { fdLink, listFds, readFdinfo, readStatus } from './proc.js';
import { buildId } from './elf.js';
import { DumpError, Log } from './log.js';
import type { UnixSockets } from './unix.js';

const O_WRONLY = 0o1, O_ACCMODE = 0o3, O_APPEND = 0o2000, O_CLOEXEC = 0o2000000;
const KCMP_FILE = 0;
const F_GETPIPE_SZ = 1032;
export const FOWN_NONE = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

interface OfdRecord { pid: number; fd: number; key: string; id: number }

export class Files {
  private nextId = 1;
  readonly entries: any[] = [];
  readonly pipeData: any[] = [];
  readonly fifoData: any[] = [];
  private pipesSeen = new Set<number>();
  private special = new Map<string, number>();
  private ofds: OfdRecord[] = [];
  unix?: UnixSockets;

  constructor(private log: Log) {}

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
    return id;
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
  dumpFds(pid: number, opts: { shellJob: boolean }): any[] {
    const out: any[] = [];
    for (const fd of listFds(pid)) {
      let link: string;
      try {
        link = fdLink(pid, fd);
      } catch {
        continue; // closed meanwhile (cannot happen while frozen, unless shared with an outside task)
      }
      const info = readFdinfo(pid, fd);
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
      switch (type) {
        case 'REG':
          this.entries.push({ type, id, reg: this.regEntry(id, stripDeleted(link), flags, info.pos, st, procFd) });
          break;
        case 'PIPE': {
          const ino = st.ino;
          this.entries.push({ type, id, pipe: { id, pipe_id: ino, flags, fown: FOWN_NONE } });
          this.collectPipeData(procFd, ino, this.pipeData);
          break;
        }
        case 'FIFO': {
          const regId = this.newId();
          this.entries.push({ type: 'REG', id: regId, reg: this.regEntry(regId, link, flags, 0n, st) });
          this.entries.push({ type, id, fifo: { id, pipe_id: st.ino, regf_id: regId } });
          this.collectPipeData(procFd, st.ino, this.fifoData);
          break;
        }
        case 'UNIXSK':
          this.unix!.dumpFd(pid, fd, id, st.ino, flags, (e) => this.entries.push(e));
          break;
      }
      out.push({ id, flags: fdFlags, type, fd });
    }
    return out;
  }

  private kindOf(pid: number, fd: number, link: string, st: Stats, opts: { shellJob: boolean }): string {
    const what = `fd ${fd} of task ${pid} (${link})`;
    if (link.endsWith(' (deleted)') && st.isFile()) throw new DumpError(`Can't dump ${what}: deleted open files (ghost files) are not supported yet`);
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
        if (opts.shellJob && (major(rdev) === 136 || major(rdev) === 4 || major(rdev) === 5)) {
          throw new DumpError(`Can't dump ${what}: terminals (--shell-job) are not supported yet`);
        }
      }
    }
    throw new DumpError(`Can't dump ${what}: unsupported file type`);
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
