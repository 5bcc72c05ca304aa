// Packet sockets (CRIU's sk-packet.c), SOCK_RAW, SOCK_DGRAM and the old SOCK_PACKET: type, protocol, the
// device bound to, version, reserve, timestamp, copy threshold, aux data/orig dev/vnet header/loss flags,
// multicast memberships, fanout and the RX/TX ring geometry, all from sock_diag (PACKET_DIAG); options as every
// socket's (sk-opts.ts). As CRIU, packets waiting in the queue or a ring are not kept. A ring a task has mapped
// is a VMA of status VMA_AREA_SOCKET whose shmid is the socket's file id (mm.ts asks packetMapId); the restore
// sets the ring up again and the task maps it from its own fd (native/restore/kinds/packet.c, tasks.c).
import { native } from '../native.js';
import { DumpError } from '../log.js';
import type { Files } from '../files.js';
import { n, RestoreError } from '../restore/read.js';
import type { Obj } from '../restore/types.js';
import { ObjKind } from '../restore/plan-wire.js';
import { PerRun } from './common.js';
import type { DumpFd, Kind } from './kind.js';
import { dumpSkOpts, restoreSkOpts } from './sk-opts.js';
import { AF_PACKET, intOpt, sockFamily, sockNetNsId } from './sk-family.js';

const SOL_PACKET = 263;
const PACKET = { ADD_MEMBERSHIP: 1, RX_RING: 5, COPY_THRESH: 7, AUXDATA: 8, ORIGDEV: 9, VERSION: 10, RESERVE: 12, TX_RING: 13, LOSS: 14, TIMESTAMP: 17, FANOUT: 18, VNET_HDR: 15 };
const PDI = { AUXDATA: 0x2, ORIGDEV: 0x4, VNETHDR: 0x8, LOSS: 0x10 };
const MR = { MULTICAST: 0, PROMISC: 1, ALLMULTI: 2, UNICAST: 3 };
const SOCK_DGRAM = 2, SOCK_RAW = 3, SOCK_PACKET = 10;
/** struct packet_mreq_max: ifindex, type, alen, 32 address bytes */
const MAX_ADDR_LEN = 32;

interface Ring { blockSize: number; blockNr: number; frameSize: number; frameNr: number; retireTmo: number; sizeofPriv: number; features: number }
interface PkDiag {
  ino: number; type: number; num: number;
  info?: { index: number; version: number; reserve: number; copyThresh: number; tstamp: number; flags: number };
  mclist?: { index: number; count: number; type: number; addr: Buffer }[];
  fanout?: number; rx?: Ring; tx?: Ring;
}

interface State { diag?: Map<number, PkDiag>; missing: boolean; ids: Map<number, number> }
const state = new PerRun<Files, State>(() => ({ missing: false, ids: new Map() }));

function diagOf(files: Files): Map<number, PkDiag> | undefined {
  const s = state.of(files);
  if (!s.diag && !s.missing) {
    const r = native().packetDiag();
    if (typeof r === 'number') s.missing = true;
    else s.diag = new Map((r as PkDiag[]).map((d) => [d.ino, d]));
  }
  return s.diag;
}

/** the file id of the packet socket of inode ino the dump has written, if any (a ring a task maps) */
export function packetMapId(files: Files, ino: number): number | undefined {
  return state.of(files).ids.get(ino);
}

const ring = (r: Ring) => ({
  block_size: r.blockSize, block_nr: r.blockNr, frame_size: r.frameSize, frame_nr: r.frameNr,
  retire_tmo: r.retireTmo, sizeof_priv: r.sizeofPriv, features: r.features,
});

/** the packet_sock_entry of the socket behind fd (CRIU's dump_one_packet_fd) */
function entry(files: Files, d: DumpFd): any {
  const nat = native();
  const what = `${d.what.replace(/ \(socket:\[\d+\]\)$/, '')} (packet socket:[${d.st.ino}])`;
  const refuse = (why: string) => new DumpError(`Can't dump ${what}: ${why}`);
  const local = nat.getFd(d.pid, d.fd);
  try {
    const nsId = sockNetNsId(local, files, refuse);
    const diag = diagOf(files);
    if (!diag) throw refuse('this kernel has no PACKET_DIAG (sock_diag of packet sockets)');
    const sk = diag.get(d.st.ino);
    if (!sk) throw refuse('sock_diag does not list it');
    if (!sk.info) throw refuse('sock_diag gave no PACKET_DIAG_INFO for it');
    if (!sk.mclist) throw refuse('sock_diag gave no PACKET_DIAG_MCLIST for it');
    const mclist = sk.mclist.map((m) => {
      if (m.count !== 1) throw refuse(`multicast membership of type ${m.type} on device ${m.index} added ${m.count} times (CRIU keeps one)`);
      if (m.type === MR.MULTICAST || m.type === MR.UNICAST) return { index: m.index, type: m.type, addr: m.addr };
      if (m.type === MR.PROMISC || m.type === MR.ALLMULTI) return { index: m.index, type: m.type, addr: Buffer.alloc(0) };
      throw refuse(`unknown multicast membership type ${m.type}`);
    });
    const i = sk.info;
    const e: any = {
      id: d.id, type: sk.type, protocol: ((sk.num & 0xff) << 8) | (sk.num >> 8), // network order, as socket() took it
      flags: d.flags, ifindex: i.index, fown: d.fown, opts: dumpSkOpts(local, intOpt(local, refuse)),
      version: i.version, reserve: i.reserve, aux_data: !!(i.flags & PDI.AUXDATA), orig_dev: !!(i.flags & PDI.ORIGDEV),
      vnet_hdr: !!(i.flags & PDI.VNETHDR), loss: !!(i.flags & PDI.LOSS), timestamp: i.tstamp, copy_thresh: i.copyThresh, mclist,
    };
    if (sk.fanout !== undefined) e.fanout = sk.fanout;
    if (sk.rx) e.rx_ring = ring(sk.rx);
    if (sk.tx) e.tx_ring = ring(sk.tx);
    e.ns_id = nsId;
    state.of(files).ids.set(d.st.ino, d.id);
    return e;
  } finally {
    nat.close(local);
  }
}

export const packet: Kind = {
  type: 'PACKETSK',
  field: 'psk',
  detect: (p, files) => sockFamily(p, files) === AF_PACKET,
  dump(files, d) {
    files.entries.push({ type: 'PACKETSK', id: d.id, psk: entry(files, d) });
  },
  plan: (_objs, f, _fileId, what) => packetObj(f.psk, what),
};

const u32s = (...v: number[]) => {
  const b = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, i * 4));
  return b;
};

/** the plan's object of PacketSockEntry e (CRIU's open_packet_sk, open_packet_sk_spkt): the options in CRIU's order */
function packetObj(e: any, what: string): Obj {
  const type = n(e.type), proto = n(e.protocol), ifindex = n(e.ifindex);
  const label = `${what} (packet socket ${type === SOCK_PACKET ? 'SOCK_PACKET' : type === SOCK_DGRAM ? 'SOCK_DGRAM' : 'SOCK_RAW'} protocol 0x${proto.toString(16)}${ifindex ? ` on device ${ifindex}` : ''})`;
  if (type !== SOCK_RAW && type !== SOCK_DGRAM && type !== SOCK_PACKET) throw new RestoreError(`${label}: unknown packet socket type ${type}`);
  const opts: { what: string; level: number; name: number; val: Buffer }[] = [];
  const opt = (w: string, name: number, val: Buffer) => opts.push({ what: w, level: SOL_PACKET, name, val });
  if (type !== SOCK_PACKET) {
    opt('PACKET_VERSION', PACKET.VERSION, u32s(n(e.version)));
    opt('PACKET_RESERVE', PACKET.RESERVE, u32s(n(e.reserve)));
    opt('PACKET_TIMESTAMP', PACKET.TIMESTAMP, u32s(n(e.timestamp)));
    opt('PACKET_COPY_THRESH', PACKET.COPY_THRESH, u32s(n(e.copy_thresh)));
    if (e.aux_data) opt('PACKET_AUXDATA', PACKET.AUXDATA, u32s(1));
    if (e.orig_dev) opt('PACKET_ORIGDEV', PACKET.ORIGDEV, u32s(1));
    if (e.vnet_hdr) opt('PACKET_VNET_HDR', PACKET.VNET_HDR, u32s(1));
    if (e.loss) opt('PACKET_LOSS', PACKET.LOSS, u32s(1));
    for (const m of (e.mclist ?? []) as any[]) {
      const addr = Buffer.from(m.addr ?? []);
      if (addr.length > MAX_ADDR_LEN) throw new RestoreError(`${label}: multicast address of ${addr.length} bytes`);
      const val = Buffer.alloc(8 + MAX_ADDR_LEN);
      val.writeInt32LE(n(m.index), 0);
      val.writeUInt16LE(n(m.type), 4);
      val.writeUInt16LE(addr.length, 6);
      addr.copy(val, 8);
      opt(`PACKET_ADD_MEMBERSHIP (type ${n(m.type)}, device ${n(m.index)})`, PACKET.ADD_MEMBERSHIP, val);
    }
    for (const [r, name, w] of [[e.rx_ring, PACKET.RX_RING, 'PACKET_RX_RING'], [e.tx_ring, PACKET.TX_RING, 'PACKET_TX_RING']] as const) {
      if (r) opt(w, name, u32s(n(r.block_size), n(r.block_nr), n(r.frame_size), n(r.frame_nr), n(r.retire_tmo), n(r.sizeof_priv), n(r.features)));
    }
    if (e.fanout !== undefined && e.fanout !== null && n(e.fanout) !== 0xffffffff) opt(`PACKET_FANOUT 0x${n(e.fanout).toString(16)}`, PACKET.FANOUT, u32s(n(e.fanout)));
  }
  opts.push(...restoreSkOpts(e.opts ?? {}, 0).map(({ what: w, level, name, val }) => ({ what: w, level, name, val })));
  return { kind: ObjKind.PACKET, label, flags: n(e.flags), packet: { type, proto, ifindex }, skOpts: opts };
}
