// Unix sockets (ENGINE-NOTES §3.7): unix_sk_entry records from sock_diag + socket options read on a
// duplicate of the task's fd (pidfd_getfd, same open file description), and the unread queued data
// (peeked, never consumed) for sk-queues.img. A peer outside the dumped tree is an "external
// socket": refused unless --ext-unix-sk.
import { statSync } from 'node:fs';
import { USK } from '@ckpt/images';
import { native } from './native.js';
import { DumpError } from './log.js';
import { FOWN_NONE } from './files.js';

interface Diag { ino: number; type: number; state: number; peer: number; shutdown: number; name?: Buffer; icons?: number[]; rqueue?: number; wqueue?: number }

const SOL_SOCKET = 1;
const SO = { REUSEADDR: 2, DONTROUTE: 5, BROADCAST: 6, SNDBUF: 7, RCVBUF: 8, KEEPALIVE: 9, OOBINLINE: 10, NO_CHECK: 11,
  PRIORITY: 12, REUSEPORT: 15, PASSCRED: 16, RCVLOWAT: 18, RCVTIMEO: 20, SNDTIMEO: 21, PASSSEC: 34, MARK: 36, BUF_LOCK: 72 };
const TCP_LISTEN = 10;

interface Dumped { pid: number; fd: number; id: number; ino: number; entry: any }

export class UnixSockets {
  private diag = new Map<number, Diag>();
  private dumped: Dumped[] = [];
  private seen = new Set<number>();
  private waiting = new Map<number, any[]>(); // peer ino -> file entries written after that peer
  readonly queues: any[] = [];

  constructor(private netNsId: number, private extUnixSk: boolean) {
    for (const d of native().unixDiag() as Diag[]) this.diag.set(d.ino, d);
  }

  isUnix(ino: number): boolean {
    return this.diag.has(ino);
  }

  /**
   * Builds the entry of the socket behind fd and emits it in CRIU's order: a socket whose peer was
   * not dumped yet waits for it (then peer first, waiting socket after).
   */
  dumpFd(pid: number, fd: number, id: number, ino: number, flags: number, emit: (e: any) => void): void {
    const e = this.entry(pid, fd, id, ino, flags);
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

  private entry(pid: number, fd: number, id: number, ino: number, flags: number): any {
    const d = this.diag.get(ino)!;
    const what = `unix socket ${ino} (fd ${fd} of task ${pid})`;
    if (d.icons?.length) throw new DumpError(`Can't dump ${what}: listening socket with ${d.icons.length} pending connection(s) is not supported yet`);
    const n = native();
    const local = n.getFd(pid, fd);
    try {
      const int = (o: number) => Math.max(0, n.getsockoptInt(local, SOL_SOCKET, o));
      const tv = (o: number) => {
        const b = n.getsockoptBuf(local, SOL_SOCKET, o, 16);
        return b ? [b.readBigUInt64LE(0), b.readBigUInt64LE(8)] : [0n, 0n];
      };
      const [ss, su] = tv(SO.SNDTIMEO), [rs, ru] = tv(SO.RCVTIMEO);
      const opts: any = {
        so_sndbuf: int(SO.SNDBUF), so_rcvbuf: int(SO.RCVBUF), so_snd_tmo_sec: ss, so_snd_tmo_usec: su,
        so_rcv_tmo_sec: rs, so_rcv_tmo_usec: ru, reuseaddr: int(SO.REUSEADDR) !== 0, so_priority: int(SO.PRIORITY),
        so_rcvlowat: int(SO.RCVLOWAT),
      };
      const mark = int(SO.MARK);
      if (mark) opts.so_mark = mark;
      Object.assign(opts, {
        so_passcred: int(SO.PASSCRED) !== 0, so_passsec: int(SO.PASSSEC) !== 0, so_dontroute: int(SO.DONTROUTE) !== 0,
        so_no_check: int(SO.NO_CHECK) !== 0, so_reuseport: int(SO.REUSEPORT) !== 0, so_broadcast: int(SO.BROADCAST) !== 0,
        so_keepalive: int(SO.KEEPALIVE) !== 0, so_oobinline: int(SO.OOBINLINE), so_buf_lock: int(SO.BUF_LOCK),
      });
      const name = d.name ?? Buffer.alloc(0);
      const e: any = {
        id, ino, type: d.type, state: d.state, flags, uflags: 0, backlog: d.wqueue ?? 0, peer: d.peer,
        fown: FOWN_NONE, opts, name,
      };
      if (d.shutdown) e.shutdown = d.shutdown;
      if (name.length && name[0] !== 0) {
        const path = name.toString('latin1').replace(/\0+$/, '');
        try {
          const st = statSync(path);
          e.file_perms = { mode: st.mode, uid: st.uid, gid: st.gid };
        } catch {
          e.deleted = true;
        }
      }
      e.ns_id = this.netNsId;
      if (d.state !== TCP_LISTEN) {
        for (const pkt of n.peekQueue(local)) this.queues.push({ id_for: id, length: pkt.length, extra: pkt });
      }
      this.dumped.push({ pid, fd, id, ino, entry: e });
      return e;
    } finally {
      n.close(local);
    }
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
    for (const list of this.waiting.values()) for (const f of list) emit(f);
    this.waiting.clear();
  }
}
