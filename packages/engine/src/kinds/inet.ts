// Inet sockets, IPv4 and IPv6 (CRIU's sk-inet.c): TCP unbound, bound and listening, UDP and UDP-lite, raw
// and ICMP (ping) sockets. Their addresses and state come from sock_diag (INET_DIAG, UDP_DIAG, RAW_DIAG) and,
// for a socket sock_diag does not list (never bound, or ICMP), from getsockname/getpeername as CRIU's
// gen_uncon_sk; their options (sk-opts.ts) are read on a duplicate of the task's fd (pidfd_getfd). As CRIU:
// a UDP socket's unread datagrams are dropped (logged), a corked one is refused; a listener with connections
// not yet accepted is refused unless --skip-in-flight; a TCP connection (any state from syn-sent to
// last-ack) is dumped with --tcp-close as it is (it comes back closed) or with --tcp-established through
// TCP_REPAIR (tcp-stream.ts: the connection locked, its state in tcp-stream-INO.img, rebuilt in repair mode
// at restore and let go once the whole tree is back), else refused by name as by CRIU.
import { readdirSync, readlinkSync } from 'node:fs';
import { enumValues } from '@ckpt/images';
import { native } from '../native.js';
import { DumpError, type Log } from '../log.js';
import type { FileObjects } from '../restore/objects.js';
import { n, RestoreError } from '../restore/read.js';
import type { Obj } from '../restore/types.js';
import { ObjKind } from '../restore/plan-wire.js';
import type { DumpFd, FdParms, Kind } from './kind.js';
import type { Files } from '../files.js';
import { intOpt, sockFamily, sockNetNsId } from './sk-family.js';
import { restoreStream, writeTcpStream } from '../tcp-stream.js';
import type { TcpConn } from '../netlock.js';
import { dumpSkOpts, restoreSkOpts, type SockOpt, optInt, SOL_SOCKET, SO } from './sk-opts.js';

export const AF_INET = 2, AF_INET6 = 10;
const IPPROTO = { IP: 0, ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, UDPLITE: 136, RAW: 255, MPTCP: 262 };
const SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_RAW = 3;
const TCP = { ESTABLISHED: 1, SYN_SENT: 2, FIN_WAIT1: 4, FIN_WAIT2: 5, CLOSE: 7, CLOSE_WAIT: 8, LAST_ACK: 9, LISTEN: 10, CLOSING: 11 };
/** the TCP states CRIU asks sock_diag for: listening and connected ones (a closed socket is read as unconnected) */
const TCP_DIAG_STATES = [TCP.LISTEN, TCP.ESTABLISHED, TCP.FIN_WAIT1, TCP.FIN_WAIT2, TCP.CLOSE_WAIT, TCP.LAST_ACK, TCP.CLOSING, TCP.SYN_SENT]
  .reduce((m, s) => m | (1 << s), 0);
const CONNECTED = new Set([TCP.ESTABLISHED, TCP.FIN_WAIT2, TCP.FIN_WAIT1, TCP.CLOSE_WAIT, TCP.LAST_ACK, TCP.CLOSING, TCP.SYN_SENT]);
const SOL_IP = 0, SOL_IPV6 = 41, SOL_TCP = 6, SOL_UDP = 17, SOL_RAW = 255, SOL_ICMPV6 = 58;
const IP = { TOS: 1, TTL: 2, HDRINCL: 3, PKTINFO: 8, FREEBIND: 15, NODEFRAG: 22 };
const IPV6 = { V6ONLY: 26, HDRINCL: 36, RECVPKTINFO: 49, FREEBIND: 78 };
const TCPOPT = { NODELAY: 1, CORK: 3, KEEPIDLE: 4, KEEPINTVL: 5, KEEPCNT: 6, INFO: 11 };
const UDP_CORK = 1, ICMP_FILTER = 1, ICMPV6_FILTER = 1;
const POLLHUP = 0x10, POLLRDHUP = 0x2000;
/** plan sockopt steps (native/restore/kinds/inet.c) */
const BEFORE_BIND = 0, AFTER = 1, LATE = 2;

const PROTO_NAMES: Record<number, string> = { 0: 'IP', 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 136: 'UDP-lite', 255: 'raw' };

/** What sock_diag (or, for a socket it does not list, the socket itself) says of one inet socket. */
interface InetDesc {
  ino: number; type: number; state: number; sport: number; dport: number;
  /** addresses as the kernel reports them: 16 bytes, an IPv4 one in the first 4 */
  src: Buffer; dst: Buffer;
  rqueue: number; wqueue: number; shutdown: number;
  /** found through sock_diag (CRIU then records the socket's network namespace) */
  diag: boolean;
}

/** the u32 words of an address in the image (CRIU copies the network-order bytes into host-order words) */
function words(addr: Buffer, family: number): number[] {
  const k = family === AF_INET6 ? 4 : 1;
  return Array.from({ length: k }, (_, i) => addr.readUInt32LE(i * 4));
}

function addrText(family: number, w: number[], port: number): string {
  const b = Buffer.alloc(16);
  w.forEach((x, i) => b.writeUInt32LE(x >>> 0, i * 4));
  if (family !== AF_INET6) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}:${port}`;
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  // the longest run of zero groups as "::"
  let best = -1, len = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > len && j - i > 1) { best = i; len = j - i; }
  }
  const text = best < 0 ? groups.join(':') : `${groups.slice(0, best).join(':')}::${groups.slice(best + len).join(':')}`;
  return `[${text}]:${port}`;
}

/** sockaddr_in / sockaddr_in6 bytes -> port and the 16 address bytes */
function parseSockaddr(b: Buffer | null): { port: number; addr: Buffer } | undefined {
  if (!b || b.length < 8) return undefined;
  const fam = b.readUInt16LE(0);
  const addr = Buffer.alloc(16);
  if (fam === AF_INET) b.copy(addr, 0, 4, 8);
  else if (fam === AF_INET6 && b.length >= 24) b.copy(addr, 0, 8, 24);
  else return undefined;
  return { port: b.readUInt16BE(2), addr };
}

export interface InetOptions { netNsId: number; tcpClose: boolean; tcpEstablished: boolean; skipInFlight: boolean; log?: Log }

export class InetSockets {
  /** sockets listed by sock_diag, by inode; undefined until first needed */
  private diag?: Map<number, InetDesc & { family: number }>;
  /** family:protocol pairs sock_diag answered for (CRIU's collect bits) */
  private collected = new Set<string>();
  constructor(private o: InetOptions) {}

  /** AF_INET or AF_INET6 for the socket behind the fd; 0: not inet */
  family(p: FdParms, files: Files): number {
    const f = sockFamily(p, files);
    return f === AF_INET || f === AF_INET6 ? f : 0;
  }

  private collect(): Map<number, InetDesc & { family: number }> {
    if (this.diag) return this.diag;
    this.diag = new Map();
    const types: [number, number, number][] = [[IPPROTO.TCP, SOCK_STREAM, TCP_DIAG_STATES], [IPPROTO.UDP, SOCK_DGRAM, -1], [IPPROTO.UDPLITE, SOCK_DGRAM, -1], [IPPROTO.RAW, SOCK_RAW, -1]];
    for (const family of [AF_INET, AF_INET6]) {
      // ICMP sockets are never listed (CRIU marks them collected and reads each from the socket itself)
      this.collected.add(`${family}:${family === AF_INET ? IPPROTO.ICMP : IPPROTO.ICMPV6}`);
      for (const [proto, type, states] of types) {
        const r = native().inetDiag(family, proto, states >>> 0);
        if (typeof r === 'number') continue; // no diag for them: such a socket is refused when met
        this.collected.add(`${family}:${proto}`);
        for (const d of r as any[]) {
          this.diag.set(d.ino, { ...d, family, type, shutdown: d.shutdown ?? 0, diag: true });
        }
      }
    }
    return this.diag;
  }

  /**
   * The connections entry() will repair, each once, from the fds of the tasks pids: connected TCP sockets that
   * sock_diag lists (a closed one found through SO_PEERNAME is locked when met). For the network lock, which
   * locks them all in one batch before the first is dumped.
   */
  connections(pids: readonly number[]): { conn: TcpConn; what: string }[] {
    const diag = this.collect();
    const out = new Map<number, { conn: TcpConn; what: string }>();
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue; // a zombie has none
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const ino = Number(/^socket:\[(\d+)\]$/.exec(link)?.[1]);
        const sk = diag.get(ino);
        if (!sk || sk.type !== SOCK_STREAM || !sk.dport || out.has(ino)) continue;
        out.set(ino, { conn: { family: sk.family, src: sk.src, sport: sk.sport, dst: sk.dst, dport: sk.dport }, what: `task ${pid} fd ${fd}` });
      }
    }
    return [...out.values()];
  }

  /** the files.img entry of the inet socket behind d (CRIU's do_dump_one_inet_fd) */
  entry(d: DumpFd, files: Files): any {
    const family = this.family(d, files), dir = files.out?.dir, tcp = files.tcp;
    const nat = native();
    const what = `${d.what.replace(/ \(socket:\[\d+\]\)$/, '')} (${family === AF_INET6 ? 'IPv6' : 'IPv4'} socket:[${d.st.ino}])`;
    const refuse = (why: string) => new DumpError(`Can't dump ${what}: ${why}`);
    const local = nat.getFd(d.pid, d.fd);
    try {
      sockNetNsId(local, files, refuse);
      const int = intOpt(local, refuse);
      const proto = int(SOL_SOCKET, SO.PROTOCOL), type = int(SOL_SOCKET, SO.TYPE);
      if (type !== SOCK_RAW && ![IPPROTO.IP, IPPROTO.TCP, IPPROTO.UDP, IPPROTO.UDPLITE, IPPROTO.ICMP, IPPROTO.ICMPV6].includes(proto)) {
        throw refuse(`protocol ${proto} is not supported${proto === IPPROTO.MPTCP ? ' (MPTCP; for Go programs GODEBUG=multipathtcp=0 disables it)' : ''}`);
      }
      const diag = this.collect();
      if (type !== SOCK_RAW && !this.collected.has(`${family}:${proto}`)) throw refuse(`sock_diag does not list ${PROTO_NAMES[proto] ?? proto} sockets of this kernel`);
      const sk: InetDesc = diag.get(d.st.ino) ?? this.unconnected(local, family, proto, type, d.st.ino, refuse);
      if (type !== SOCK_RAW && (proto === IPPROTO.UDP || proto === IPPROTO.UDPLITE) && int(SOL_UDP, UDP_CORK)) {
        throw refuse('a corked datagram socket (UDP_CORK) cannot be dumped');
      }
      this.canDump(sk, proto, type, what, refuse);
      const e: any = {
        id: d.id, ino: d.st.ino, family, type: sk.type, proto, state: sk.state, src_port: sk.sport, dst_port: sk.dport,
        flags: d.flags, backlog: sk.wqueue, src_addr: words(sk.src, family), dst_addr: words(sk.dst, family), fown: d.fown,
      };
      if (family === AF_INET6) {
        e.v6only = int(SOL_IPV6, IPV6.V6ONLY) !== 0;
        // a link-local source is bound with its device's index: the device's name goes with it
        if (sk.sport && sk.src[0] === 0xfe && (sk.src[1] & 0xc0) === 0x80) {
          const dev = nat.getsockoptBuf(local, SOL_SOCKET, SO.BINDTODEVICE, 16);
          const name = dev?.toString('latin1').replace(/\0.*$/s, '');
          if (!name) throw refuse('bound to a link-local address without a device to name its scope');
          e.ifname = name;
        }
      }
      e.opts = dumpSkOpts(local, (l, nm) => int(l, nm));
      e.ip_opts = this.ipOpts(local, family, type, proto, (l, nm) => int(l, nm));
      if (sk.diag) e.ns_id = this.o.netNsId;
      // shutdown: TCP's when set, UDP's as CRIU encodes it (only when set: NONE is not written)
      if ((proto === IPPROTO.TCP || proto === IPPROTO.UDP || proto === IPPROTO.UDPLITE) && sk.shutdown) e.shutdown = sk.shutdown;
      e.tcp_opts = proto === IPPROTO.TCP && type !== SOCK_RAW ? this.tcpOpts((l, nm) => int(l, nm)) : {};
      // an established connection last, its options read: repair mode changes SO_REUSEADDR (CRIU's dump_one_tcp)
      if (proto === IPPROTO.TCP && type !== SOCK_RAW && sk.dport && !this.o.tcpClose) {
        if (!tcp?.established || !dir) throw refuse('a connected TCP socket needs --tcp-established (or --tcp-close) and an images dir');
        const s = tcp.dump(local, { family, src: sk.src, sport: sk.sport, dst: sk.dst, dport: sk.dport }, what);
        e.state = s.state; // as the repair read it (CRIU's sk->state = data.state)
        writeTcpStream(dir, d.st.ino, s);
      }
      return e;
    } finally {
      nat.close(local);
    }
  }

  /** a socket sock_diag does not list: never bound (or ICMP), read from the socket (CRIU's gen_uncon_sk) */
  private unconnected(local: number, family: number, proto: number, type: number, ino: number, refuse: (why: string) => Error): InetDesc {
    const nat = native();
    // SO_PEERNAME, not getpeername: it also names the last peer of a closed TCP socket (CRIU reads it so), which
    // makes the socket a connection (restored through repair, or closed with --tcp-close); the size must be the
    // family's sockaddr's (more is EINVAL)
    const peer = parseSockaddr(nat.getsockoptBuf(local, SOL_SOCKET, SO.PEERNAME, family === AF_INET6 ? 28 : 16));
    const self = parseSockaddr(nat.sockName(local));
    const sk: InetDesc = {
      ino, type, state: TCP.CLOSE, sport: self?.port ?? 0, dport: peer?.port ?? 0, src: self?.addr ?? Buffer.alloc(16),
      dst: peer?.addr ?? Buffer.alloc(16), rqueue: 0, wqueue: 0, shutdown: 0, diag: false,
    };
    if (type !== SOCK_RAW && proto === IPPROTO.TCP) {
      const info = nat.getsockoptBuf(local, SOL_TCP, TCPOPT.INFO, 8);
      if (!info) throw refuse('cannot read TCP_INFO');
      if (info[0] !== TCP.CLOSE) throw refuse(`TCP state ${info[0]} where a closed socket was expected`);
      sk.wqueue = info[4]; // tcpi_backoff, as CRIU records it
      // no direct way to read an unconnected socket's shutdown: poll shows a read shutdown
      const ev = nat.pollEvents(local, POLLRDHUP | POLLHUP);
      if (ev < 0) throw refuse(`poll: errno ${-ev}`);
      if ((ev & POLLHUP) && (ev & POLLRDHUP)) sk.shutdown = 1;
    }
    return sk;
  }

  private canDump(sk: InetDesc, proto: number, type: number, what: string, refuse: (why: string) => Error): void {
    if (type === SOCK_DGRAM) {
      if (sk.wqueue) this.o.log?.warn(`${what}: its write queue is not empty (${sk.wqueue} bytes)`);
      if (sk.rqueue) this.o.log?.warn(`${what}: its read queue (${sk.rqueue} bytes of datagrams) is dropped, as CRIU does`);
      return;
    }
    if (type !== SOCK_STREAM && type !== SOCK_RAW) throw refuse(`socket type ${type}: only stream, datagram and raw inet sockets are supported`);
    if (type === SOCK_RAW && (sk.state === TCP.CLOSE || sk.state === TCP.ESTABLISHED)) return;
    if (sk.state === TCP.LISTEN) {
      if (!sk.rqueue) return;
      if (this.o.skipInFlight) {
        this.o.log?.info(`${what}: skipping ${sk.rqueue} connection(s) not yet accepted (--skip-in-flight)`);
        return;
      }
      throw refuse(`listening socket with ${sk.rqueue} connection(s) not yet accepted (in flight); --skip-in-flight drops them`);
    }
    if (CONNECTED.has(sk.state)) {
      // --tcp-close: dumped as it is, the restore makes it a closed socket; --tcp-established: through TCP_REPAIR
      if (this.o.tcpClose || this.o.tcpEstablished) return;
      throw refuse(`connected TCP socket (state ${sk.state}); consider --tcp-established (or --tcp-close to restore it closed)`);
    }
    if (sk.state !== TCP.CLOSE) throw refuse(`unknown inet socket state ${sk.state}`);
  }

  /** IpOptsEntry (CRIU's dump_ip_opts): what is set is written (has_X = X != 0) */
  private ipOpts(local: number, family: number, type: number, proto: number, int: (l: number, n: number) => number): any {
    const io: any = {};
    if (type === SOCK_RAW) {
      const raw: any = {};
      if (family === AF_INET6) {
        raw.hdrincl = int(SOL_IPV6, IPV6.HDRINCL) !== 0;
        if (proto === IPPROTO.ICMPV6) raw.icmpv_filter = this.filterWords(local, SOL_ICMPV6, ICMPV6_FILTER, 8);
      } else {
        raw.hdrincl = int(SOL_IP, IP.HDRINCL) !== 0;
        const nodefrag = int(SOL_IP, IP.NODEFRAG) !== 0;
        if (nodefrag) raw.nodefrag = true;
        if (proto === IPPROTO.ICMP) raw.icmpv_filter = this.filterWords(local, SOL_RAW, ICMP_FILTER, 1);
      }
      if (!raw.hdrincl) delete raw.hdrincl;
      io.raw = raw;
    }
    let freebind: boolean, pktinfo: number;
    if (family === AF_INET6) {
      freebind = int(SOL_IPV6, IPV6.FREEBIND) !== 0;
      pktinfo = int(SOL_IPV6, IPV6.RECVPKTINFO);
    } else {
      freebind = int(SOL_IP, IP.FREEBIND) !== 0;
      pktinfo = int(SOL_IP, IP.PKTINFO);
      const tos = int(SOL_IP, IP.TOS), ttl = int(SOL_IP, IP.TTL);
      if (tos) io.tos = tos;
      if (ttl) io.ttl = ttl;
    }
    if (freebind) io.freebind = true;
    if (pktinfo) io.pktinfo = true;
    return io;
  }

  private filterWords(local: number, level: number, name: number, count: number): number[] {
    const b = native().getsockoptBuf(local, level, name, count * 4);
    if (!b || b.length !== count * 4) throw new DumpError(`cannot read the ICMP filter of a raw socket`);
    return Array.from({ length: count }, (_, i) => b.readUInt32LE(i * 4));
  }

  /** TcpOptsEntry (CRIU's dump_tcp_opts) */
  private tcpOpts(int: (l: number, n: number) => number): any {
    const t: any = {};
    const nodelay = int(SOL_TCP, TCPOPT.NODELAY), cork = int(SOL_TCP, TCPOPT.CORK);
    if (nodelay) t.nodelay = true;
    if (cork) t.cork = true;
    for (const [k, o] of [['keepcnt', TCPOPT.KEEPCNT], ['keepidle', TCPOPT.KEEPIDLE], ['keepintvl', TCPOPT.KEEPINTVL]] as const) {
      const v = int(SOL_TCP, o);
      if (v) t[k] = v;
    }
    return t;
  }
}

const FAMILY_NAMES: Record<number, string> = { 1: 'unix', 16: 'netlink', 17: 'packet' };

export const inet: Kind = {
  type: 'INETSK',
  field: 'isk',
  detect: (p, files) => p.st.isSocket() && !!files.inet && files.inet.family(p, files) !== 0,
  refuse: (p, files) => {
    if (!p.st.isSocket()) return undefined;
    const fam = sockFamily(p, files);
    return `only unix and inet sockets are supported (this is a ${FAMILY_NAMES[fam] ?? `family ${fam}`} socket)`;
  },
  dump(files, d) {
    files.entries.push({ type: 'INETSK', id: d.id, isk: files.inet!.entry(d, files) });
  },
  plan: (objs, f, _fileId, what) => inetObj(objs, f.isk, what),
  inheritKeys: (f) => [`socket:[${f.isk.ino}]`],
};

/** sk_shutdown (decoded by name or number) as 0 NONE .. 3 BOTH */
function shutdownNumber(v: unknown, label: string): number {
  if (v === undefined) return 0;
  const x = typeof v === 'string' ? enumValues('sk_shutdown')?.[v] : Number(v);
  if (x === undefined || !Number.isInteger(x) || x < 0 || x > 3) throw new RestoreError(`${label}: unknown shutdown state ${String(v)}`);
  return x;
}

/** the restore plan's object for InetSkEntry e (CRIU's open_inet_sk, post_open_inet_sk) */
function inetObj(objs: FileObjects, e: any, what: string): Obj {
  const family = n(e.family), type = n(e.type), proto = n(e.proto), state = n(e.state);
  const src: number[] = (e.src_addr ?? []).map(Number), dst: number[] = (e.dst_addr ?? []).map(Number);
  const srcPort = n(e.src_port), dstPort = n(e.dst_port);
  const name = `${type === SOCK_RAW ? 'raw ' : ''}${PROTO_NAMES[proto] ?? `protocol ${proto}`}`;
  const label = `${what} (${name} socket:[${e.ino}] ${family === AF_INET || family === AF_INET6 ? addrText(family, src, srcPort) : ''}${state === TCP.LISTEN ? ', listening' : ''}${dstPort ? ` to ${addrText(family, dst, dstPort)}` : ''})`;
  if (family !== AF_INET && family !== AF_INET6) throw new RestoreError(`${label}: socket family ${family} is not inet`);
  if (type !== SOCK_STREAM && type !== SOCK_DGRAM && type !== SOCK_RAW) throw new RestoreError(`${label}: unsupported socket type ${type}`);
  const alen = family === AF_INET6 ? 4 : 1;
  if (family === AF_INET ? src.length < 1 || dst.length < 1 : src.length !== 4 || dst.length !== 4) {
    throw new RestoreError(`${label}: address of ${src.length}/${dst.length} words for family ${family}`);
  }
  const tcpConn = proto === IPPROTO.TCP && type !== SOCK_RAW && dstPort !== 0;
  if (tcpConn && !objs.opts.tcpClose && !objs.opts.tcpEstablished) {
    throw new RestoreError(`${label}: a connected TCP socket is in the images; restore with --tcp-established (or --tcp-close: it comes back closed)`);
  }
  // rebuilt through TCP_REPAIR from its tcp-stream image (CRIU's restore_one_tcp)
  let stream;
  if (tcpConn && !objs.opts.tcpClose) {
    try {
      stream = restoreStream(objs.opts.dir, e, label);
    } catch (err) {
      throw new RestoreError((err as Error).message);
    }
  }
  if (state === TCP.LISTEN && proto !== IPPROTO.TCP) throw new RestoreError(`${label}: a listening socket of protocol ${proto}`);
  const bytes = (w: number[]) => {
    const b = Buffer.alloc(alen * 4);
    for (let i = 0; i < alen; i++) b.writeUInt32LE(w[i] >>> 0, i * 4);
    return b;
  };
  const ip = { ...(e.ip_opts ?? {}) };
  const opts: SockOpt[] = [];
  const int = (step: number, what: string, level: number, name: number, v: number) => opts.push(optInt(step, what, level, name, v));
  // before bind: every socket may share its port with another (the dumped values come back at LATE)
  if (e.v6only) int(BEFORE_BIND, 'IPV6_V6ONLY', SOL_IPV6, IPV6.V6ONLY, 1);
  int(BEFORE_BIND, 'SO_REUSEADDR', SOL_SOCKET, SO.REUSEADDR, 1);
  int(BEFORE_BIND, 'SO_REUSEPORT', SOL_SOCKET, SO.REUSEPORT, 1);
  const bind = !tcpConn && srcPort !== 0 && proto !== IPPROTO.ICMP && proto !== IPPROTO.ICMPV6;
  if (bind && family === AF_INET6 && type !== SOCK_RAW) {
    // an IPv6 address may still be tentative: bind with IP_FREEBIND, then put it back as dumped
    int(BEFORE_BIND, 'IP_FREEBIND', SOL_IP, IP.FREEBIND, 1);
    if (ip.freebind) delete ip.freebind;
    else int(AFTER, 'IP_FREEBIND', SOL_IP, IP.FREEBIND, 0);
  }
  // ip options (CRIU's restore_ip_opts)
  if (family === AF_INET6) {
    if (ip.freebind !== undefined) int(AFTER, 'IPV6_FREEBIND', SOL_IPV6, IPV6.FREEBIND, ip.freebind ? 1 : 0);
    if (ip.pktinfo !== undefined) int(AFTER, 'IPV6_RECVPKTINFO', SOL_IPV6, IPV6.RECVPKTINFO, ip.pktinfo ? 1 : 0);
  } else {
    if (ip.freebind !== undefined) int(AFTER, 'IP_FREEBIND', SOL_IP, IP.FREEBIND, ip.freebind ? 1 : 0);
    if (ip.pktinfo !== undefined) int(AFTER, 'IP_PKTINFO', SOL_IP, IP.PKTINFO, ip.pktinfo ? 1 : 0);
    if (ip.tos !== undefined) int(AFTER, 'IP_TOS', SOL_IP, IP.TOS, n(ip.tos));
    if (ip.ttl !== undefined) int(AFTER, 'IP_TTL', SOL_IP, IP.TTL, n(ip.ttl));
  }
  const raw = ip.raw;
  if (raw) {
    const filter: number[] = (raw.icmpv_filter ?? []).map(Number);
    if (filter.length && (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6)) {
      const val = Buffer.alloc(filter.length * 4);
      filter.forEach((w, i) => val.writeUInt32LE(w >>> 0, i * 4));
      opts.push(family === AF_INET6
        ? { step: AFTER, what: 'ICMPV6_FILTER', level: SOL_ICMPV6, name: ICMPV6_FILTER, val }
        : { step: AFTER, what: 'ICMP_FILTER', level: SOL_RAW, name: ICMP_FILTER, val });
    }
    if (raw.nodefrag !== undefined) int(AFTER, 'IP_NODEFRAG', SOL_IP, IP.NODEFRAG, raw.nodefrag ? 1 : 0);
    if (raw.hdrincl !== undefined) {
      if (family === AF_INET6) int(AFTER, 'IPV6_HDRINCL', SOL_IPV6, IPV6.HDRINCL, raw.hdrincl ? 1 : 0);
      else int(AFTER, 'IP_HDRINCL', SOL_IP, IP.HDRINCL, raw.hdrincl ? 1 : 0);
    }
  }
  opts.push(...restoreSkOpts(e.opts ?? {}, AFTER));
  if (proto === IPPROTO.TCP && e.tcp_opts) {
    const t = e.tcp_opts;
    if (t.nodelay !== undefined) int(AFTER, 'TCP_NODELAY', SOL_TCP, TCPOPT.NODELAY, t.nodelay ? 1 : 0);
    if (t.cork !== undefined) int(AFTER, 'TCP_CORK', SOL_TCP, TCPOPT.CORK, t.cork ? 1 : 0);
    if (t.keepcnt !== undefined) int(AFTER, 'TCP_KEEPCNT', SOL_TCP, TCPOPT.KEEPCNT, n(t.keepcnt));
    if (t.keepidle !== undefined) int(AFTER, 'TCP_KEEPIDLE', SOL_TCP, TCPOPT.KEEPIDLE, n(t.keepidle));
    if (t.keepintvl !== undefined) int(AFTER, 'TCP_KEEPINTVL', SOL_TCP, TCPOPT.KEEPINTVL, n(t.keepintvl));
  }
  // once every socket is bound: SO_REUSEADDR/REUSEPORT as dumped (a repaired socket's SO_REUSEADDR comes back
  // as it leaves repair mode)
  if (!e.opts?.reuseaddr && !stream) int(LATE, 'SO_REUSEADDR', SOL_SOCKET, SO.REUSEADDR, 0);
  if (!e.opts?.so_reuseport) int(LATE, 'SO_REUSEPORT', SOL_SOCKET, SO.REUSEPORT, 0);
  let shutdown = proto === IPPROTO.TCP || proto === IPPROTO.UDP || proto === IPPROTO.UDPLITE ? shutdownNumber(e.shutdown, label) : 0;
  if (tcpConn && !stream) shutdown = 3; // --tcp-close: a fresh socket, shut down both ways (CRIU's restore_one_tcp)
  return {
    kind: ObjKind.INET, label, flags: n(e.flags),
    inet: {
      family, type, proto, bind: bind ? 1 : 0, src: bytes(src), srcPort, ...(e.ifname ? { ifname: String(e.ifname) } : {}),
      listen: state === TCP.LISTEN ? 1 : 0, backlog: n(e.backlog), connect: !tcpConn && dstPort ? 1 : 0, dst: bytes(dst), dstPort,
      opts, shutdown,
      ...(stream ? { tcp: stream.fields, tcpReuseaddr: stream.reuseaddr, inq: stream.inq, outq: stream.outq } : {}),
    },
  };
}
