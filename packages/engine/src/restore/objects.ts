// The open files of a dump (files.img and the images that complete it) as the plan's objects: every
// file id (open file description) becomes one object, which the helper creates before it forks and
// every task that uses it dup2()s to its fd numbers. Also the memfds and shared anonymous memory that
// mappings use, and ghost files (deleted but open).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { imageFileName, PE, USK } from '@ckpt/images';
import { b, hasImage, load, n, PAGE, RestoreError } from './read.js';
import type { Ghost, Memfd, Obj, Plan, PlanOptions } from './types.js';

const TCP_ESTABLISHED = 1, TCP_LISTEN = 10, SOCK_DGRAM = 2;
const EXTERNAL_FLAG = 1 << 30;
const O_ACCMODE = 3;
const GHOST_FLAG = 2 ** 31; // REG object: unlink the path once opened

type Contents = { size: number; data: Buffer };

export class FileObjects {
  /** files.img entries, in their order */
  readonly files: any[];
  private fileById = new Map<number, any>();
  /** pipes-data and fifo-data by pipe inode, sk-queues by receiver id */
  private pipeData = new Map<number, Contents>();
  private fifoData = new Map<number, Contents>();
  private skQueues = new Map<number, Buffer[]>();
  private memfdInodes = new Map<number, any>();
  private memfdIdx = new Map<string, number>();
  /** remap-fpath: file id -> ghost file id; ghost id -> the path it is recreated at */
  private ghostOf = new Map<number, number>();
  private ghostPath = new Map<number, string>();
  /** --inherit-fd: resources by the name CRIU gives them (socket:[INO], pipe:[INO], a path with or without its /) */
  private inherit = new Map<string, number>();
  private inheritUsed = new Set<string>();
  private objByFileId = new Map<number, number>();
  private pipeNo = new Map<number, number>();
  private unixByIno = new Map<number, any>();
  private ttyInfo: Map<number, any> | undefined;
  private ttyData: Map<number, Buffer> | undefined;
  /** session id -> the terminal its leader takes as controlling tty, and its foreground group */
  readonly cttyOf = new Map<number, { obj: number; pgrp: number; fileId: number }>();
  /** epoll object -> its targets, registered by the first task that has the epoll and the target at their fd numbers */
  readonly epollTargets = new Map<number, { tfd: number; events: number; data: bigint; done: boolean }[]>();

  constructor(private readonly plan: Plan, private readonly o: PlanOptions) {
    const dir = o.dir;
    this.files = hasImage(dir, 'files') ? load(dir, 'files', 'files').entries : [];
    for (const f of this.files) this.fileById.set(n(f.id), f);
    for (const f of this.files) if (f.usk) this.unixByIno.set(n(f.usk.ino), f);
    if (hasImage(dir, 'pipes-data')) {
      for (const e of load(dir, 'pipes-data', 'pipes data').entries) {
        this.pipeData.set(n(e.pipe_id), { size: n(e.size), data: (e.extra as Buffer) ?? Buffer.alloc(0) });
      }
    }
    if (hasImage(dir, 'fifo-data')) {
      for (const e of load(dir, 'fifo-data', 'FIFO data').entries) {
        this.fifoData.set(n(e.pipe_id), { size: n(e.size), data: (e.extra as Buffer) ?? Buffer.alloc(0) });
      }
    }
    if (hasImage(dir, 'sk-queues')) {
      for (const e of load(dir, 'sk-queues', 'socket queues').entries) {
        const l = this.skQueues.get(n(e.id_for)) ?? [];
        l.push((e.extra as Buffer) ?? Buffer.alloc(0));
        this.skQueues.set(n(e.id_for), l);
      }
    }
    if (hasImage(dir, 'memfd')) for (const e of load(dir, 'memfd', 'memfds').entries) this.memfdInodes.set(n(e.inode_id), e);
    for (const i of o.inheritFds ?? []) {
      this.inherit.set(i.key, i.fd);
      if (!i.key.includes(':[') && !i.key.startsWith('/')) this.inherit.set('/' + i.key, i.fd);
    }
    if (hasImage(dir, 'remap-fpath')) {
      for (const e of load(dir, 'remap-fpath', 'file remaps').entries) {
        const type = e.remap_type ?? 'LINKED';
        if (type !== 'GHOST' && type !== 0) throw new RestoreError(`file id ${e.orig_id}: ${type} file remaps are not supported`);
        this.ghostOf.set(n(e.orig_id), n(e.remap_id));
      }
    }
  }

  /** The files.img entry of a file id (undefined if it has none). */
  file(id: number): any {
    return this.fileById.get(id);
  }

  /** The path of a regular file id (a task's cwd, root, exe). */
  regName(id: number, what: string): string {
    const f = this.fileById.get(id);
    if (!f || !f.reg) throw new RestoreError(`${what}: file id ${id} is not in ${imageFileName('files')}`);
    return f.reg.name as string;
  }

  /** Whether a file id is a ghost file (deleted when dumped). */
  isGhost(fileId: number): boolean {
    return this.ghostOf.has(fileId);
  }

  /** The object already made for a file id, if any. */
  objectOf(fileId: number): number | undefined {
    return this.objByFileId.get(fileId);
  }

  /** The object of a file id (made on first use), its index in plan.objs. */
  objFor(fileId: number, what: string): number {
    const have = this.objByFileId.get(fileId);
    if (have !== undefined) return have;
    const f = this.fileById.get(fileId);
    if (!f) throw new RestoreError(`${what}: file id ${fileId} is not in ${imageFileName('files')}`);
    let obj: Obj;
    const ik = inheritKey(f).find((k) => this.inherit.has(k));
    if (ik !== undefined) {
      this.inheritUsed.add(ik);
      obj = { kind: 5, label: `${what} (${ik}, inherited fd ${this.inherit.get(ik)})`, flags: 0, inheritFd: this.inherit.get(ik) };
    } else if (f.reg && this.ghostOf.has(fileId)) {
      const r = f.reg;
      const path = this.ghostFile(r, this.ghostOf.get(fileId)!, what);
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
      let no = this.pipeNo.get(ino);
      if (no === undefined) {
        no = this.plan.pipes.length;
        const d = this.pipeData.get(ino);
        this.plan.pipes.push({ size: d?.size ?? 0, data: d?.data ?? Buffer.alloc(0) });
        this.pipeNo.set(ino, no);
      }
      obj = { kind: 2, label: `${what} (pipe:[${ino}])`, flags: n(p.flags) & ~O_ACCMODE, pipeNo: no, end: n(p.flags) & O_ACCMODE ? 1 : 0 };
    } else if (f.usk) {
      obj = this.unixObj(f.usk, what);
    } else if (f.tty) {
      obj = this.ttyObj(f, fileId, what);
    } else if (f.efd) {
      obj = { kind: 6, label: `${what} (eventfd)`, flags: n(f.efd.flags), nums: [b(f.efd.counter)] };
    } else if (f.tfd) {
      const t = f.tfd;
      obj = { kind: 7, label: `${what} (timerfd)`, flags: n(t.flags), nums: [b(t.clockid), b(t.ticks), b(t.isec), b(t.insec), b(t.vsec), b(t.vnsec)] };
    } else if (f.sgfd) {
      obj = { kind: 8, label: `${what} (signalfd)`, flags: n(f.sgfd.flags), nums: [b(f.sgfd.sigmask)] };
    } else if (f.epfd) {
      obj = { kind: 9, label: `${what} (eventpoll)`, flags: n(f.epfd.flags) };
      this.epollTargets.set(this.plan.objs.length, ((f.epfd.tfd as any[]) ?? []).map((x) => ({ tfd: n(x.tfd), events: n(x.events), data: b(x.data), done: false })));
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
      obj = { kind: 11, label: `${what} (memfd)`, flags: n(m.flags), pos: b(m.pos), nums: [BigInt(this.memfdFor(n(m.inode_id), what))] };
    } else if (f.fifo) {
      obj = this.fifoObj(f, what);
    } else {
      throw new RestoreError(`${what}: unsupported file type ${f.type}`);
    }
    if (!obj.fown) fownOf(obj, (f.reg ?? f.pipe ?? f.usk ?? f.efd ?? f.tfd ?? f.sgfd ?? f.epfd ?? f.ify ?? f.memfd ?? f.tty)?.fown);
    this.plan.objs.push(obj);
    const idx = this.plan.objs.length - 1;
    this.objByFileId.set(fileId, idx);
    if (f.usk && obj.sk && obj.sk.peer === -2) this.linkPeer(f.usk, idx, what);
    return idx;
  }

  /** The memfd object of a memfd inode (made on first use), its index in plan.memfds. */
  memfdFor(inodeId: number, what: string): number {
    const key = `i${inodeId}`;
    const have = this.memfdIdx.get(key);
    if (have !== undefined) return have;
    const e = this.memfdInodes.get(inodeId);
    if (!e) throw new RestoreError(`${what}: memfd inode ${inodeId} is not in ${imageFileName('memfd')}`);
    if (e.hugetlb_flag) throw new RestoreError(`${what}: hugetlb memfds are not supported`);
    const name = String(e.name ?? '');
    const anon = name === '/dev/zero';
    this.plan.memfds.push({ label: `${what} (${anon ? 'shared anonymous memory' : `memfd ${name}`})`, name, anon, size: b(e.size), seals: n(e.seals), mode: n(e.mode, 0o100777) & 0o7777,
      uid: n(e.uid), gid: n(e.gid), ...this.shmemRuns(n(e.shmid), what) });
    this.memfdIdx.set(key, this.plan.memfds.length - 1);
    return this.plan.memfds.length - 1;
  }

  /** The object of shared anonymous memory shmid, at least size bytes, its index in plan.memfds. */
  anonShmFor(shmid: number, size: bigint, what: string): number {
    const key = `s${shmid}`;
    const have = this.memfdIdx.get(key);
    if (have !== undefined) {
      if (this.plan.memfds[have].size < size) this.plan.memfds[have].size = size;
      return have;
    }
    this.plan.memfds.push({ label: `${what} (shared anonymous memory ${shmid})`, name: '/dev/zero', anon: true, size, seals: 0, mode: 0o777, uid: 0, gid: 0, ...this.shmemRuns(shmid, what) });
    this.memfdIdx.set(key, this.plan.memfds.length - 1);
    return this.plan.memfds.length - 1;
  }

  /** Once every task is planned: what the images or the caller asked for that no task took. */
  checkAllUsed(): void {
    for (const [obj, ts] of this.epollTargets) {
      const miss = ts.find((x) => !x.done);
      if (miss) throw new RestoreError(`${this.plan.objs[obj].label}: target fd ${miss.tfd} is not open in any task that has this epoll`);
    }
    for (const i of this.o.inheritFds ?? []) {
      if (!this.inheritUsed.has(i.key) && !this.inheritUsed.has('/' + i.key)) throw new RestoreError(`--inherit-fd fd[${i.fd}]:${i.key}: no restored file is ${i.key}`);
    }
  }

  /** contents of a memfd or shared anonymous memory: pagemap-shmem-SHMID.img */
  private shmemRuns(shmid: number, what: string): { pages: string; runs: Memfd['runs'] } {
    const dir = this.o.dir;
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
  }

  /** a ghost file: recreated (before the helper runs) from ghost-file-ID.img next to where it was */
  private ghostFile(r: any, remapId: number, what: string): string {
    const have = this.ghostPath.get(remapId);
    if (have) return have;
    const name = imageFileName('ghost-file', remapId);
    const es = load(this.o.dir, 'ghost-file', remapId, `${what} (deleted file ${r.name})`).entries;
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
    this.plan.ghosts.push({ path, mode: mode & 0o7777, uid: n(g.uid), gid: n(g.gid), size, atime: tv(g.atim), mtime: tv(g.mtim), chunks });
    this.ghostPath.set(remapId, path);
    return path;
  }

  /** a terminal: a pty master or slave of the images, or (a shell job) the caller's terminal */
  private ttyObj(f: any, fileId: number, what: string): Obj {
    const dir = this.o.dir;
    // a shell job's terminal: a pts slave whose master is outside the tree; as CRIU with --shell-job, the
    // restored task gets the terminal of the caller (our stdin)
    this.ttyInfo ??= new Map((hasImage(dir, 'tty-info') ? load(dir, 'tty-info', 'terminals').entries : []).map((e: any) => [n(e.id), e]));
    const ttyInfo = this.ttyInfo;
    const info = ttyInfo.get(n(f.tty.tty_info_id));
    const name = this.fileById.get(n(f.tty.regf_id))?.reg?.name ?? `tty ${f.tty.tty_info_id}`;
    if (!info) throw new RestoreError(`${what}: terminal ${name}: tty-info ${f.tty.tty_info_id} is not in ${imageFileName('tty-info')}`);
    const index = n(info.pty?.index, -1);
    const masterFile = info.type === 'PTY' && name !== '/dev/ptmx' ? this.files.find((g) => g.tty && this.fileById.get(n(g.tty.regf_id))?.reg?.name === '/dev/ptmx' &&
      n(ttyInfo.get(n(g.tty.tty_info_id))?.pty?.index, -2) === index) : undefined;
    if (info.type === 'PTY' && name === '/dev/ptmx') {
      // a pty master: /dev/ptmx (its slave's index if it is free), the slave's termios/winsize, the input queued for the slave
      const slaveInfo = [...ttyInfo.values()].find((x) => x.type === 'PTY' && n(x.pty?.index, -1) === index && n(x.rdev) !== n(info.rdev)) ?? info;
      const tio = slaveInfo.termios ?? {};
      const cc: number[] = [];
      for (const w of ((tio.c_cc as number[] | undefined) ?? []).slice(0, 5)) for (let k = 0; k < 4; k++) cc.push((n(w) >>> (8 * k)) & 0xff);
      const ws = slaveInfo.winsize ?? {};
      this.ttyData ??= new Map((hasImage(dir, 'tty-data') ? load(dir, 'tty-data', 'terminal data').entries : []).map((e: any) => [n(e.tty_id), e.data as Buffer]));
      return { kind: 13, label: `${what} (pty master of /dev/pts/${index})`, flags: n(f.tty.flags), data: this.ttyData.get(n(slaveInfo.id)) ?? Buffer.alloc(0),
        nums: [index, n(tio.c_iflag), n(tio.c_oflag), n(tio.c_cflag), n(tio.c_lflag), n(tio.c_line), n(ws.ws_row), n(ws.ws_col), n(ws.ws_xpixel), n(ws.ws_ypixel),
          info.locked ? 1 : 0, info.packet_mode ? 1 : 0, slaveInfo.termios ? 1 : 0, ...cc.slice(0, 19)].map((v) => BigInt(v)) };
    }
    if (masterFile) {
      const m = this.objFor(n(masterFile.id), `master of ${what}`);
      if (n(info.sid)) this.cttyOf.set(n(info.sid), { obj: -1, pgrp: n(info.pgrp), fileId });
      return { kind: 14, label: `${what} (${name})`, flags: n(f.tty.flags), nums: [BigInt(m)] };
    }
    if (info.type !== 'PTY' || !/^\/dev\/pts\/\d+$/.test(name)) {
      throw new RestoreError(`${what}: terminal ${name} (${info.type}) is not supported (only ptys)`);
    }
    if (!this.o.shellJob) {
      throw new RestoreError(`${what}: terminal ${name} belongs to a session outside the tree: restore with --shell-job from a terminal`);
    }
    this.plan.callerTty = true;
    return { kind: 12, label: `${what} (${name}: the caller's terminal)`, flags: n(f.tty.flags) };
  }

  /** a FIFO: opened by path; the first object of it refills it from fifo-data */
  private fifoObj(f: any, what: string): Obj {
    const r = this.fileById.get(n(f.fifo.regf_id))?.reg;
    if (!r) throw new RestoreError(`${what}: FIFO ${f.fifo.pipe_id}: file id ${f.fifo.regf_id} is not in ${imageFileName('files')}`);
    const path = r.name as string;
    let st;
    try { st = statSync(path); } catch { throw new RestoreError(`${what}: FIFO ${path} is missing`); }
    if (!st.isFIFO()) throw new RestoreError(`${what}: ${path} is not a FIFO`);
    const ino = n(f.fifo.pipe_id);
    const d = this.fifoData.get(ino);
    this.fifoData.delete(ino);
    const obj: Obj = { kind: 4, label: `${what} (FIFO ${path})`, path, flags: n(r.flags), fifo: d ?? { size: 0, data: Buffer.alloc(0) } };
    fownOf(obj, r.fown);
    return obj;
  }

  private unixObj(u: any, what: string): Obj {
    const name: Buffer = u.name ?? Buffer.alloc(0);
    const label = `${what} (unix socket:[${u.ino}]${name.length ? ' ' + JSON.stringify(name.toString('latin1').replace(/\0+$/, '')) : ''})`;
    return {
      kind: 3, label, flags: n(u.flags) & 0o4000 /* O_NONBLOCK */,
      sk: {
        type: n(u.type), state: n(u.state), backlog: n(u.backlog), peer: n(u.peer) ? -2 : -1, listener: -1,
        sndbuf: n(u.opts?.so_sndbuf), rcvbuf: n(u.opts?.so_rcvbuf), shutdown: n(u.shutdown), passcred: u.opts?.so_passcred ? 1 : 0,
        name, queue: this.skQueues.get(n(u.id)) ?? [],
      },
    };
  }

  /** a connected unix socket's peer: in the images, external (--ext-unix-sk), or accepted from a listener */
  private linkPeer(u: any, idx: number, what: string): void {
    const peerFile = this.unixByIno.get(n(u.peer));
    const sk = this.plan.objs[idx].sk!;
    if (!peerFile) {
      if (!this.o.extUnixSk) throw new RestoreError(`${what}: unix socket ${u.ino} is connected to ${u.peer}, which is not in the images (use --ext-unix-sk)`);
      sk.peer = -1;
      return;
    }
    if (n(peerFile.usk.uflags) & USK.EXTERN) {
      if (!this.o.extUnixSk) throw new RestoreError(`${what}: unix socket ${u.ino} is connected to an external socket (${peerFile.usk.name?.toString().replace(/\0/g, '') || u.peer}); restore with --ext-unix-sk`);
      const ext = this.unixObj(peerFile.usk, `external peer of ${what}`);
      ext.flags |= EXTERNAL_FLAG;
      ext.sk!.peer = -1;
      this.plan.objs.push(ext);
      sk.peer = this.plan.objs.length - 1;
      return;
    }
    // an accepted socket carries its listener's name: it is recreated by connect + accept on that listener
    const name: Buffer = u.name ?? Buffer.alloc(0);
    if (name.length && n(u.state) === TCP_ESTABLISHED && n(u.type) !== SOCK_DGRAM) {
      const l = this.files.find((f) => f.usk && n(f.usk.state) === TCP_LISTEN && Buffer.compare(f.usk.name ?? Buffer.alloc(0), name) === 0);
      if (l) sk.listener = this.objFor(n(l.id), `listener of ${what}`);
    }
    sk.peer = this.objFor(n(peerFile.id), `peer of ${what}`);
  }
}

/** the names --inherit-fd may give a file: its path, pipe:[INO] or socket:[INO] */
function inheritKey(f: any): string[] {
  if (f.reg) return [f.reg.name];
  if (f.pipe) return [`pipe:[${f.pipe.pipe_id}]`];
  if (f.usk) return [`socket:[${f.usk.ino}]`];
  if (f.fifo) return [`pipe:[${f.fifo.pipe_id}]`];
  return [];
}

/** F_SETOWN_EX / F_SETSIG of a file, when the dump recorded an owner or a signal */
function fownOf(obj: Obj, fo: any): void {
  if (fo && (n(fo.signum) || n(fo.pid))) obj.fown = [n(fo.signum), n(fo.pid_type), n(fo.pid)];
}
