// Established TCP connections through TCP_REPAIR (CRIU's sk-tcp.c with libsoccr), for the inet kind.
//
// Dump (one TcpRepair per dump, created by dump.ts and reachable as files.tcp):
//   const s = files.tcp.dump(fd, conn, what)   fd: our fd of the socket (pidfd_getfd), read its options
//                                              first (repair mode changes SO_REUSEADDR); conn: its
//                                              addresses (sock_diag); locks the connection (netlock.ts),
//                                              puts it in repair mode, reads its state: { state, entry,
//                                              inq, outq } (a state it cannot repair: DumpError, by name)
//   writeTcpStream(dir, ino, s)                tcp-stream-<ino>.img, as CRIU writes it
//   files.tcp.established                      --tcp-established: without it a connection is refused
// The dump then ends with resume() (failure, -R: unlocked, out of repair, SO_REUSEADDR back) or release()
// (the tree is killed: our fds closed in repair mode, so the connection vanishes without a RST or FIN;
// the lock stays for the restore).
//
// Restore: restoreStream(dir, isk, what) -> everything struct tcp_stream (native/restore/kinds/tcp-stream.h)
// holds for a connected TCP socket of files.img (its isk entry): addresses (16 bytes each), ports,
// SO_REUSEADDR, the 17 numbers after the ports (restoreFields) and both queues; the helper rebuilds the
// socket from them with tcp_stream_restore (readTcpStream: the image alone).
import { existsSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, ImageError, imageFileName } from '@ckpt/images';
import { native } from './native.js';
import { writeImage } from './images-out.js';
import { DumpError, type Log } from './log.js';
import { addrFromWords, connText, type NetLock, type TcpConn } from './netlock.js';
import type { DumpSteps } from './fault.js';

/** tcp_stream_entry (images/tcp-stream.proto) */
export interface TcpStreamEntry {
  inq_len: number; inq_seq: number; outq_len: number; outq_seq: number;
  opt_mask: number; snd_wscale: number; mss_clamp: number; rcv_wscale?: number; timestamp?: number;
  cork?: boolean; nodelay?: boolean; unsq_len?: number;
  snd_wl1?: number; snd_wnd?: number; max_window?: number; rcv_wnd?: number; rcv_wup?: number;
}

export interface TcpStream {
  /** TCP_* from TCP_INFO (what inetsk.img's state gets) */
  state: number;
  entry: TcpStreamEntry;
  inq: Buffer;
  outq: Buffer;
}

export const TCP = { ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSE: 7, CLOSE_WAIT: 8, LAST_ACK: 9, LISTEN: 10, CLOSING: 11 } as const;
const STATE_NAMES = Object.fromEntries(Object.entries(TCP).map(([k, v]) => [v, k.toLowerCase().replace('_', '-')]));
/** the states libsoccr saves and restores */
const REPAIRABLE = new Set<number>([TCP.ESTABLISHED, TCP.FIN_WAIT1, TCP.FIN_WAIT2, TCP.LAST_ACK, TCP.CLOSE_WAIT, TCP.CLOSING, TCP.CLOSE, TCP.SYN_SENT]);
const TCPI_OPT_TIMESTAMPS = 1, TCPI_OPT_WSCALE = 4;
const SOL_SOCKET = 1, SO_REUSEADDR = 2, F_DUPFD_CLOEXEC = 1030;

export const tcpStateName = (s: number) => STATE_NAMES[s] ?? `state ${s}`;

interface Held { fd: number; conn: TcpConn; reuseaddr: number; what: string }

export class TcpRepair {
  private held: Held[] = [];
  /** told before a socket (its inode) enters repair mode, with the SO_REUSEADDR it gets back (src/dump-guard.ts) */
  beforeRepair?: (ino: number, reuseaddr: number) => void;

  /**
   * established: --tcp-established was given (criu refuses a connected socket without it); steps: the dump's
   * (src/fault.ts: tcp-lock, tcp-repair, tcp-queues), where a signal or an injected fault stops it
   */
  constructor(private lock: NetLock, private log: Log, readonly established: boolean, private steps?: DumpSteps) {}

  dump(fd: number, conn: TcpConn, what: string): TcpStream {
    const n = native();
    const reuseaddr = n.getsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR);
    if (reuseaddr < 0) throw new DumpError(`${what}: SO_REUSEADDR: errno ${-reuseaddr}`);
    // our own fd until the end: the task's may be gone (killed) before we let the socket go
    const own = n.fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (own < 0) throw new DumpError(`${what}: cannot keep the socket: errno ${-own}`);
    const name = `${what}: TCP connection ${connText(conn)}`;
    try {
      this.lock.lockConnection(conn, what);
      this.steps?.at('tcp-lock', name);
    } catch (e) {
      this.lock.unlockConnection(conn);
      n.close(own);
      throw e;
    }
    this.beforeRepair?.(fstatSync(own).ino, reuseaddr);
    const r = n.tcpRepair(own, 1);
    if (r < 0) {
      this.lock.unlockConnection(conn);
      n.close(own);
      throw new DumpError(`${name}: cannot enter repair mode (TCP_REPAIR): errno ${-r}${-r === 1 ? ' (EPERM: a half-closed socket on an old kernel, or no CAP_NET_ADMIN)' : ''}`);
    }
    // from here resume() takes it out of repair mode, whatever comes
    this.held.push({ fd: own, conn, reuseaddr, what });
    this.log.info(`${name} in repair mode`);
    this.steps?.at('tcp-repair', name);
    let st;
    try {
      st = n.tcpStreamState(own);
    } catch (e) {
      throw new DumpError(`${name}: ${(e as Error).message}`);
    }
    if (!REPAIRABLE.has(st.state)) throw new DumpError(`${name} in state ${tcpStateName(st.state)} cannot be repaired`);
    const entry: TcpStreamEntry = {
      inq_len: st.inqLen, inq_seq: st.inqSeq, outq_len: st.outqLen, outq_seq: st.outqSeq,
      opt_mask: st.optMask, snd_wscale: 0, mss_clamp: st.mssClamp, unsq_len: st.unsqLen,
    };
    // as criu: the scales and timestamp only when negotiated
    if (st.optMask & TCPI_OPT_WSCALE) Object.assign(entry, { snd_wscale: st.sndWscale, rcv_wscale: st.rcvWscale });
    if (st.optMask & TCPI_OPT_TIMESTAMPS) entry.timestamp = st.timestamp;
    if (st.window) {
      Object.assign(entry, { snd_wl1: st.window.sndWl1, snd_wnd: st.window.sndWnd, max_window: st.window.maxWindow, rcv_wnd: st.window.rcvWnd, rcv_wup: st.window.rcvWup });
    }
    this.log.debug(`${what}: ${tcpStateName(st.state)}, inq ${st.inqLen} bytes, outq ${st.outqLen} (${st.unsqLen} unsent)`);
    this.steps?.at('tcp-queues', name);
    return { state: st.state, entry, inq: st.inq, outq: st.outq };
  }

  /** a failed dump or -R: every connection unlocked (one batch), then each out of repair (with its SO_REUSEADDR back), our fd closed */
  resume(): void {
    const n = native();
    this.lock.unlockConnections(this.held.map((h) => h.conn));
    for (const h of this.held) {
      const r = n.tcpResume(h.fd, h.reuseaddr);
      if (r < 0) this.log.error(`${h.what}: cannot leave TCP repair mode: errno ${-r}`);
      n.close(h.fd);
    }
    this.held = [];
  }

  /** the tree was killed: closing our fds in repair mode ends the connections without a packet */
  release(): void {
    for (const h of this.held) native().close(h.fd);
    this.held = [];
  }
}

/** tcp-stream-<ino>.img: the entry, then the receive and the send queue */
export function writeTcpStream(dir: string, ino: number, s: TcpStream): number {
  return writeImage(dir, 'tcp-stream', ino, { magic: 'TCP_STREAM', entries: [{ ...s.entry, extra: { inq: s.inq, outq: s.outq } }] });
}

/** tcp-stream-<ino>.img of DIR: its entry and queues; what names the socket for errors (thrown as Error) */
export function readTcpStream(dir: string, ino: number, what: string): { entry: TcpStreamEntry; inq: Buffer; outq: Buffer } {
  const name = imageFileName('tcp-stream', ino);
  if (!existsSync(join(dir, name))) throw new Error(`${what}: missing image ${name}`);
  let e: any;
  try {
    e = decodeImage(join(dir, name)).entries[0];
  } catch (err) {
    throw new Error(`${what}: corrupt image ${name}: ${err instanceof ImageError ? err.message : (err as Error).message}`);
  }
  if (!e) throw new Error(`${what}: ${name} has no entry`);
  if (e.unsq_len === undefined) throw new Error(`${what}: ${name} has no unsq_len (criu refuses such images too)`);
  if ((e.opt_mask & TCPI_OPT_WSCALE) && e.rcv_wscale === undefined) throw new Error(`${what}: ${name}: window scaling without rcv_wscale`);
  if ((e.opt_mask & TCPI_OPT_TIMESTAMPS) && e.timestamp === undefined) throw new Error(`${what}: ${name}: timestamps without timestamp`);
  if (e.unsq_len > e.outq_len) throw new Error(`${what}: ${name}: unsq_len ${e.unsq_len} exceeds outq_len ${e.outq_len}`);
  const { extra, ...entry } = e;
  return { entry, inq: extra?.inq ?? Buffer.alloc(0), outq: extra?.outq ?? Buffer.alloc(0) };
}

/**
 * struct tcp_stream's numbers (tcp-stream.h) in its order, after the addresses:
 * state, inq_len, inq_seq, outq_len, outq_seq, unsq_len, opt_mask, snd_wscale, rcv_wscale, mss_clamp,
 * timestamp, has_window, snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup
 */
export function restoreFields(state: number, e: TcpStreamEntry): number[] {
  const win = e.snd_wnd !== undefined;
  return [state, e.inq_len, e.inq_seq, e.outq_len, e.outq_seq, e.unsq_len ?? 0, e.opt_mask, e.snd_wscale, e.rcv_wscale ?? 0, e.mss_clamp,
    e.timestamp ?? 0, win ? 1 : 0, e.snd_wl1 ?? 0, e.snd_wnd ?? 0, e.max_window ?? 0, e.rcv_wnd ?? 0, e.rcv_wup ?? 0].map((v) => Number(v) >>> 0);
}

/** struct tcp_stream's content for a connected TCP socket of files.img (isk: its inet_sk_entry) */
export interface RestoreStream {
  family: number; src: Buffer; dst: Buffer; sport: number; dport: number; reuseaddr: number;
  /** restoreFields: state .. rcv_wup */
  fields: number[];
  inq: Buffer; outq: Buffer;
}

export function restoreStream(dir: string, isk: any, what: string): RestoreStream {
  const s = readTcpStream(dir, Number(isk.ino), what);
  const addr = (w: any[] | undefined) => {
    const b = Buffer.alloc(16);
    addrFromWords(w ?? []).copy(b);
    return b;
  };
  return {
    family: Number(isk.family), src: addr(isk.src_addr), dst: addr(isk.dst_addr), sport: Number(isk.src_port), dport: Number(isk.dst_port),
    reuseaddr: isk.opts?.reuseaddr ? 1 : 0, fields: restoreFields(Number(isk.state), s.entry), inq: s.inq, outq: s.outq,
  };
}
