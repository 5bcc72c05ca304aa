// Netlink sockets (CRIU's sk-netlink.c): protocol, port id, bound groups (the first 32, as CRIU), connected
// destination and state from sock_diag (NETLINK_DIAG); a socket it does not list (never bound) by its protocol
// alone. Options as every socket's (sk-opts.ts, with SO_PASSCRED/SO_PASSSEC). As CRIU: a socket with messages
// waiting to be read is refused (they cannot be put back). On restore: bound to its port id with its groups
// (if the port is taken meanwhile, to a new one, as CRIU), connected, options set (native/restore/kinds/netlink.c).
import { native } from '../native.js';
import { DumpError } from '../log.js';
import type { Files } from '../files.js';
import { n, RestoreError } from '../restore/read.js';
import type { Obj } from '../restore/types.js';
import { ObjKind } from '../restore/plan-wire.js';
import { PerRun } from './common.js';
import type { DumpFd, Kind } from './kind.js';
import { dumpSkOpts, restoreSkOpts, SOL_SOCKET, SO } from './sk-opts.js';
import { AF_NETLINK, intOpt, sockFamily, sockNetNsId } from './sk-family.js';

const NETLINK_CONNECTED = 1, POLLIN = 1;

interface NlDiag { ino: number; protocol: number; state: number; portid: number; dstPortid: number; dstGroup: number; groups?: Buffer }

/** what sock_diag lists, once per dump (undefined: this kernel has no NETLINK_DIAG) */
const diags = new PerRun<Files, Map<number, NlDiag> | undefined>(() => {
  const r = native().netlinkDiag();
  if (typeof r === 'number') return undefined;
  return new Map((r as NlDiag[]).map((d) => [d.ino, d]));
});

/** the netlink_sk_entry of the socket behind fd (CRIU's dump_one_netlink_fd) */
function entry(files: Files, d: DumpFd): any {
  const nat = native();
  const what = `${d.what.replace(/ \(socket:\[\d+\]\)$/, '')} (netlink socket:[${d.st.ino}])`;
  const refuse = (why: string) => new DumpError(`Can't dump ${what}: ${why}`);
  const local = nat.getFd(d.pid, d.fd);
  try {
    const int = intOpt(local, refuse);
    const nsId = sockNetNsId(local, files, refuse);
    const diag = diags.of(files);
    if (!diag) throw refuse('this kernel has no NETLINK_DIAG (sock_diag of netlink sockets)');
    const ev = nat.pollEvents(local, POLLIN);
    if (ev < 0) throw refuse(`poll: errno ${-ev}`);
    if (ev & POLLIN) throw refuse('it has messages waiting to be read, which cannot be restored (as CRIU)');
    const e: any = { id: d.id, ino: d.st.ino };
    const sk = diag.get(d.st.ino);
    if (sk) {
      // the groups bitmap comes as the kernel's longs: 32-bit words, a last empty one dropped (CRIU's)
      const words = sk.groups ? Array.from({ length: sk.groups.length >> 2 }, (_, i) => sk.groups!.readUInt32LE(i * 4)) : [];
      if (words.length && words[words.length - 1] === 0) words.pop();
      if (words.length > 1) throw refuse('it is bound to groups above 32, which CRIU images cannot hold');
      if (sk.groups && !sk.portid) throw refuse('it is bound to groups but not to a port id');
      Object.assign(e, { protocol: sk.protocol, state: sk.state, flags: d.flags, portid: sk.portid, groups: words, dst_portid: sk.dstPortid, dst_group: sk.dstGroup });
      e.ns_id = nsId;
    } else {
      // never bound: sock_diag does not list it (CRIU records its namespace only when dumping namespaces)
      Object.assign(e, { protocol: int(SOL_SOCKET, SO.PROTOCOL), state: 0, flags: d.flags, portid: 0, groups: [], dst_portid: 0, dst_group: 0 });
    }
    e.fown = d.fown;
    e.opts = dumpSkOpts(local, int, true);
    return e;
  } finally {
    nat.close(local);
  }
}

export const netlink: Kind = {
  type: 'NETLINKSK',
  field: 'nlsk',
  detect: (p, files) => sockFamily(p, files) === AF_NETLINK,
  dump(files, d) {
    files.entries.push({ type: 'NETLINKSK', id: d.id, nlsk: entry(files, d) });
  },
  plan: (_objs, f, _fileId, what) => netlinkObj(f.nlsk, what),
  inheritKeys: (f) => [`socket:[${f.nlsk.ino}]`],
};

/** the plan's object of NetlinkSkEntry e (CRIU's open_netlink_sk) */
function netlinkObj(e: any, what: string): Obj {
  const proto = n(e.protocol), portid = n(e.portid), groups: number[] = (e.groups ?? []).map(Number);
  const label = `${what} (netlink socket:[${n(e.ino)}] protocol ${proto}${portid ? ` port ${portid}` : ''})`;
  if (groups.length > 1) throw new RestoreError(`${label}: bound to groups above 32, which cannot be restored`);
  const connect = n(e.state) === NETLINK_CONNECTED ? 1 : 0;
  const dstGroup = n(e.dst_group);
  if (dstGroup > 32) throw new RestoreError(`${label}: connected to group ${dstGroup}, above 32`);
  return {
    kind: ObjKind.NETLINK, label, flags: n(e.flags),
    netlink: { proto, portid, groups: groups[0] ?? 0, connect, dstPortid: n(e.dst_portid), dstGroup },
    skOpts: restoreSkOpts(e.opts ?? {}, 0).map(({ what: w, level, name, val }) => ({ what: w, level, name, val })),
  };
}
