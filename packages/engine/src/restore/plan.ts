// Images -> restore plan: every decision that needs the format is made here, in TypeScript; the helper
// (native/restore-helper.c) gets plain numbers, strings and bytes. Shared resources are resolved once:
// each open file description (file id) becomes one object the helper creates before forking, and every
// task dup2()s the objects it uses to its fd numbers.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, ImageError, imageFileName, PE, taskPages, TASK, USK, VMA, type ImageDoc } from '@ckpt/images';
import { buildSigframe } from './frame.js';
import { buildId } from '../elf.js';

export class RestoreError extends Error {}

const TCP_ESTABLISHED = 1, TCP_LISTEN = 10, SOCK_DGRAM = 2;
const EXTERNAL_FLAG = 1 << 30;
const PAGE = 4096n;
const O_ACCMODE = 3, O_RDWR = 2;

export interface Obj {
  kind: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14; // REG PIPE UNIX FIFO INHERITED EVENTFD TIMERFD SIGNALFD EPOLL INOTIFY MEMFD CALLER-TTY PTY-MASTER PTY-SLAVE
  data?: Buffer;
  /** EVENTFD [counter]; TIMERFD [clockid, ticks, isec, insec, vsec, vnsec]; SIGNALFD [sigmask]; MEMFD [inode index] */
  nums?: bigint[];
  watches?: { wd: number; mask: number; path: string }[];
  inheritFd?: number;
  fifo?: { size: number; data: Buffer };
  /** F_SETSIG signal, F_SETOWN_EX type and pid */
  fown?: [number, number, number];
  label: string;
  path?: string; flags: number; pos?: bigint;
  pipeNo?: number; end?: number;
  sk?: { type: number; state: number; backlog: number; peer: number; listener: number; sndbuf: number; rcvbuf: number; shutdown: number; passcred: number; name: Buffer; queue: Buffer[] };
}

export interface PlanTask {
  pid: number; parent: number; pgid: number; sid: number; state: number; exitCode: number;
  umask: number; cwd: string; root: string; exe: string; pages: string;
  fds: { fd: number; obj: number; cloexec: number }[];
  /** files to map: by path, a memfd, or an object (a ghost file, reopened through /proc/self/fd) */
  files: { path: string; oflags: number; memfd: number; obj?: number }[];
  /** epoll registrations done by this task once its fds are in place: epoll fd, target fd, events, data */
  epoll: [number, number, number, bigint][];
  /** POSIX timers: id, clock, notify, signo, notify tid, sival, isec, insec, vsec, vnsec */
  ptimers: bigint[][];
  /** the object of the terminal this session leader takes as its controlling tty (-1: none), and its foreground group */
  ctty: number; cttyPgrp: number;
  vmas: { start: bigint; end: bigint; pgoff: bigint; prot: number; flags: number; file: number; madv: bigint; addWrite: number }[];
  iovs: { base: bigint; len: bigint; off: bigint }[];
  vdso: { hint: bigint; expect: bigint; vvarLen: bigint; vdsoLen: bigint };
  mm: bigint[]; auxv: bigint[]; comm: string;
  sigact: bigint[][]; rlim: bigint[][]; itimer: bigint[][];
  credsSet: number; cred: number[]; secbits: number; groups: number[]; caps: number[][]; noNewPrivs: number;
  dumpable: number; pdeathSig: number; personalitySet: number; personality: bigint;
  threads: { tid: number; clearTid: bigint; robust: bigint; robustLen: bigint; fsBase: bigint; gsBase: bigint; rseqPtr: bigint; rseqSize: number; rseqSig: number; comm: string; frame: Buffer }[];
  pagesBytes: number;
  /** filelocks.img entries of this task: kind (1 POSIX, 2 FLOCK, 4 OFD), type, start, len, fd */
  locks: [number, number, bigint, bigint, number][];
  nice: number; policy: number; prio: number; subreaper: number; oomSet: number; oomAdj: number;
  /** pending signals: tid 0 = shared by the process; info = the 128-byte siginfo */
  sigs: { tid: number; info: Buffer }[];
  /** the seccomp filter chain, oldest first */
  seccomp: { flags: number; insns: Buffer }[];
}

/** A deleted-but-open file: created at `path` before the helper runs, unlinked by the helper once opened. */
export interface Ghost {
  path: string; mode: number; uid: number; gid: number; size: bigint;
  atime?: [bigint, bigint]; mtime?: [bigint, bigint];
  chunks: { off: bigint; data: Buffer }[];
}

/** a memfd or shared anonymous memory (anon: mmap'ed MAP_SHARED|MAP_ANONYMOUS, so it stays "/dev/zero") */
export interface Memfd {
  label: string; name: string; anon: boolean; size: bigint; seals: number; mode: number; uid: number; gid: number;
  pages: string; runs: { off: bigint; len: bigint; fileOff: bigint }[];
}

export interface Plan {
  detached: boolean; shellJob: boolean;
  /** a shell job's terminal: the helper needs our stdin (the caller's terminal) */
  callerTty: boolean;
  memfds: Memfd[];
  ghosts: Ghost[];
  /** caller fds handed over (--inherit-fd): the helper gets them at the same numbers */
  inheritFds: number[];
  pipes: { size: number; data: Buffer }[];
  objs: Obj[];
  tasks: PlanTask[];
}

export interface InheritFd { fd: number; key: string }
export interface PlanOptions { dir: string; detached: boolean; shellJob: boolean; extUnixSk: boolean; inheritFds?: InheritFd[]; fileLocks?: boolean }

/** `fd[N]:RESOURCE` as CRIU's --inherit-fd takes it: socket:[INO], pipe:[INO], or a file path. */
export function parseInheritFd(arg: string): InheritFd {
  const m = /^fd\[(\d+)\]:(.+)$/.exec(arg);
  if (!m) throw new RestoreError(`--inherit-fd ${arg}: expected fd[N]:RESOURCE (socket:[INODE], pipe:[INODE] or a path)`);
  const fd = Number(m[1]);
  if (fd <= 2) throw new RestoreError(`--inherit-fd ${arg}: fd ${fd} is one of the caller's standard streams`);
  return { fd, key: m[2] };
}
const GHOST_FLAG = 2 ** 31; // REG object: unlink the path once opened

type ImageId = number | bigint | string;

/** DIR's image STEM (with ID), named as CRIU names it: load(dir, 'files', what), load(dir, 'core', tid, what). */
function load(dir: string, stem: string, what: string): { entries: any[] };
function load(dir: string, stem: string, id: ImageId, what: string): { entries: any[] };
function load(dir: string, stem: string, ...rest: [string] | [ImageId, string]): { entries: any[] } {
  const [id, what] = rest.length === 1 ? [undefined, rest[0]] : rest;
  const name = imageFileName(stem, id);
  const p = join(dir, name);
  if (!existsSync(p)) throw new RestoreError(`${what}: missing image ${name} in ${dir}`);
  try {
    return decodeImage(p) as ImageDoc & { entries: any[] };
  } catch (e) {
    const m = e instanceof ImageError ? e.message : (e as Error).message;
    throw new RestoreError(`${what}: corrupt image ${name}: ${m}`);
  }
}

/** Whether DIR has the image STEM (with ID). */
function hasImage(dir: string, stem: string, id?: ImageId): boolean {
  return existsSync(join(dir, imageFileName(stem, id)));
}

const n = (v: unknown, d = 0): number => (v === undefined || v === null ? d : Number(v));
const b = (v: unknown, d = 0n): bigint => (v === undefined || v === null ? d : BigInt(v as any));

/** Our own credentials, to decide whether the restorer must change them. */
function selfCreds(): { ids: number[]; groups: number[]; caps: bigint[] } {
  const st = readFileSync('/proc/self/status', 'utf8');
  const line = (k: string) => (new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(st)?.[1] ?? '').trim();
  const [ruid, euid, suid, fsuid] = line('Uid').split(/\s+/).map(Number);
  const [rgid, egid, sgid, fsgid] = line('Gid').split(/\s+/).map(Number);
  const groups = line('Groups').split(/\s+/).filter(Boolean).map(Number);
  const caps = ['CapInh', 'CapPrm', 'CapEff', 'CapBnd'].map((k) => BigInt('0x' + line(k)));
  return { ids: [ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid], groups, caps };
}

export function buildPlan(o: PlanOptions): Plan {
  const dir = o.dir;
  if (!existsSync(dir)) throw new RestoreError(`images directory ${dir} does not exist`);
  const inv = load(dir, 'inventory', 'inventory').entries[0];
  if (!inv) throw new RestoreError(`${imageFileName('inventory')} has no entry`);
  if (inv.fdinfo_per_id === false) throw new RestoreError('images without fdinfo_per_id are not supported');
  const pstree = load(dir, 'pstree', 'process tree').entries;
  if (!pstree.length) throw new RestoreError(`${imageFileName('pstree')} lists no task`);
  const filesDoc = hasImage(dir, 'files') ? load(dir, 'files', 'files').entries : [];
  const fileById = new Map<number, any>();
  for (const f of filesDoc) fileById.set(n(f.id), f);
  const regName = (id: number, what: string): string => {
    const f = fileById.get(id);
    if (!f || !f.reg) throw new RestoreError(`${what}: file id ${id} is not in ${imageFileName('files')}`);
    return f.reg.name as string;
  };

  // pipes-data and sk-queues, by pipe inode / receiver id
  const pipeData = new Map<number, { size: number; data: Buffer }>();
  if (hasImage(dir, 'pipes-data')) {
    for (const e of load(dir, 'pipes-data', 'pipes data').entries) {
      pipeData.set(n(e.pipe_id), { size: n(e.size), data: (e.extra as Buffer) ?? Buffer.alloc(0) });
    }
  }
  const fifoData = new Map<number, { size: number; data: Buffer }>();
  if (hasImage(dir, 'fifo-data')) {
    for (const e of load(dir, 'fifo-data', 'FIFO data').entries) {
      fifoData.set(n(e.pipe_id), { size: n(e.size), data: (e.extra as Buffer) ?? Buffer.alloc(0) });
    }
  }
  const locksByPid = new Map<number, PlanTask['locks']>();
  // as CRIU: without --file-locks the locks in the images are not taken
  if (o.fileLocks && hasImage(dir, 'filelocks')) {
    for (const e of load(dir, 'filelocks', 'file locks').entries) {
      const kind = n(e.flag);
      if (kind !== 1 && kind !== 2 && kind !== 4) throw new RestoreError(`task ${e.pid} fd ${e.fd}: file lock of kind ${kind} (lease or mandatory) is not supported`);
      const l = locksByPid.get(n(e.pid)) ?? [];
      l.push([kind, n(e.type), b(e.start), b(e.len), n(e.fd)]);
      locksByPid.set(n(e.pid), l);
    }
  }
  const skQueues = new Map<number, Buffer[]>();
  if (hasImage(dir, 'sk-queues')) {
    for (const e of load(dir, 'sk-queues', 'socket queues').entries) {
      const l = skQueues.get(n(e.id_for)) ?? [];
      l.push((e.extra as Buffer) ?? Buffer.alloc(0));
      skQueues.set(n(e.id_for), l);
    }
  }

  const plan: Plan = { detached: o.detached, shellJob: o.shellJob, callerTty: false, memfds: [], ghosts: [], inheritFds: [], pipes: [], objs: [], tasks: [] };
  // memfds and shared anonymous memory: memfd.img inodes, contents from pagemap-shmem-SHMID.img
  const memfdInodes = new Map<number, any>();
  if (hasImage(dir, 'memfd')) for (const e of load(dir, 'memfd', 'memfds').entries) memfdInodes.set(n(e.inode_id), e);
  const memfdIdx = new Map<string, number>();
  const shmemRuns = (shmid: number, what: string): { pages: string; runs: Memfd['runs'] } => {
    const name = imageFileName('pagemap-shmem', shmid);
    if (!existsSync(join(dir, name))) return { pages: '', runs: [] };
    const es = load(dir, 'pagemap-shmem', shmid, what).entries;
    const pagesName = imageFileName('pages', n(es[0]?.pages_id));
    const pages = join(dir, pagesName);
    if (!existsSync(pages)) throw new RestoreError(`${what}: missing image ${pagesName}`);
    const size = BigInt(statSync(pages).size);
    let fileOff = 0n;
    const runs: Memfd['runs'] = [];
    for (const e of es.slice(1)) {
      const len = b(e.nr_pages) * PAGE;
      if (n(e.flags) & PE.PARENT) throw new RestoreError(`${what}: incremental dumps are not supported`);
      if (!(n(e.flags) & PE.PRESENT)) continue;
      runs.push({ off: b(e.vaddr), len, fileOff });
      fileOff += len;
    }
    if (fileOff > size) throw new RestoreError(`${what}: ${pagesName} is ${size} bytes, ${name} needs ${fileOff} (truncated pages image)`);
    return { pages, runs };
  };
  const memfdFor = (inodeId: number, what: string): number => {
    const key = `i${inodeId}`;
    const have = memfdIdx.get(key);
    if (have !== undefined) return have;
    const e = memfdInodes.get(inodeId);
    if (!e) throw new RestoreError(`${what}: memfd inode ${inodeId} is not in ${imageFileName('memfd')}`);
    if (e.hugetlb_flag) throw new RestoreError(`${what}: hugetlb memfds are not supported`);
    const name = String(e.name ?? '');
    const anon = name === '/dev/zero';
    plan.memfds.push({ label: `${what} (${anon ? 'shared anonymous memory' : `memfd ${name}`})`, name, anon, size: b(e.size), seals: n(e.seals), mode: n(e.mode, 0o100777) & 0o7777,
      uid: n(e.uid), gid: n(e.gid), ...shmemRuns(n(e.shmid), what) });
    memfdIdx.set(key, plan.memfds.length - 1);
    return plan.memfds.length - 1;
  };
  const anonShmFor = (shmid: number, size: bigint, what: string): number => {
    const key = `s${shmid}`;
    const have = memfdIdx.get(key);
    if (have !== undefined) {
      if (plan.memfds[have].size < size) plan.memfds[have].size = size;
      return have;
    }
    plan.memfds.push({ label: `${what} (shared anonymous memory ${shmid})`, name: '/dev/zero', anon: true, size, seals: 0, mode: 0o777, uid: 0, gid: 0, ...shmemRuns(shmid, what) });
    memfdIdx.set(key, plan.memfds.length - 1);
    return plan.memfds.length - 1;
  };
  let ttyInfo: Map<number, any> | undefined;
  let ttyData: Map<number, Buffer> | undefined;
  const cttyOf = new Map<number, { obj: number; pgrp: number; fileId: number }>(); // session id -> its terminal
  const epollTargets = new Map<number, { tfd: number; events: number; data: bigint; done: boolean }[]>();
  // --inherit-fd: resources by the name CRIU gives them (socket:[INO], pipe:[INO], a path with or without its /)
  const inherit = new Map<string, number>();
  for (const i of o.inheritFds ?? []) {
    inherit.set(i.key, i.fd);
    if (!i.key.includes(':[') && !i.key.startsWith('/')) inherit.set('/' + i.key, i.fd);
  }
  const inheritUsed = new Set<string>();
  // remap-fpath: ghost files (deleted but open), recreated from ghost-file-ID.img
  const ghostOf = new Map<number, number>();
  if (hasImage(dir, 'remap-fpath')) {
    for (const e of load(dir, 'remap-fpath', 'file remaps').entries) {
      const type = e.remap_type ?? 'LINKED';
      if (type !== 'GHOST' && type !== 0) throw new RestoreError(`file id ${e.orig_id}: ${type} file remaps are not supported`);
      ghostOf.set(n(e.orig_id), n(e.remap_id));
    }
  }
  const ghostPath = new Map<number, string>();
  const ghostFile = (r: any, remapId: number, what: string): string => {
    const have = ghostPath.get(remapId);
    if (have) return have;
    const name = imageFileName('ghost-file', remapId);
    const es = load(dir, 'ghost-file', remapId, `${what} (deleted file ${r.name})`).entries;
    const g = es[0];
    if (!g) throw new RestoreError(`${what}: ${name} is empty`);
    const mode = n(g.mode);
    if ((mode & 0o170000) !== 0o100000) throw new RestoreError(`${what}: ghost ${r.name} of mode 0${mode.toString(8)} is not a regular file (not supported)`);
    const chunks: Ghost['chunks'] = [];
    let size: bigint;
    if (g.chunks) {
      for (const c of es.slice(1)) chunks.push({ off: b(c.off), data: (c.extra as Buffer) ?? Buffer.alloc(0) });
      size = b(g.size);
    } else {
      const data = (g.extra as Buffer) ?? Buffer.alloc(0);
      chunks.push({ off: 0n, data });
      size = BigInt(data.length);
    }
    if (r.size !== undefined && b(r.size) !== size) throw new RestoreError(`${what}: ghost file ${name} holds ${size} bytes, the dump recorded ${r.size} for ${r.name}`);
    const path = `${r.name}.cr.${remapId.toString(16)}.ghost`;
    const tv = (t: any): [bigint, bigint] | undefined => (t ? [b(t.tv_sec), b(t.tv_usec)] : undefined);
    plan.ghosts.push({ path, mode: mode & 0o7777, uid: n(g.uid), gid: n(g.gid), size, atime: tv(g.atim), mtime: tv(g.mtim), chunks });
    ghostPath.set(remapId, path);
    return path;
  };
  const inheritKey = (f: any): string[] => {
    if (f.reg) return [f.reg.name];
    if (f.pipe) return [`pipe:[${f.pipe.pipe_id}]`];
    if (f.usk) return [`socket:[${f.usk.ino}]`];
    if (f.fifo) return [`pipe:[${f.fifo.pipe_id}]`];
    return [];
  };
  const objByFileId = new Map<number, number>();
  const pipeNo = new Map<number, number>();
  const unixByIno = new Map<number, any>();
  for (const f of filesDoc) if (f.usk) unixByIno.set(n(f.usk.ino), f);

  const objFor = (fileId: number, what: string): number => {
    const have = objByFileId.get(fileId);
    if (have !== undefined) return have;
    const f = fileById.get(fileId);
    if (!f) throw new RestoreError(`${what}: file id ${fileId} is not in ${imageFileName('files')}`);
    let obj: Obj;
    const ik = inheritKey(f).find((k) => inherit.has(k));
    if (ik !== undefined) {
      inheritUsed.add(ik);
      obj = { kind: 5, label: `${what} (${ik}, inherited fd ${inherit.get(ik)})`, flags: 0, inheritFd: inherit.get(ik) };
    } else if (f.reg && ghostOf.has(fileId)) {
      const r = f.reg;
      const path = ghostFile(r, ghostOf.get(fileId)!, what);
      obj = { kind: 1, label: `${what} (deleted file ${r.name})`, path, flags: (n(r.flags) | GHOST_FLAG) >>> 0, pos: b(r.pos) };
    } else if (f.reg) {
      const r = f.reg;
      const path = r.name as string;
      let st;
      try {
        st = statSync(path);
      } catch (e) {
        throw new RestoreError(`${what}: file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message}`);
      }
      if (r.size !== undefined && BigInt(st.size) !== b(r.size)) {
        throw new RestoreError(`${what}: file ${path} has size ${st.size}, the dump recorded ${r.size}`);
      }
      obj = { kind: 1, label: `${what} (${path})`, path, flags: n(r.flags), pos: b(r.pos) };
    } else if (f.pipe) {
      const p = f.pipe;
      const ino = n(p.pipe_id);
      let no = pipeNo.get(ino);
      if (no === undefined) {
        no = plan.pipes.length;
        const d = pipeData.get(ino);
        plan.pipes.push({ size: d?.size ?? 0, data: d?.data ?? Buffer.alloc(0) });
        pipeNo.set(ino, no);
      }
      obj = { kind: 2, label: `${what} (pipe:[${ino}])`, flags: n(p.flags) & ~O_ACCMODE, pipeNo: no, end: n(p.flags) & O_ACCMODE ? 1 : 0 };
    } else if (f.usk) {
      obj = unixObj(f.usk, what);
    } else if (f.tty) {
      // a shell job's terminal: a pts slave whose master is outside the tree; as CRIU with --shell-job, the
      // restored task gets the terminal of the caller (our stdin)
      ttyInfo ??= new Map((hasImage(dir, 'tty-info') ? load(dir, 'tty-info', 'terminals').entries : []).map((e: any) => [n(e.id), e]));
      const info = ttyInfo.get(n(f.tty.tty_info_id));
      const name = fileById.get(n(f.tty.regf_id))?.reg?.name ?? `tty ${f.tty.tty_info_id}`;
      if (!info) throw new RestoreError(`${what}: terminal ${name}: tty-info ${f.tty.tty_info_id} is not in ${imageFileName('tty-info')}`);
      const index = n(info.pty?.index, -1);
      const masterFile = info.type === 'PTY' && name !== '/dev/ptmx' ? filesDoc.find((g) => g.tty && fileById.get(n(g.tty.regf_id))?.reg?.name === '/dev/ptmx' &&
        n(ttyInfo!.get(n(g.tty.tty_info_id))?.pty?.index, -2) === index) : undefined;
      if (info.type === 'PTY' && name === '/dev/ptmx') {
        // a pty master: /dev/ptmx (its slave's index if it is free), the slave's termios/winsize, the input queued for the slave
        const slaveInfo = [...ttyInfo.values()].find((x) => x.type === 'PTY' && n(x.pty?.index, -1) === index && n(x.rdev) !== n(info.rdev)) ?? info;
        const tio = slaveInfo.termios ?? {};
        const cc: number[] = [];
        for (const w of ((tio.c_cc as number[] | undefined) ?? []).slice(0, 5)) for (let k = 0; k < 4; k++) cc.push((n(w) >>> (8 * k)) & 0xff);
        const ws = slaveInfo.winsize ?? {};
        ttyData ??= new Map((hasImage(dir, 'tty-data') ? load(dir, 'tty-data', 'terminal data').entries : []).map((e: any) => [n(e.tty_id), e.data as Buffer]));
        obj = { kind: 13, label: `${what} (pty master of /dev/pts/${index})`, flags: n(f.tty.flags), data: ttyData.get(n(slaveInfo.id)) ?? Buffer.alloc(0),
          nums: [index, n(tio.c_iflag), n(tio.c_oflag), n(tio.c_cflag), n(tio.c_lflag), n(tio.c_line), n(ws.ws_row), n(ws.ws_col), n(ws.ws_xpixel), n(ws.ws_ypixel),
            info.locked ? 1 : 0, info.packet_mode ? 1 : 0, slaveInfo.termios ? 1 : 0, ...cc.slice(0, 19)].map((v) => BigInt(v)) };
      } else if (masterFile) {
        const m = objFor(n(masterFile.id), `master of ${what}`);
        obj = { kind: 14, label: `${what} (${name})`, flags: n(f.tty.flags), nums: [BigInt(m)] };
        if (n(info.sid)) cttyOf.set(n(info.sid), { obj: -1, pgrp: n(info.pgrp), fileId });
      } else if (info.type !== 'PTY' || !/^\/dev\/pts\/\d+$/.test(name)) {
        throw new RestoreError(`${what}: terminal ${name} (${info.type}) is not supported (only ptys)`);
      } else if (!o.shellJob) {
        throw new RestoreError(`${what}: terminal ${name} belongs to a session outside the tree: restore with --shell-job from a terminal`);
      } else {
        obj = { kind: 12, label: `${what} (${name}: the caller's terminal)`, flags: n(f.tty.flags) };
        plan.callerTty = true;
      }
    } else if (f.efd) {
      obj = { kind: 6, label: `${what} (eventfd)`, flags: n(f.efd.flags), nums: [b(f.efd.counter)] };
    } else if (f.tfd) {
      const t = f.tfd;
      obj = { kind: 7, label: `${what} (timerfd)`, flags: n(t.flags), nums: [b(t.clockid), b(t.ticks), b(t.isec), b(t.insec), b(t.vsec), b(t.vnsec)] };
    } else if (f.sgfd) {
      obj = { kind: 8, label: `${what} (signalfd)`, flags: n(f.sgfd.flags), nums: [b(f.sgfd.sigmask)] };
    } else if (f.epfd) {
      obj = { kind: 9, label: `${what} (eventpoll)`, flags: n(f.epfd.flags) };
      epollTargets.set(plan.objs.length, ((f.epfd.tfd as any[]) ?? []).map((x) => ({ tfd: n(x.tfd), events: n(x.events), data: b(x.data), done: false })));
    } else if (f.ify) {
      const watches = ((f.ify.wd as any[]) ?? []).map((w) => {
        const path = w.f_handle?.path as string | undefined;
        if (!path) throw new RestoreError(`${what}: inotify watch ${w.wd} has no path in the images (handles alone are not supported)`);
        if (!existsSync(path)) throw new RestoreError(`${what}: inotify watch ${w.wd}: ${path} is missing`);
        return { wd: n(w.wd), mask: n(w.mask), path };
      }).sort((x, y) => x.wd - y.wd);
      obj = { kind: 10, label: `${what} (inotify)`, flags: n(f.ify.flags), watches };
    } else if (f.memfd) {
      const m = f.memfd;
      obj = { kind: 11, label: `${what} (memfd)`, flags: n(m.flags), pos: b(m.pos), nums: [BigInt(memfdFor(n(m.inode_id), what))] };
    } else if (f.fifo) {
      const r = fileById.get(n(f.fifo.regf_id))?.reg;
      if (!r) throw new RestoreError(`${what}: FIFO ${f.fifo.pipe_id}: file id ${f.fifo.regf_id} is not in ${imageFileName('files')}`);
      const path = r.name as string;
      let st;
      try { st = statSync(path); } catch { throw new RestoreError(`${what}: FIFO ${path} is missing`); }
      if (!st.isFIFO()) throw new RestoreError(`${what}: ${path} is not a FIFO`);
      const ino = n(f.fifo.pipe_id);
      const d = fifoData.get(ino);
      fifoData.delete(ino); // the first object of this FIFO refills it
      obj = { kind: 4, label: `${what} (FIFO ${path})`, path, flags: n(r.flags), fifo: d ?? { size: 0, data: Buffer.alloc(0) } };
      fownOf(obj, r.fown);
    } else {
      throw new RestoreError(`${what}: unsupported file type ${f.type}`);
    }
    if (!obj.fown) fownOf(obj, (f.reg ?? f.pipe ?? f.usk ?? f.efd ?? f.tfd ?? f.sgfd ?? f.epfd ?? f.ify ?? f.memfd ?? f.tty)?.fown);
    plan.objs.push(obj);
    const idx = plan.objs.length - 1;
    objByFileId.set(fileId, idx);
    if (f.usk && obj.sk && obj.sk.peer === -2) linkPeer(f.usk, idx, what);
    return idx;
  };

  const fownOf = (obj: Obj, fo: any) => {
    if (fo && (n(fo.signum) || n(fo.pid))) obj.fown = [n(fo.signum), n(fo.pid_type), n(fo.pid)];
  };

  const unixObj = (u: any, what: string): Obj => {
    const name: Buffer = u.name ?? Buffer.alloc(0);
    const label = `${what} (unix socket:[${u.ino}]${name.length ? ' ' + JSON.stringify(name.toString('latin1').replace(/\0+$/, '')) : ''})`;
    return {
      kind: 3, label, flags: n(u.flags) & 0o4000 /* O_NONBLOCK */,
      sk: {
        type: n(u.type), state: n(u.state), backlog: n(u.backlog), peer: n(u.peer) ? -2 : -1, listener: -1,
        sndbuf: n(u.opts?.so_sndbuf), rcvbuf: n(u.opts?.so_rcvbuf), shutdown: n(u.shutdown), passcred: u.opts?.so_passcred ? 1 : 0,
        name, queue: skQueues.get(n(u.id)) ?? [],
      },
    };
  };

  const linkPeer = (u: any, idx: number, what: string) => {
    const peerFile = unixByIno.get(n(u.peer));
    const sk = plan.objs[idx].sk!;
    if (!peerFile) {
      if (!o.extUnixSk) throw new RestoreError(`${what}: unix socket ${u.ino} is connected to ${u.peer}, which is not in the images (use --ext-unix-sk)`);
      sk.peer = -1;
      return;
    }
    if (n(peerFile.usk.uflags) & USK.EXTERN) {
      if (!o.extUnixSk) throw new RestoreError(`${what}: unix socket ${u.ino} is connected to an external socket (${peerFile.usk.name?.toString().replace(/\0/g, '') || u.peer}); restore with --ext-unix-sk`);
      const ext = unixObj(peerFile.usk, `external peer of ${what}`);
      ext.flags |= EXTERNAL_FLAG;
      ext.sk!.peer = -1;
      plan.objs.push(ext);
      sk.peer = plan.objs.length - 1;
      return;
    }
    // an accepted socket carries its listener's name: it is recreated by connect + accept on that listener
    const name: Buffer = u.name ?? Buffer.alloc(0);
    if (name.length && n(u.state) === TCP_ESTABLISHED && n(u.type) !== SOCK_DGRAM) {
      const l = filesDoc.find((f) => f.usk && n(f.usk.state) === TCP_LISTEN && Buffer.compare(f.usk.name ?? Buffer.alloc(0), name) === 0);
      if (l) sk.listener = objFor(n(l.id), `listener of ${what}`);
    }
    sk.peer = objFor(n(peerFile.id), `peer of ${what}`);
  };

  const self = selfCreds();
  let seccompAll: any[] | undefined;
  const sigInfo = (sg: any, who: string): Buffer => {
    const info = sg.siginfo as Buffer | undefined;
    if (!info || info.length !== 128) throw new RestoreError(`${who}: pending signal with a siginfo of ${info?.length ?? 0} bytes (128 expected)`);
    return info;
  };
  const pidIndex = new Map<number, number>();
  for (const [i, e] of pstree.entries()) pidIndex.set(n(e.pid), i);

  for (const [i, e] of pstree.entries()) {
    const pid = n(e.pid);
    const who = `task ${pid}`;
    const parent = n(e.ppid) === 0 || i === 0 ? -1 : pidIndex.get(n(e.ppid));
    if (parent === undefined || parent >= i) throw new RestoreError(`${who}: parent ${e.ppid} is not listed before it in ${imageFileName('pstree')}`);
    const tids: number[] = (e.threads as number[] | undefined)?.map(Number) ?? [pid];
    const cores = tids.map((tid) => load(dir, 'core', tid, `${who}${tid !== pid ? ` thread ${tid}` : ''}`).entries[0]);
    const core = cores[0];
    if (!core) throw new RestoreError(`${who}: ${imageFileName('core', pid)} is empty`);
    if (core.mtype !== 'X86_64') throw new RestoreError(`${who}: architecture ${core.mtype} is not supported`);
    const tc = core.tc ?? {};
    const state = n(tc.task_state, TASK.ALIVE);
    const t: PlanTask = {
      pid, parent: parent < 0 ? -1 : parent, pgid: n(e.pgid), sid: n(e.sid), state, exitCode: n(tc.exit_code),
      umask: 0o22, cwd: '', root: '', exe: '', pages: '', fds: [], files: [], epoll: [], ptimers: [], ctty: -1, cttyPgrp: 0, vmas: [], iovs: [],
      vdso: { hint: 0n, expect: 0n, vvarLen: 0n, vdsoLen: 0n }, mm: new Array(11).fill(0n), auxv: [], comm: String(tc.comm ?? ''),
      sigact: [], rlim: [], itimer: [], credsSet: 0, cred: new Array(8).fill(0), secbits: 0, groups: [], caps: [[0, 0], [0, 0], [0, 0], [0, 0]],
      noNewPrivs: 0, dumpable: 1, pdeathSig: 0, personalitySet: 0, personality: 0n, threads: [], pagesBytes: 0,
      locks: locksByPid.get(pid) ?? [],
      nice: 0, policy: 0, prio: 0, subreaper: 0, oomSet: 0, oomAdj: 0, sigs: [], seccomp: [],
    };
    plan.tasks.push(t);
    if (state === TASK.DEAD) { // a zombie (CRIU writes it as dead): only pid, sid, pgid and its end
      t.threads.push({ tid: pid, clearTid: 0n, robust: 0n, robustLen: 0n, fsBase: 0n, gsBase: 0n, rseqPtr: 0n, rseqSize: 0, rseqSig: 0, comm: '', frame: Buffer.alloc(0) });
      for (let k = 0; k < 64; k++) t.sigact.push([0n, 0n, 0n, 0n]);
      for (let k = 0; k < 16; k++) t.rlim.push([0n, 0n]);
      for (let k = 0; k < 3; k++) t.itimer.push([0n, 0n, 0n, 0n]);
      continue;
    }
    if (state !== TASK.ALIVE && state !== TASK.STOPPED) throw new RestoreError(`${who}: task state ${state} is not supported`);

    const ids = load(dir, 'ids', pid, who).entries[0] ?? {};
    // fds
    const fdinfo = load(dir, 'fdinfo', n(ids.files_id), who).entries;
    for (const fe of fdinfo) {
      const what = `${who} fd ${fe.fd}`;
      t.fds.push({ fd: n(fe.fd), obj: objFor(n(fe.id), what), cloexec: n(fe.flags) & 1 });
    }
    // a session leader whose terminal is a pty of the images takes it as its controlling tty
    const ct = cttyOf.get(pid);
    if (ct && pid === t.sid) { t.ctty = objByFileId.get(ct.fileId) ?? -1; t.cttyPgrp = ct.pgrp; }
    // epoll registrations: by the first task that has the epoll and the target at their fd numbers
    for (const fd of t.fds) {
      for (const x of epollTargets.get(fd.obj) ?? []) {
        if (!x.done && t.fds.some((g) => g.fd === x.tfd)) { t.epoll.push([fd.fd, x.tfd, x.events, x.data]); x.done = true; }
      }
    }
    // fs
    const fs = load(dir, 'fs', pid, who).entries[0] ?? {};
    t.cwd = regName(n(fs.cwd_id), `${who} cwd`);
    t.root = regName(n(fs.root_id), `${who} root`);
    t.umask = n(fs.umask, 0o22);
    for (const [k, p] of [['cwd', t.cwd], ['root', t.root]] as const) {
      if (!existsSync(p)) throw new RestoreError(`${who}: ${k} ${p} is missing`);
    }

    // memory
    const mm = load(dir, 'mm', pid, who).entries[0];
    if (!mm) throw new RestoreError(`${who}: ${imageFileName('mm', pid)} is empty`);
    t.exe = regName(n(mm.exe_file_id), `${who} exe`);
    checkFile(fileById.get(n(mm.exe_file_id)).reg, `${who} exe`);
    t.mm = [mm.mm_start_code, mm.mm_end_code, mm.mm_start_data, mm.mm_end_data, mm.mm_start_brk, mm.mm_brk, mm.mm_start_stack,
      mm.mm_arg_start, mm.mm_arg_end, mm.mm_env_start, mm.mm_env_end].map((v) => b(v));
    t.auxv = ((mm.mm_saved_auxv as bigint[] | undefined) ?? []).map((v) => b(v));
    if (t.auxv.length > 62) throw new RestoreError(`${who}: auxv has ${t.auxv.length} values`);
    t.dumpable = n(mm.dumpable, 1);
    const fileIdx = new Map<string, number>();
    const privateRanges: [bigint, bigint][] = [];
    const skip: [bigint, bigint][] = [];
    let prevEnd = 0n;
    for (const v of (mm.vmas as any[]) ?? []) {
      const start = b(v.start), end = b(v.end), status = n(v.status);
      if (start < prevEnd || end <= start) throw new RestoreError(`${who}: VMAs in ${imageFileName('mm', pid)} overlap or are unsorted at 0x${start.toString(16)}`);
      prevEnd = end;
      if (!(status & VMA.VMA_AREA_REGULAR)) continue; // vsyscall
      const range = `VMA 0x${start.toString(16)}-0x${end.toString(16)}`;
      if (status & VMA.VMA_AREA_VVAR) { t.vdso.hint = start; t.vdso.vvarLen = end - start; skip.push([start, end]); continue; }
      if (status & VMA.VMA_AREA_VDSO) { t.vdso.expect = start; t.vdso.vdsoLen = end - start; skip.push([start, end]); continue; }
      if (status & (VMA.VMA_AREA_SYSVIPC | VMA.VMA_AREA_SOCKET | VMA.VMA_AREA_AIORING)) {
        throw new RestoreError(`${who}: ${range} (status 0x${status.toString(16)}): SysV, socket and AIO mappings are not supported yet`);
      }
      let file = -1;
      const shared = (n(v.flags) & 3) === 1;
      const memfdFile = status & (VMA.VMA_FILE_PRIVATE | VMA.VMA_FILE_SHARED | VMA.VMA_AREA_MEMFD) ? fileById.get(n(v.shmid))?.memfd : undefined;
      if (memfdFile || status & VMA.VMA_ANON_SHARED) {
        // a memfd, or shared anonymous memory: one object for every task that maps it
        const m = memfdFile ? memfdFor(n(memfdFile.inode_id), `${who} ${range}`) : anonShmFor(n(v.shmid), end - start + b(v.pgoff), `${who} ${range}`);
        const key = `memfd:${m}`;
        if (!fileIdx.has(key)) { fileIdx.set(key, t.files.length); t.files.push({ path: '', oflags: O_RDWR, memfd: m }); }
        file = fileIdx.get(key)!;
      } else if (status & (VMA.VMA_FILE_PRIVATE | VMA.VMA_FILE_SHARED)) {
        const f = fileById.get(n(v.shmid));
        if (!f?.reg) throw new RestoreError(`${who}: ${range}: file id ${v.shmid} is not in ${imageFileName('files')}`);
        const oflagsG = shared && n(v.prot) & 2 ? O_RDWR : 0;
        if (ghostOf.has(n(v.shmid))) {
          // a deleted file: the ghost object, reopened by the task with what the mapping needs
          const obj = objFor(n(v.shmid), `${who} ${range}`);
          const key = `obj${oflagsG}:${obj}`;
          if (!fileIdx.has(key)) { fileIdx.set(key, t.files.length); t.files.push({ path: '', oflags: oflagsG, memfd: -1, obj }); }
          file = fileIdx.get(key)!;
          if (!shared) privateRanges.push([start, end]);
          t.vmas.push({ start, end, pgoff: b(v.pgoff), prot: n(v.prot), flags: n(v.flags) & ~0x30, file, madv: b(v.madv), addWrite: shared ? 0 : 1 });
          continue;
        }
        const path = f.reg.name as string;
        checkFile(f.reg, `${who} ${range}`);
        const oflags = shared && n(v.prot) & 2 ? O_RDWR : 0;
        const key = `${oflags}:${path}`;
        if (!fileIdx.has(key)) { fileIdx.set(key, t.files.length); t.files.push({ path, oflags, memfd: -1 }); }
        file = fileIdx.get(key)!;
      }
      if (!shared) privateRanges.push([start, end]);
      t.vmas.push({ start, end, pgoff: b(v.pgoff), prot: n(v.prot), flags: n(v.flags) & ~(0x10 | (file >= 0 ? 0x20 : 0)), file, madv: b(v.madv), addWrite: shared ? 0 : 1 });
    }
    if (t.vdso.hint && !t.vdso.expect) throw new RestoreError(`${who}: the images have a vvar area but no vDSO`);
    if (!t.vdso.hint && t.vdso.expect) throw new RestoreError(`${who}: the images have a vDSO but no vvar area`);

    // pages
    const pagemapName = imageFileName('pagemap', pid);
    let reader;
    try {
      reader = taskPages(dir, pid);
    } catch (err) {
      throw new RestoreError(`${who}: corrupt image ${pagemapName}: ${(err as Error).message}`);
    }
    t.pages = reader.pagesFile;
    const pagesName = reader.pagesFile.split('/').pop();
    if (!existsSync(t.pages)) throw new RestoreError(`${who}: missing image ${pagesName}`);
    const pagesSize = BigInt(statSync(t.pages).size);
    const inside = (a: bigint, z: bigint) => {
      // [a, z) covered by consecutive private VMAs
      let at = a;
      for (const [s, e] of privateRanges) if (s <= at && at < e) at = e < z ? e : z;
      return at >= z;
    };
    const runs = [...reader.runs].sort((x, y) => (x.fileOffset ?? 0) - (y.fileOffset ?? 0));
    for (const r of runs) {
      if (r.flags & PE.PARENT) throw new RestoreError(`${who}: incremental dumps (pages in a parent image) are not supported`);
      if (!(r.flags & PE.PRESENT)) continue;
      const len = BigInt(r.nrPages) * PAGE;
      const off = BigInt(r.fileOffset!);
      if (off + len > pagesSize) throw new RestoreError(`${who}: ${pagesName} is ${pagesSize} bytes, ${pagemapName} needs ${off + len} (truncated pages image)`);
      const a = r.vaddr, z = r.vaddr + len;
      if (skip.some(([s, e]) => a >= s && z <= e)) continue; // vdso text comes from the kernel
      if (!inside(a, z)) throw new RestoreError(`${who}: ${pagemapName} run 0x${a.toString(16)}+${r.nrPages} pages is outside every private VMA`);
      t.iovs.push({ base: a, len, off });
      t.pagesBytes += Number(len);
    }
    reader.close();

    // signals, limits, timers
    const sa = (tc.sigactions as any[] | undefined) ?? [];
    if (sa.length !== 62) throw new RestoreError(`${who}: ${imageFileName('core', pid)} has ${sa.length} signal actions, 62 expected`);
    let k = 0;
    for (let sig = 1; sig <= 64; sig++) {
      if (sig === 9 || sig === 19) { t.sigact.push([0n, 0n, 0n, 0n]); continue; }
      const s = sa[k++];
      t.sigact.push([b(s.sigaction), b(s.flags), b(s.restorer), b(s.mask)]);
    }
    const rl = (tc.rlimits?.rlimits as any[] | undefined) ?? [];
    for (let r = 0; r < 16; r++) t.rlim.push(rl[r] ? [b(rl[r].cur), b(rl[r].max)] : [~0n & 0xffffffffffffffffn, 0xffffffffffffffffn]);
    for (const w of ['real', 'virt', 'prof']) {
      const it = tc.timers?.[w] ?? {};
      t.itimer.push([b(it.isec), b(it.iusec), b(it.vsec), b(it.vusec)]);
    }
    for (const pt of (tc.timers?.posix as any[] | undefined) ?? []) {
      const notify = n(pt.it_sigev_notify);
      if (notify & 2 /* SIGEV_THREAD: a glibc helper thread */ && !(notify & 4)) throw new RestoreError(`${who}: POSIX timer ${pt.it_id} with SIGEV_THREAD is not supported`);
      t.ptimers.push([pt.it_id, pt.clock_id, notify, pt.si_signo, pt.notify_thread_id, pt.sival_ptr, pt.isec, pt.insec, pt.vsec, pt.vnsec].map((v) => b(v)));
    }
    if (tc.personality) { t.personalitySet = 1; t.personality = BigInt('0x' + String(tc.personality)); }

    // creds (the leader's)
    const tcore = core.thread_core ?? {};
    const cr = tcore.creds;
    if (cr) {
      t.cred = [cr.uid, cr.gid, cr.euid, cr.egid, cr.suid, cr.sgid, cr.fsuid, cr.fsgid].map((v: unknown) => n(v));
      t.secbits = n(cr.secbits);
      t.groups = ((cr.groups as number[] | undefined) ?? []).map(Number);
      const cap = (a: unknown) => { const x = (a as number[] | undefined) ?? [0, 0]; return [n(x[0]), n(x[1])]; };
      t.caps = [cap(cr.cap_inh), cap(cr.cap_prm), cap(cr.cap_eff), cap(cr.cap_bnd)];
      t.noNewPrivs = cr.no_new_privs ? 1 : 0;
      const capsBig = t.caps.map(([lo, hi]) => (BigInt(hi) << 32n) | BigInt(lo));
      const same = t.cred.every((v, j) => v === self.ids[j]) && t.groups.join() === self.groups.join() &&
        capsBig.every((v, j) => v === self.caps[j]) && !t.noNewPrivs && t.secbits === 0;
      t.credsSet = same ? 0 : 1;
    }
    t.pdeathSig = n(tcore.pdeath_sig);

    // threads
    for (const [j, c] of cores.entries()) {
      const tid = tids[j];
      if (!c?.thread_info?.gpregs) throw new RestoreError(`${who}: ${imageFileName('core', tid)} has no registers`);
      if (c.thread_info.gpregs.mode && c.thread_info.gpregs.mode !== 'NATIVE') throw new RestoreError(`${who}: thread ${tid} is a compat (32-bit) task`);
      const ti = c.thread_info, th = c.thread_core ?? {};
      for (const sg of (th.signals_p?.signals as any[] | undefined) ?? []) t.sigs.push({ tid, info: sigInfo(sg, `${who} thread ${tid}`) });
      const blocked = j === 0 ? b(tc.blk_sigset ?? th.blk_sigset) : b(th.blk_sigset ?? tc.blk_sigset);
      const gp = ti.gpregs;
      t.threads.push({
        tid, clearTid: b(ti.clear_tid_addr), robust: b(th.futex_rla), robustLen: b(th.futex_rla_len),
        fsBase: b(gp.fs_base), gsBase: b(gp.gs_base),
        rseqPtr: b(th.rseq_entry?.rseq_abi_pointer), rseqSize: n(th.rseq_entry?.rseq_abi_size), rseqSig: n(th.rseq_entry?.signature),
        comm: String(th.comm ?? (j === 0 ? tc.comm : '') ?? ''), frame: buildSigframe(gp, ti.fpregs, blocked, th.sas),
      });
    }
    for (const sg of (tc.signals_s?.signals as any[] | undefined) ?? []) t.sigs.push({ tid: 0, info: sigInfo(sg, who) });
    // scheduling, subreaper, OOM score (the leader's; threads inherit them)
    const th0 = core.thread_core ?? {};
    t.nice = n(th0.sched_nice); t.policy = n(th0.sched_policy); t.prio = n(th0.sched_prio);
    t.subreaper = tc.child_subreaper ? 1 : 0;
    if (tc.oom_score_adj !== undefined && n(tc.oom_score_adj) !== 0) { t.oomSet = 1; t.oomAdj = n(tc.oom_score_adj); }
    // seccomp: one chain for the whole process, installed with TSYNC when there are threads
    const modes = cores.map((c) => c.thread_core?.seccomp_mode ?? 'disabled');
    const scIdx = cores.map((c) => c.thread_core?.seccomp_filter);
    if (modes.some((m) => m === 'strict' || m === 1)) throw new RestoreError(`${who}: seccomp strict mode is not supported`);
    if (modes.some((m) => m === 'filter' || m === 2)) {
      if (new Set(modes).size > 1 || new Set(scIdx.map(String)).size > 1) throw new RestoreError(`${who}: threads with different seccomp filters are not supported`);
      seccompAll ??= (load(dir, 'seccomp', who).entries[0]?.seccomp_filters as any[] | undefined) ?? [];
      const chain: any[] = [];
      for (let k: number | undefined = n(scIdx[0]); k !== undefined; ) {
        const f: any = seccompAll[k];
        if (!f || chain.length > 64) throw new RestoreError(`${who}: ${imageFileName('seccomp')} has no filter ${k}`);
        chain.unshift(f);
        k = f.prev === undefined || f.prev === null ? undefined : n(f.prev);
      }
      t.seccomp = chain.map((f) => ({ flags: (n(f.flags) & 1) | (tids.length > 1 ? 1 : 0), insns: (f.filter as Buffer) ?? Buffer.alloc(0) }));
    }
  }
  for (const [obj, ts] of epollTargets) {
    const miss = ts.find((x) => !x.done);
    if (miss) throw new RestoreError(`${plan.objs[obj].label}: target fd ${miss.tfd} is not open in any task that has this epoll`);
  }
  for (const i of o.inheritFds ?? []) {
    if (!inheritUsed.has(i.key) && !inheritUsed.has('/' + i.key)) throw new RestoreError(`--inherit-fd fd[${i.fd}]:${i.key}: no restored file is ${i.key}`);
  }
  plan.inheritFds = [...new Set((o.inheritFds ?? []).map((i) => i.fd))];
  return plan;
}

/** size and build-id of an executable or mapped file, as CRIU checks them */
function checkFile(reg: any, what: string): void {
  const path = reg.name as string;
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new RestoreError(`${what}: file ${path} is missing`);
  }
  if (reg.size !== undefined && BigInt(st.size) !== BigInt(reg.size)) throw new RestoreError(`${what}: file ${path} has size ${st.size}, the dump recorded ${reg.size}`);
  if (reg.build_id?.length) {
    const id = buildId(path);
    if (id && id.join() !== (reg.build_id as number[]).map(Number).join()) throw new RestoreError(`${what}: file ${path} has another build-id than the dumped one`);
  }
}

/** The plan in the helper's wire form: u64 LE numbers; strings and bytes as u64 length + data padded to 8. */
export function encodePlan(p: Plan): Buffer {
  const parts: Buffer[] = [];
  const u64 = (v: number | bigint) => { const x = Buffer.alloc(8); x.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v))); parts.push(x); };
  const bytes = (d: Buffer) => { u64(d.length); parts.push(d); const pad = (8 - (d.length % 8)) % 8; if (pad) parts.push(Buffer.alloc(pad)); };
  const str = (s: string) => bytes(Buffer.from(s, 'utf8'));
  u64(0x31545352544b5043n);
  u64((p.detached ? 1 : 0) | (p.shellJob ? 2 : 0));
  u64(p.tasks.length); u64(p.objs.length); u64(p.pipes.length); u64(p.memfds.length);
  for (const pp of p.pipes) { u64(pp.size); bytes(pp.data); }
  for (const m of p.memfds) {
    str(m.label); str(m.name); u64(m.anon ? 1 : 0); u64(m.size); u64(m.seals); u64(m.mode); u64(m.uid); u64(m.gid); str(m.pages);
    u64(m.runs.length); for (const r of m.runs) { u64(r.off); u64(r.len); u64(r.fileOff); }
  }
  for (const o of p.objs) {
    u64(o.kind); str(o.label);
    if (o.kind === 1 || o.kind === 4) {
      str(o.path!); u64(o.flags); u64(o.pos ?? 0n);
      if (o.kind === 4) { u64(o.fifo?.size ?? 0); bytes(o.fifo?.data ?? Buffer.alloc(0)); }
    } else if (o.kind === 5) { u64(o.inheritFd!); }
    else if (o.kind === 12) { u64(o.flags); }
    else if (o.kind === 13 || o.kind === 14) {
      u64(o.flags); const nums = o.nums ?? []; u64(nums.length); for (const v of nums) u64(v); bytes(o.data ?? Buffer.alloc(0));
    }
    else if (o.kind >= 6) {
      u64(o.flags); u64(o.pos ?? 0n);
      const nums = o.nums ?? []; u64(nums.length); for (const v of nums) u64(v);
      const w = o.watches ?? []; u64(w.length); for (const x of w) { u64(x.wd); u64(x.mask); str(x.path); }
    }
    else if (o.kind === 2) { u64(o.pipeNo!); u64(o.end!); u64(o.flags); }
    else {
      const s = o.sk!;
      u64(s.type); u64(s.state); u64(s.backlog); u64(s.peer < 0 ? -1 : s.peer); u64(s.listener < 0 ? -1 : s.listener); u64(s.sndbuf); u64(s.rcvbuf); u64(s.shutdown); u64(s.passcred);
      u64(o.flags); bytes(s.name); u64(s.queue.length); for (const q of s.queue) bytes(q);
    }
    for (const v of o.fown ?? [0, 0, 0]) u64(v);
  }
  for (const t of p.tasks) {
    u64(t.pid); u64(t.parent < 0 ? -1 : t.parent); u64(t.pgid); u64(t.sid); u64(t.state); u64(t.exitCode);
    u64(t.umask); str(t.cwd); str(t.root); str(t.exe); str(t.pages);
    u64(t.fds.length); for (const f of t.fds) { u64(f.fd); u64(f.obj); u64(f.cloexec); }
    u64(t.files.length); for (const f of t.files) { str(f.path); u64(f.oflags); u64(f.memfd); u64(f.obj ?? -1); }
    u64(t.vmas.length); for (const v of t.vmas) { u64(v.start); u64(v.end); u64(v.pgoff); u64(v.prot); u64(v.flags); u64(v.file < 0 ? -1 : v.file); u64(v.madv); u64(v.addWrite); }
    u64(t.iovs.length); for (const v of t.iovs) { u64(v.base); u64(v.len); u64(v.off); }
    u64(t.vdso.hint); u64(t.vdso.expect); u64(t.vdso.vvarLen); u64(t.vdso.vdsoLen);
    for (const v of t.mm) u64(v);
    u64(t.auxv.length); for (const v of t.auxv) u64(v);
    str(t.comm);
    for (const s of t.sigact) for (const v of s) u64(v);
    for (const r of t.rlim) for (const v of r) u64(v);
    for (const r of t.itimer) for (const v of r) u64(v);
    u64(t.credsSet); for (const v of t.cred) u64(v); u64(t.secbits);
    u64(t.groups.length); for (const g of t.groups) u64(g);
    for (const c of t.caps) for (const v of c) u64(v);
    u64(t.noNewPrivs); u64(t.dumpable); u64(t.pdeathSig); u64(t.personalitySet); u64(t.personality);
    u64(t.threads.length);
    for (const h of t.threads) {
      u64(h.tid); u64(h.clearTid); u64(h.robust); u64(h.robustLen); u64(h.fsBase); u64(h.gsBase); u64(h.rseqPtr); u64(h.rseqSize); u64(h.rseqSig);
      str(h.comm); bytes(h.frame);
    }
    u64(t.locks.length); for (const l of t.locks) for (const v of l) u64(v);
    u64(t.nice); u64(t.policy); u64(t.prio); u64(t.subreaper); u64(t.oomSet); u64(t.oomAdj);
    u64(t.sigs.length); for (const q of t.sigs) { u64(q.tid); bytes(q.info); }
    u64(t.seccomp.length); for (const f of t.seccomp) { u64(f.flags); bytes(f.insns); }
    u64(t.epoll.length); for (const e of t.epoll) for (const v of e) u64(v);
    u64(t.ptimers.length); for (const pt of t.ptimers) for (const v of pt) u64(v);
    u64(t.ctty); u64(t.cttyPgrp);
  }
  return Buffer.concat(parts);
}
