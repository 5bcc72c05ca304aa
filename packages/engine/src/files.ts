// File identities and the files.img / fdinfo-N.img / fs-N.img content. One global id counter for all
// files (ENGINE-NOTES §0): one id per open file description (kcmp KCMP_FILE), "special" files (exe,
// mapped files) deduplicated by (dev, ino) except dirs and devices, which always get a new id. What
// each kind of file is dumped into is its module's business (kinds/); this is the fd table around it,
// and the images the kinds fill.
import { readlinkSync, statSync } from 'node:fs';
import { native } from './native.js';
import { fdLink, listFds, readFdinfo, readStatus } from './proc.js';
import { DumpError, Log } from './log.js';
import { detectKind } from './kinds/index.js';
import { O_CLOEXEC, readFown } from './kinds/common.js';
import { specialFile } from './kinds/reg.js';
import { memfdMapping } from './kinds/memfd.js';
import type { UnixSockets } from './kinds/unix.js';
import type { TcpRepair } from './tcp-stream.js';
import type { InetSockets } from './kinds/inet.js';
import type { TtySeen } from './kinds/tty.js';
import type { TtyFacts } from './parasite.js';

// used by mm.ts and dump.ts
export { isShmem, memfdName } from './kinds/memfd.js';
export { isPtsSlave, type TtySeen } from './kinds/tty.js';

const KCMP_FILE = 0;

/** Where the files code writes images of its own (ghost files, shmem pages) and takes pages ids from. */
export interface FilesOutput {
  dir: string; nextPagesId(): number; /** --ghost-limit (default 1 MiB) */ ghostLimit?: number;
  /** --link-remap: a deleted file with other names gets one more (kinds/reg.ts), listed in linkRemaps */
  linkRemap?: boolean; linkRemaps?: string[];
  /** --external file[MNT_ID:INO] keys */
  externalFiles?: Set<string>;
}

interface OfdRecord { pid: number; fd: number; key: string; id: number }

export class Files {
  private nextId = 1;
  readonly entries: any[] = [];
  readonly pipeData: any[] = [];
  readonly fifoData: any[] = [];
  private ofds: OfdRecord[] = [];
  unix?: UnixSockets;
  /** established TCP connections: TCP_REPAIR with the network lock (dump.ts makes it; the inet kind uses it) */
  tcp?: TcpRepair;
  inet?: InetSockets;
  /** the images' id of our (the root task's) network namespace (dump.ts, from its Ids): netlink and packet sockets */
  netNsId?: number;
  /** remap-fpath.img entries (ghost files) */
  readonly remaps: any[] = [];
  /** filelocks.img entries (--file-locks) */
  readonly locks: any[] = [];
  private lockKeys = new Map<string, { pid: number; fd: number }>();
  /** memfd.img entries (memfd and shared-anonymous inodes) */
  readonly memfdInodes: any[] = [];
  shmemPagesWritten = 0;
  shmemPagesScanned = 0;
  /** tty-info.img entries, one per terminal (tty_info_id) */
  readonly ttyInfos: any[] = [];
  readonly ttys: TtySeen[] = [];
  /** epoll entries whose targets were found under other fds: written after every task, as CRIU */
  readonly deferredEpoll: any[] = [];

  constructor(private log: Log, readonly out?: FilesOutput) {}

  newId(): number {
    return this.nextId++;
  }

  /** exe, mapped files, cwd, root. statPath is a /proc link to the object (map_files, exe, cwd). */
  specialFile(name: string, statPath: string): number {
    return specialFile(this, name, statPath);
  }

  /** A memfd or shared anonymous mapping: its MEMFD file id (one per inode). */
  memfdMapping(name: string, statPath: string): number {
    return memfdMapping(this, name, statPath);
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
      const fdFlags = info.flags & O_CLOEXEC ? 1 : 0;
      const { id, type } = this.fileOf(pid, fd, link, info, `fd ${fd} of task ${pid} (${link})`, opts.ttys);
      this.collectLocks(pid, fd, link, info.lines, !!opts.fileLocks, id);
      out.push({ id, flags: fdFlags, type, fd });
    }
    return out;
  }

  /** The file id of pid's fd (its open file description dumped on first sight); refuse: what may not be dumped. */
  private fileOf(pid: number, fd: number, link: string, info: ReturnType<typeof readFdinfo>, what: string,
    ttys?: Map<number, TtyFacts>, refuse?: (type: string) => string | undefined, inFlightOf?: number): { id: number; type: string } {
    const procFd = `/proc/${pid}/fd/${fd}`;
    const st = statSync(procFd);
    const key = `${link}|${st.dev}:${st.ino}`;
    const known = this.ofds.find((o) => o.key === key && native().kcmp(pid, o.pid, KCMP_FILE, fd, o.fd) === 0);
    const parms = { pid, fd, link, st, info, procFd, what };
    const kind = detectKind(parms, this);
    if (known) return { id: known.id, type: kind.type };
    const why = refuse?.(kind.type);
    if (why) throw new DumpError(`Can't dump ${what}: ${why}`);
    const id = this.newId();
    this.ofds.push({ pid, fd, key, id });
    kind.dump(this, { ...parms, id, flags: info.flags & ~O_CLOEXEC, fown: readFown(pid, fd), ttys, inFlightOf });
    return { id, type: kind.type };
  }

  /**
   * A file of this process (one in flight in a unix socket's queue, received with MSG_PEEK): its file id,
   * the same as a task's fd on the same open file description. fd stays open until the dump ends (kcmp
   * compares the tasks' fds with it). refuse: kinds that cannot be dumped from here. owner: the task whose
   * socket's queue holds it.
   */
  dumpOwnFd(fd: number, what: string, refuse: (type: string) => string | undefined, owner?: number): number {
    const link = fdLink(process.pid, fd);
    const info = readFdinfo(process.pid, fd);
    if (info.lines.some((l) => l.startsWith('lock:'))) throw new DumpError(`Can't dump ${what} (${link}): it holds a lock`);
    return this.fileOf(process.pid, fd, link, info, `${what} (${link})`, undefined, refuse, owner).id;
  }

  /** fs-PID.img: cwd and root get new ids (directories are never shared by id), umask from status. */
  fsEntry(pid: number): any {
    const cwd_id = this.specialFile(readlinkSync(`/proc/${pid}/cwd`), `/proc/${pid}/cwd`);
    const root_id = this.specialFile(readlinkSync(`/proc/${pid}/root`), `/proc/${pid}/root`);
    const umask = parseInt(readStatus(pid).Umask ?? '022', 8);
    return { cwd_id, root_id, umask };
  }

  /**
   * Locks set through this fd (fdinfo "lock:" lines: POSIX, FLOCK, OFDLCK, LEASE). CRIU refuses a tree holding
   * locks unless --file-locks is given; then they go to filelocks.img (flag FL_POSIX 1, FL_FLOCK 2, FL_OFD 4,
   * FL_LEASE 8; type F_RDLCK 0 / F_WRLCK 1; len 0 = to EOF). A POSIX lock belongs to the process that took it
   * (fdinfo shows it only there); a flock, OFD lock or lease belongs to the open file, which fork shares: its
   * entry names a task holding the file (the one that took it when it still does), as the restore takes it
   * again through that task's fd.
   */
  private collectLocks(pid: number, fd: number, link: string, lines: string[], allowed: boolean, fileId: number): void {
    for (const l of lines) {
      const m = /^lock:\s*\d+:\s*(\S+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(\S+)\s+(\d+)\s+(\d+|EOF)/.exec(l);
      if (!m) continue;
      const [, kind, mode, rw, lpid, devIno, start, end] = m;
      const what = `fd ${fd} of task ${pid} (${link})`;
      if (!allowed) throw new DumpError(`Can't dump ${what}: it holds a ${kind} ${rw} lock; use --file-locks to dump file locks`);
      const flag = kind === 'POSIX' ? 1 : kind === 'FLOCK' ? 2 : kind === 'OFDLCK' ? 4 : kind === 'LEASE' ? 8 : 0;
      if (flag === 8 && mode !== 'ACTIVE') throw new DumpError(`Can't dump ${what}: its lease is being broken (${mode}); breaking leases are not supported`);
      if (!flag || (rw !== 'READ' && rw !== 'WRITE')) throw new DumpError(`Can't dump ${what}: ${kind} ${rw} locks are not supported`);
      // all but POSIX locks are per open file, and several open files of one inode may hold one (shared flocks,
      // read leases): the file id tells them apart
      const key = `${devIno}|${kind}|${rw}|${start}|${end}|${lpid}${flag === 1 ? '' : `|${fileId}`}`;
      const owner = flag === 1 ? (Number(lpid) > 0 ? Number(lpid) : pid) : pid;
      const seen = this.lockKeys.get(key);
      if (seen) { // the same lock seen through a dup of the fd, or in another task sharing the file
        if (flag !== 1 && pid === Number(lpid) && seen.pid !== pid) Object.assign(seen, { pid, fd });
        continue;
      }
      const s = BigInt(start);
      const e = { flag, type: rw === 'READ' ? 0 : 1, pid: owner, fd, start: s, len: end === 'EOF' ? 0n : BigInt(end) - s + 1n };
      this.lockKeys.set(key, e);
      this.locks.push(e);
    }
  }
}
