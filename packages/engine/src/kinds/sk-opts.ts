// A socket's SOL_SOCKET options as CRIU saves them (sockets.c: dump_socket_opts into SkOptsEntry) and the
// setsockopt calls that set them again (restore_socket_opts), in CRIU's order. Read on a duplicate of the
// task's fd; set again for inet sockets (the unix kind sets its own subset).
import { native } from '../native.js';
import { DumpError } from '../log.js';
import { n } from '../restore/read.js';

export const SOL_SOCKET = 1;
export const SO = {
  REUSEADDR: 2, TYPE: 3, DONTROUTE: 5, BROADCAST: 6, SNDBUF: 7, RCVBUF: 8, KEEPALIVE: 9, OOBINLINE: 10, NO_CHECK: 11,
  PRIORITY: 12, LINGER: 13, REUSEPORT: 15, PASSCRED: 16, PEERNAME: 28, RCVLOWAT: 18, RCVTIMEO: 20, SNDTIMEO: 21, BINDTODEVICE: 25,
  ATTACH_FILTER: 26, SNDBUFFORCE: 32, RCVBUFFORCE: 33, PASSSEC: 34, MARK: 36, PROTOCOL: 38, DOMAIN: 39, BUF_LOCK: 72,
};
const SOL_TCP = 6, TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5, TCP_KEEPCNT = 6;

/** one setsockopt of the restore plan (step: when the helper makes it, see native/restore/kinds/inet.c) */
export interface SockOpt { step: number; what: string; level: number; name: number; val: Buffer }

export function optInt(step: number, what: string, level: number, name: number, v: number): SockOpt {
  const val = Buffer.alloc(4);
  val.writeInt32LE(v | 0);
  return { step, what, level, name, val };
}

/** SkOptsEntry of a socket (passcred and passsec for unix and netlink ones); int reads an int option */
export function dumpSkOpts(local: number, int: (level: number, name: number) => number, passcred = false): any {
  const nat = native();
  const buf = (name: number, size: number) => {
    const b = nat.getsockoptBuf(local, SOL_SOCKET, name, size);
    if (!b) throw new DumpError(`getsockopt(SOL_SOCKET, ${name}) failed`);
    return b;
  };
  const tv = (name: number) => {
    const b = buf(name, 16);
    return [b.readBigUInt64LE(0), b.readBigUInt64LE(8)];
  };
  const [ss, su] = tv(SO.SNDTIMEO), [rs, ru] = tv(SO.RCVTIMEO);
  const o: any = {
    so_sndbuf: int(SOL_SOCKET, SO.SNDBUF), so_rcvbuf: int(SOL_SOCKET, SO.RCVBUF),
    so_snd_tmo_sec: ss, so_snd_tmo_usec: su, so_rcv_tmo_sec: rs, so_rcv_tmo_usec: ru,
    reuseaddr: int(SOL_SOCKET, SO.REUSEADDR) !== 0, so_priority: int(SOL_SOCKET, SO.PRIORITY), so_rcvlowat: int(SOL_SOCKET, SO.RCVLOWAT),
  };
  const mark = int(SOL_SOCKET, SO.MARK);
  if (mark) o.so_mark = mark;
  if (passcred) Object.assign(o, { so_passcred: int(SOL_SOCKET, SO.PASSCRED) !== 0, so_passsec: int(SOL_SOCKET, SO.PASSSEC) !== 0 });
  Object.assign(o, {
    so_dontroute: int(SOL_SOCKET, SO.DONTROUTE) !== 0, so_no_check: int(SOL_SOCKET, SO.NO_CHECK) !== 0,
    so_reuseport: int(SOL_SOCKET, SO.REUSEPORT) !== 0, so_broadcast: int(SOL_SOCKET, SO.BROADCAST) !== 0,
    so_keepalive: int(SOL_SOCKET, SO.KEEPALIVE) !== 0, so_oobinline: int(SOL_SOCKET, SO.OOBINLINE) ? 1 : 0,
    so_buf_lock: int(SOL_SOCKET, SO.BUF_LOCK),
  });
  const linger = buf(SO.LINGER, 8);
  if (linger.readInt32LE(0)) o.so_linger = linger.readInt32LE(4);
  const dev = nat.getsockoptBuf(local, SOL_SOCKET, SO.BINDTODEVICE, 16);
  if (dev === null) throw new DumpError('getsockopt(SO_BINDTODEVICE) failed');
  if (dev.length) o.so_bound_dev = dev.toString('latin1').replace(/\0.*$/s, '');
  // a classic BPF filter, each instruction as CRIU packs it: code << 48 | jt << 40 | jf << 32 | k
  const f = nat.sockFilter(local);
  if (f.length) {
    o.so_filter = Array.from({ length: f.length / 8 }, (_, i) =>
      (BigInt(f.readUInt16LE(i * 8)) << 48n) | (BigInt(f[i * 8 + 2]) << 40n) | (BigInt(f[i * 8 + 3]) << 32n) | BigInt(f.readUInt32LE(i * 8 + 4)));
  }
  return o;
}

/** the setsockopt calls that give a new socket the options of SkOptsEntry o, at step, in CRIU's order */
export function restoreSkOpts(o: any, step: number): SockOpt[] {
  const out: SockOpt[] = [];
  const int = (what: string, name: number, v: number, level = SOL_SOCKET) => out.push(optInt(step, what, level, name, v));
  // the kernel doubles what is set: half of what was read
  int('SO_SNDBUFFORCE', SO.SNDBUFFORCE, Math.floor(n(o.so_sndbuf) / 2));
  int('SO_RCVBUFFORCE', SO.RCVBUFFORCE, Math.floor(n(o.so_rcvbuf) / 2));
  if (o.so_buf_lock !== undefined) int('SO_BUF_LOCK', SO.BUF_LOCK, n(o.so_buf_lock));
  if (o.so_priority !== undefined) int('SO_PRIORITY', SO.PRIORITY, n(o.so_priority));
  if (o.so_rcvlowat !== undefined) int('SO_RCVLOWAT', SO.RCVLOWAT, n(o.so_rcvlowat));
  if (o.so_mark !== undefined) int('SO_MARK', SO.MARK, n(o.so_mark));
  if (o.so_passcred) int('SO_PASSCRED', SO.PASSCRED, 1);
  if (o.so_passsec) int('SO_PASSSEC', SO.PASSSEC, 1);
  if (o.so_dontroute) int('SO_DONTROUTE', SO.DONTROUTE, 1);
  if (o.so_no_check) int('SO_NO_CHECK', SO.NO_CHECK, 1);
  if (o.so_broadcast) int('SO_BROADCAST', SO.BROADCAST, 1);
  if (o.so_oobinline) int('SO_OOBINLINE', SO.OOBINLINE, 1);
  if (o.so_linger !== undefined) {
    const val = Buffer.alloc(8);
    val.writeInt32LE(1, 0);
    val.writeInt32LE(n(o.so_linger), 4);
    out.push({ step, what: 'SO_LINGER', level: SOL_SOCKET, name: SO.LINGER, val });
  }
  if (o.so_keepalive) int('SO_KEEPALIVE', SO.KEEPALIVE, 1);
  // older images keep TCP keepalive settings here
  if (o.tcp_keepcnt !== undefined) int('TCP_KEEPCNT', TCP_KEEPCNT, n(o.tcp_keepcnt), SOL_TCP);
  if (o.tcp_keepidle !== undefined) int('TCP_KEEPIDLE', TCP_KEEPIDLE, n(o.tcp_keepidle), SOL_TCP);
  if (o.tcp_keepintvl !== undefined) int('TCP_KEEPINTVL', TCP_KEEPINTVL, n(o.tcp_keepintvl), SOL_TCP);
  const tv = (what: string, name: number, sec: any, usec: any) => {
    const val = Buffer.alloc(16);
    val.writeBigInt64LE(BigInt(sec ?? 0), 0);
    val.writeBigInt64LE(BigInt(usec ?? 0), 8);
    out.push({ step, what, level: SOL_SOCKET, name, val });
  };
  tv('SO_SNDTIMEO', SO.SNDTIMEO, o.so_snd_tmo_sec, o.so_snd_tmo_usec);
  tv('SO_RCVTIMEO', SO.RCVTIMEO, o.so_rcv_tmo_sec, o.so_rcv_tmo_usec);
  if (o.so_bound_dev) out.push({ step, what: `SO_BINDTODEVICE ${o.so_bound_dev}`, level: SOL_SOCKET, name: SO.BINDTODEVICE, val: Buffer.from(String(o.so_bound_dev), 'latin1') });
  if (o.so_filter?.length) {
    const val = Buffer.alloc(o.so_filter.length * 8);
    o.so_filter.forEach((x: unknown, i: number) => {
      const w = BigInt(x as bigint);
      val.writeUInt16LE(Number((w >> 48n) & 0xffffn), i * 8);
      val[i * 8 + 2] = Number((w >> 40n) & 0xffn);
      val[i * 8 + 3] = Number((w >> 32n) & 0xffn);
      val.writeUInt32LE(Number(w & 0xffffffffn), i * 8 + 4);
    });
    out.push({ step, what: 'SO_ATTACH_FILTER', level: SOL_SOCKET, name: SO.ATTACH_FILTER, val });
  }
  return out;
}
