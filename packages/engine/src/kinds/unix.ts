// Unix sockets (CRIU's sk-unix.c, ENGINE-NOTES §3.7): unix_sk_entry records from sock_diag + socket
// options read on a duplicate of the task's fd (pidfd_getfd, same open file description), and the unread
// queued data (peeked, never consumed) for sk-queues.img. A peer outside the dumped tree is an "external
// socket": refused unless --ext-unix-sk. On restore: socketpair, bound/listening, accepted = connect +
// accept on the listener, queues re-sent from the peer, --ext-unix-sk peers connected by name.
import { enumValues, USK } from '@ckpt/images';
import { native } from '../native.js';
import { DumpError } from '../log.js';
import type { FileObjects } from '../restore/objects.js';
import { hasImage, load, n, RestoreError } from '../restore/read.js';
import type { Obj } from '../restore/types.js';
import { FOWN_NONE, O_NONBLOCK, PerRun } from './common.js';
import { dumpSkOpts } from './sk-opts.js';
import type { Kind } from './kind.js';
import type { Files } from '../files.js';
import { ObjFlag, ObjKind } from '../restore/plan-wire.js';

interface Diag { ino: number; type: number; state: number; peer: number; shutdown: number; name?: Buffer; icons?: number[]; rqueue?: number; wqueue?: number }

const TCP_ESTABLISHED = 1, TCP_LISTEN = 10, SOCK_DGRAM = 2, SCM_RIGHTS = 1;

/** kinds of files that cannot be dumped while in flight */
function refuseInFlight(type: string): string | undefined {
  if (type === 'TTY') return 'a terminal in flight (SCM_RIGHTS) is not supported';
  return undefined;
}
/** restore: an external peer, connected by name (--ext-unix-sk) */

export const unix: Kind = {
  type: 'UNIXSK',
  field: 'usk',
  detect: ({ st }, files) => st.isSocket() && !!files.unix?.isUnix(st.ino),
  dump(files, { pid, fd, id, st, flags }) {
    files.unix!.dumpFd(files, pid, fd, id, st.ino, flags, (e) => files.entries.push(e));
  },
  collect(objs) {
    restoreState.of(objs);
  },
  plan: (objs, f, _fileId, what) => unixObj(objs, f.usk, what),
  placed(objs, f, idx, what) {
    const o = objs.plan.objs[idx];
    if (n(f.usk.state) === TCP_LISTEN) {
      // pending connections: connected to the listener (their peer) and not accepted; by file id, as dumped
      const pending = objs.files.filter((c) => c.usk && n(c.usk.peer) === n(f.usk.ino) && n(c.usk.state) === TCP_ESTABLISHED && n(c.usk.type) !== SOCK_DGRAM)
        .sort((a, b) => n(a.id) - n(b.id));
      const icons = pending.map((c) => ({ obj: objs.objFor(n(c.id), `pending connection to ${what}`) }));
      if (icons.length) o.sk!.icons = icons;
    }
    if (o.sk?.peer === -2) linkPeer(objs, f.usk, idx, what);
    else if (o.flags & ObjFlag.PEER_GONE) o.sk!.listener = listenerOf(objs, f.usk, what);
    // files in flight: objects of their own (made here if no task has them), sent with the packets
    const pkts = restoreState.of(objs).queues.get(n(f.usk.id)) ?? [];
    const queueFds = pkts.flatMap((p, pkt) => p.rights.map((id) => ({ pkt, obj: objs.objFor(id, `file in flight to ${what}`) })));
    if (queueFds.length) o.sk!.queueFds = queueFds;
  },
  inheritKeys: (f) => [`socket:[${f.usk.ino}]`],
};

interface Dumped { pid: number; fd: number; id: number; ino: number; entry: any }

export class UnixSockets {
  private diag = new Map<number, Diag>();
  private dumped: Dumped[] = [];
  private seen = new Set<number>();
  private waiting = new Map<number, any[]>(); // peer ino -> file entries written after that peer
  readonly queues: any[] = [];
  private inFlight: number[] = [];
  /** a pending (not yet accepted) connection's socket -> the listener it waits on (the listener's icons) */
  private pendingOn = new Map<number, number>();

  constructor(private netNsId: number, private extUnixSk: boolean) {
    for (const d of native().unixDiag() as Diag[]) this.diag.set(d.ino, d);
    for (const d of this.diag.values()) for (const c of d.icons ?? []) if (c) this.pendingOn.set(c, d.ino);
  }

  isUnix(ino: number): boolean {
    return this.diag.has(ino);
  }

  /**
   * Builds the entry of the socket behind fd and emits it in CRIU's order: a socket whose peer was
   * not dumped yet waits for it (then peer first, waiting socket after).
   */
  dumpFd(files: Files, pid: number, fd: number, id: number, ino: number, flags: number, emit: (e: any) => void): void {
    const e = this.entry(files, pid, fd, id, ino, flags);
    const file = { type: 'UNIXSK', id, usk: e };
    this.seen.add(ino);
    if (e.peer && !this.seen.has(e.peer)) {
      const list = this.waiting.get(e.peer) ?? [];
      list.push(file);
      this.waiting.set(e.peer, list);
      return;
    }
    this.emitWritten(file, emit);
  }

  private emitWritten(file: any, emit: (e: any) => void): void {
    emit(file);
    const after = this.waiting.get(file.usk.ino);
    this.waiting.delete(file.usk.ino);
    for (const f of after ?? []) this.emitWritten(f, emit);
  }

  private entry(files: Files, pid: number, fd: number, id: number, ino: number, flags: number): any {
    const d = this.diag.get(ino)!;
    const what = `unix socket ${ino} (fd ${fd} of task ${pid})`;
    if (d.icons?.includes(0)) throw new DumpError(`Can't dump ${what}: a pending connection to this listening socket comes from a socket already closed (what it sent cannot be read)`);
    // a stream socket connected but without a peer: a pending connection (its peer is the listener, as CRIU
    // writes it), or one whose peer was closed (shut down both ways then); anything else is not understood
    let peer = d.peer;
    if (!peer && d.state === TCP_ESTABLISHED && d.type !== SOCK_DGRAM) {
      peer = this.pendingOn.get(ino) ?? 0;
      if (peer && d.wqueue) throw new DumpError(`Can't dump ${what}: pending connection to listening socket ${peer} with data sent before it was accepted (it cannot be read)`);
      if (!peer && d.shutdown !== 3) throw new DumpError(`Can't dump ${what}: connected socket without a peer (dangling connection)`);
    }
    const n = native();
    const local = n.getFd(pid, fd);
    try {
      const opts = dumpSkOpts(local, (level, o) => Math.max(0, n.getsockoptInt(local, level, o)), true);
      const name = d.name ?? Buffer.alloc(0);
      const e: any = {
        id, ino, type: d.type, state: d.state, flags, uflags: 0, backlog: d.wqueue ?? 0, peer,
        fown: FOWN_NONE, opts, name,
      };
      if (d.shutdown) e.shutdown = d.shutdown;
      if (name.length && name[0] !== 0) {
        // the socket file itself (not whatever the name means from our cwd): its perms, whether it was
        // unlinked, and for a relative name the directory it was bound in (CRIU's name_dir)
        const path = name.toString('latin1').replace(/\0+$/, '');
        const f = n.unixSockFile(local);
        const deleted = !f || f.path.endsWith(' (deleted)');
        if (f) e.file_perms = { mode: f.mode, uid: f.uid, gid: f.gid };
        if (deleted) e.deleted = true;
        if (f && !path.startsWith('/')) {
          const abs = f.path.replace(/ \(deleted\)$/, '');
          if (!abs.endsWith('/' + path)) throw new DumpError(`Can't dump ${what}: its relative name ${path} is not the end of its file's path ${abs}`);
          e.name_dir = abs.slice(0, -path.length - 1);
        }
      }
      e.ns_id = this.netNsId;
      // a stream or seqpacket socket has a queue only once connected (reading an unconnected one fails)
      if (d.state === TCP_ESTABLISHED || (d.type === SOCK_DGRAM && d.state !== TCP_LISTEN)) this.dumpQueue(files, pid, ino, local, id);
      this.dumped.push({ pid, fd, id, ino, entry: e });
      return e;
    } finally {
      n.close(local);
    }
  }

  /**
   * sk-queues.img entries of the socket behind local: its unread packets, in order, each with the file ids
   * of the files in flight with it (SCM_RIGHTS; CRIU's scm entry), dumped as files of their own.
   */
  private dumpQueue(files: Files, pid: number, ino: number, local: number, id: number): void {
    let pkts: { data: Buffer; fds: number[] }[];
    try {
      pkts = native().peekQueue(local);
    } catch (e) {
      throw new DumpError(`task ${pid}: unix socket ${ino}: cannot read its queue: ${(e as Error).message}`);
    }
    for (const p of pkts) this.inFlight.push(...p.fds); // open until the dump ends: kcmp compares tasks' fds with them
    for (const p of pkts) {
      const e: any = { id_for: id, length: p.data.length, extra: p.data };
      if (p.fds.length) {
        const what = `a file in flight to unix socket ${ino} of task ${pid}`;
        e.scm = [{ type: SCM_RIGHTS, rights: p.fds.map((f) => files.dumpOwnFd(f, what, refuseInFlight, pid)) }];
      }
      this.queues.push(e);
    }
  }

  /** the files received from the queues: closed once the dump is over */
  closeInFlight(): void {
    for (const f of this.inFlight.splice(0)) native().close(f);
  }

  /**
   * After all tasks: every connected peer must be in the tree, or --ext-unix-sk must allow it.
   * An allowed external peer gets its own entry marked USK_EXTERN (as CRIU writes it), returned
   * here for files.img.
   */
  checkPeers(newId: () => number, emit: (e: any) => void): void {
    const inTree = new Set(this.dumped.map((s) => s.ino));
    const external = new Map<number, number>();
    for (const s of this.dumped) {
      const peer = s.entry.peer;
      if (!peer || inTree.has(peer)) continue;
      if (!this.extUnixSk) {
        throw new DumpError(`Can't dump unix socket ${s.ino} (fd ${s.fd} of task ${s.pid}): connected to external unix socket ${peer} outside the dumped tree; use --ext-unix-sk if the peer will be provided on restore`);
      }
      if (external.has(peer)) continue;
      const d = this.diag.get(peer);
      const id = newId();
      external.set(peer, id);
      this.emitWritten({
        type: 'UNIXSK', id, usk: {
          id, ino: peer, type: s.entry.type, state: TCP_LISTEN, flags: 0, uflags: USK.EXTERN, backlog: 0, peer: 0,
          fown: FOWN_NONE, opts: { so_sndbuf: 0, so_rcvbuf: 0, so_snd_tmo_sec: 0n, so_snd_tmo_usec: 0n, so_rcv_tmo_sec: 0n, so_rcv_tmo_usec: 0n },
          name: d?.name ?? Buffer.alloc(0),
        },
      }, emit);
    }
    for (const s of this.dumped) {
      const icons = this.diag.get(s.ino)?.icons ?? [];
      const ids = icons.map((c) => this.dumped.find((x) => x.ino === c)?.id);
      const outside = icons.find((_, i) => ids[i] === undefined);
      if (outside !== undefined) throw new DumpError(`Can't dump unix socket ${s.ino} (fd ${s.fd} of task ${s.pid}): listening socket with a pending connection from unix socket ${outside}, outside the dumped tree`);
      // the restore connects them in file id order: it must be the order they wait in
      if (ids.some((id, i) => i && id! < ids[i - 1]!)) throw new DumpError(`Can't dump unix socket ${s.ino} (fd ${s.fd} of task ${s.pid}): its pending connections were queued in an order the images cannot keep`);
    }
    for (const list of this.waiting.values()) for (const f of list) emit(f);
    this.waiting.clear();
    this.closeInFlight();
  }
}

interface RestoreState {
  /** files.img's unix sockets by inode */
  byIno: Map<number, any>;
  /** sk-queues by receiver id: each packet's data and the file ids in flight with it */
  queues: Map<number, { data: Buffer; rights: number[] }[]>;
}
const restoreState = new PerRun<FileObjects, RestoreState>((objs) => {
  const byIno = new Map<number, any>();
  for (const f of objs.files) if (f.usk) byIno.set(n(f.usk.ino), f);
  const queues = new Map<number, { data: Buffer; rights: number[] }[]>();
  const dir = objs.opts.dir;
  if (hasImage(dir, 'sk-queues')) {
    for (const e of load(dir, 'sk-queues', 'socket queues').entries) {
      const l = queues.get(n(e.id_for)) ?? [];
      const rights: number[] = [];
      for (const scm of e.scm ?? []) {
        if (n(scm.type) !== SCM_RIGHTS) throw new RestoreError(`socket queues: a packet for socket id ${e.id_for} carries control message type ${scm.type}, not SCM_RIGHTS`);
        rights.push(...(scm.rights ?? []).map((r: unknown) => n(r)));
      }
      l.push({ data: (e.extra as Buffer) ?? Buffer.alloc(0), rights });
      queues.set(n(e.id_for), l);
    }
  }
  return { byIno, queues };
});

function unixObj(objs: FileObjects, u: any, what: string): Obj {
  const name: Buffer = u.name ?? Buffer.alloc(0);
  const label = `${what} (unix socket:[${u.ino}]${name.length ? ' ' + JSON.stringify(name.toString('latin1').replace(/\0+$/, '')) : ''})`;
  // connected (ESTABLISHED) but without a peer: the peer was closed (an accepted one keeps its listener's
  // name). A named datagram socket is ESTABLISHED once another connects to it: only a nameless one lost a peer.
  if (u.deleted && !(name.length && name[0] !== 0)) throw new RestoreError(`${label}: marked deleted but it has no path name`);
  const gone = !n(u.peer) && n(u.state) === TCP_ESTABLISHED && !(n(u.uflags) & USK.EXTERN) &&
    (n(u.type) !== SOCK_DGRAM || !name.length);
  return {
    kind: ObjKind.UNIX, label,
    flags: (n(u.flags) & O_NONBLOCK) | (gone ? ObjFlag.PEER_GONE : 0) | (u.deleted ? ObjFlag.SK_DELETED : 0),
    sk: {
      type: n(u.type), state: n(u.state), backlog: n(u.backlog), peer: n(u.peer) ? -2 : -1, listener: -1,
      sndbuf: n(u.opts?.so_sndbuf), rcvbuf: n(u.opts?.so_rcvbuf), shutdown: shutdownOf(u, label), passcred: u.opts?.so_passcred ? 1 : 0,
      ...(u.opts?.so_passsec ? { passsec: 1 } : {}),
      name, queue: (restoreState.of(objs).queues.get(n(u.id)) ?? []).map((p) => p.data),
      ...(u.file_perms ? { mode: n(u.file_perms.mode) & 0o7777, uid: n(u.file_perms.uid), gid: n(u.file_perms.gid) } : {}),
      ...(u.name_dir ? { nameDir: String(u.name_dir) } : {}),
    },
  };
}

/** sk_shutdown (an enum: decoded by name) as its number, 0 NONE .. 3 BOTH */
function shutdownOf(u: any, label: string): number {
  const v = u.shutdown ?? 'NONE';
  const x = typeof v === 'string' ? enumValues('sk_shutdown')?.[v] : Number(v);
  if (x === undefined || !Number.isInteger(x) || x < 0 || x > 3) throw new RestoreError(`${label}: unknown shutdown state ${String(v)}`);
  return x;
}

/** a connected unix socket's peer: in the images, external (--ext-unix-sk), or accepted from a listener */
function linkPeer(objs: FileObjects, u: any, idx: number, what: string): void {
  const peerFile = restoreState.of(objs).byIno.get(n(u.peer));
  const sk = objs.plan.objs[idx].sk!;
  if (!peerFile) {
    if (!objs.opts.extUnixSk) throw new RestoreError(`${what}: unix socket ${u.ino} is connected to ${u.peer}, which is not in the images (use --ext-unix-sk)`);
    sk.peer = -1;
    return;
  }
  if (n(peerFile.usk.uflags) & USK.EXTERN) {
    if (!objs.opts.extUnixSk) throw new RestoreError(`${what}: unix socket ${u.ino} is connected to an external socket (${peerFile.usk.name?.toString().replace(/\0/g, '') || u.peer}); restore with --ext-unix-sk`);
    const ext = unixObj(objs, peerFile.usk, `external peer of ${what}`);
    ext.flags |= ObjFlag.EXTERNAL;
    ext.sk!.peer = -1;
    objs.plan.objs.push(ext);
    sk.peer = objs.plan.objs.length - 1;
    return;
  }
  sk.listener = listenerOf(objs, u, what);
  sk.peer = objs.objFor(n(peerFile.id), `peer of ${what}`);
}

/** an accepted socket carries its listener's name: it is recreated by connect + accept on that listener */
function listenerOf(objs: FileObjects, u: any, what: string): number {
  const name: Buffer = u.name ?? Buffer.alloc(0);
  if (!name.length || n(u.state) !== TCP_ESTABLISHED || n(u.type) === SOCK_DGRAM) return -1;
  const l = objs.files.find((f) => f.usk && n(f.usk.state) === TCP_LISTEN && Buffer.compare(f.usk.name ?? Buffer.alloc(0), name) === 0);
  return l ? objs.objFor(n(l.id), `listener of ${what}`) : -1;
}
