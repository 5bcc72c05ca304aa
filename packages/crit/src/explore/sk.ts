// `crit x DIR sk`: every socket of the dump with kind, type, state, addresses
// and ports, queued bytes, and which task fds hold it. Socket objects live in
// files.img; queued data in sk-queues.img (by file id) and tcp-stream-<ino>.img.
import type { ChalkInstance } from 'chalk';
import { DICT_TABLES, ipText } from '@ckpt/images';
import { tableText, type Cell } from '../render/table.js';
import { FILES_ID, ImageDir, isDead, taskId, type Obj } from './imagedir.js';
import { findTask } from './tasks.js';

export interface SocketInfo {
  /** file id in files.img */
  id: number;
  ino?: number;
  kind: 'unix' | 'inet' | 'inet6' | 'netlink' | 'packet';
  type: string;
  proto?: string;
  state?: string;
  local: string;
  remote: string;
  /** bytes waiting to be read (unix: dumped queue records; tcp: receive queue) */
  recvQ: number;
  /** bytes not yet acknowledged by the peer (tcp send queue) */
  sendQ: number;
  /** tasks and fds that hold the socket, "pid:fd" */
  holders: string[];
  /** unix: the other end, by inode, with the fds that hold it (none: outside the dump's tasks) */
  peer?: { ino: number; holders: string[]; name?: string; inDump: boolean };
}

const SK = DICT_TABLES.sk;
const NETLINK_CONNECTED = 1;
const name = (table: Record<number, string>, v: unknown) => (v === undefined ? undefined : table[Number(v)] ?? String(v));

/** Unix socket names: abstract ones start with NUL (shown as @), bound paths end with one. */
export function unixName(b: Buffer | undefined): string {
  if (!b || b.length === 0) return '';
  const abstract = b[0] === 0;
  let s = (abstract ? b.subarray(1) : b).toString('utf8');
  if (!abstract) s = s.replace(/\0+$/, '');
  return (abstract ? '@' : '') + s.replace(/[\0-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function inetEnd(words: number[] | undefined, port: unknown, v6: boolean): string {
  const addr = words?.length ? ipText(words) : v6 ? '::' : '0.0.0.0';
  const any = addr === '0.0.0.0' || addr === '::';
  const p = Number(port ?? 0);
  if (any && p === 0) return '*';
  return `${v6 ? `[${addr}]` : addr}:${p || '*'}`;
}

function describe(f: Obj): Omit<SocketInfo, 'recvQ' | 'sendQ' | 'holders'> | undefined {
  const id = Number(f.id);
  if (f.isk) {
    const s = f.isk;
    const v6 = Number(s.family) === 10;
    return {
      id, ino: Number(s.ino), kind: v6 ? 'inet6' : 'inet', type: name(SK.type, s.type)!, proto: name(SK.proto, s.proto),
      state: name(SK.state, s.state), local: inetEnd(s.src_addr, s.src_port, v6), remote: inetEnd(s.dst_addr, s.dst_port, v6),
    };
  }
  if (f.usk) {
    const s = f.usk;
    return {
      id, ino: Number(s.ino), kind: 'unix', type: name(SK.type, s.type)!, state: name(SK.state, s.state),
      local: unixName(s.name) || '*', remote: s.peer ? `ino ${s.peer}` : '*',
    };
  }
  if (f.nlsk) {
    const s = f.nlsk;
    // CRIU keeps the kernel's sk_state: NETLINK_CONNECTED (1) after connect(); a
    // socket never connected has the initial TCP_CLOSE (7); an unbound one, not
    // listed by netlink diag, has none (0)
    const bound = Number(s.portid ?? 0) !== 0 || Boolean(s.groups?.length);
    return {
      id, ino: Number(s.ino), kind: 'netlink', type: `proto ${s.protocol}`,
      state: Number(s.state) === NETLINK_CONNECTED ? 'CONNECTED' : bound ? 'UNCONNECTED' : 'UNBOUND',
      local: bound ? `port ${s.portid ?? 0}${s.groups?.length ? ` groups ${s.groups.join(',')}` : ''}` : '*',
      remote: s.dst_portid || s.dst_group ? `port ${s.dst_portid ?? 0} group ${s.dst_group ?? 0}` : '*',
    };
  }
  if (f.psk) {
    const s = f.psk;
    // packet sockets have no connection: bound to one interface (ifindex) or to all (0)
    return {
      id, kind: 'packet', type: name(SK.type, s.type)!, proto: `0x${Number(s.protocol).toString(16)}`, state: 'UNCONNECTED',
      local: `ifindex ${Number(s.ifindex ?? 0) || '*'}`, remote: '*',
    };
  }
  return undefined;
}

/** Every socket of the dump, or with `pid` those that task holds. */
export function collectSockets(dir: ImageDir, pid?: number): SocketInfo[] {
  if (pid !== undefined) {
    findTask(dir.pstree(), pid);
    const mine = `${pid}:`;
    return collectSockets(dir).filter((s) => s.holders.some((h) => h.startsWith(mine)));
  }
  const holders = new Map<number, string[]>();
  for (const p of dir.pstree()) {
    const pid = taskId(p, 'pid');
    if (isDead(dir, pid) || !dir.has('ids', pid)) continue;
    const filesId = Number(dir.first('ids', pid, FILES_ID).files_id);
    for (const fd of dir.maybeEntries('fdinfo', filesId) ?? []) {
      const list = holders.get(Number(fd.id)) ?? [];
      list.push(`${pid}:${fd.fd}`);
      holders.set(Number(fd.id), list);
    }
  }
  const queued = new Map<number, number>();
  for (const q of dir.maybeEntries('sk-queues') ?? []) queued.set(Number(q.id_for), (queued.get(Number(q.id_for)) ?? 0) + Number(q.length ?? 0));
  const out: SocketInfo[] = [];
  const files = dir.maybeEntries('files') ?? [];
  for (const f of files) {
    const d = describe(f);
    if (!d) continue;
    let recvQ = queued.get(d.id) ?? 0;
    let sendQ = 0;
    if (d.ino !== undefined && d.proto === 'TCP') {
      const tcp = dir.maybeEntries('tcp-stream', d.ino)?.[0];
      if (tcp) {
        recvQ += Number(tcp.inq_len ?? 0);
        sendQ += Number(tcp.outq_len ?? 0);
      }
    }
    out.push({ ...d, recvQ, sendQ, holders: holders.get(d.id) ?? [] });
  }
  linkUnixPeers(out, files);
  const order = (s: SocketInfo) => (s.holders[0] ?? '').split(':').map(Number);
  return out.sort((x, y) => {
    const [a, b] = [order(x), order(y)];
    return (a[0] || Infinity) - (b[0] || Infinity) || (a[1] ?? 0) - (b[1] ?? 0) || x.id - y.id;
  });
}

/** A unix socket's peer by the fds that hold it, the way a reader looks for it. */
function linkUnixPeers(socks: SocketInfo[], files: Obj[]): void {
  const byIno = new Map<number, SocketInfo>();
  for (const s of socks) if (s.kind === 'unix' && s.ino !== undefined) byIno.set(s.ino, s);
  const peerOf = new Map<number, number>();
  for (const f of files) if (f.usk?.peer) peerOf.set(Number(f.id), Number(f.usk.peer));
  for (const s of socks) {
    const ino = peerOf.get(s.id);
    if (ino === undefined) continue;
    const p = byIno.get(ino);
    if (!p) {
      s.peer = { ino, holders: [], inDump: false };
      s.remote = `ino ${ino} (not in the dump)`;
      continue;
    }
    const named = p.local !== '*' ? p.local : undefined;
    s.peer = { ino, holders: p.holders, ...(named && { name: named }), inDump: true };
    s.remote = p.holders.length ? p.holders.join(',') : `${named ?? `ino ${ino}`} (held by no task)`;
  }
}

export function socketsText(socks: SocketInfo[], style: ChalkInstance, scope = 'in this dump'): string {
  if (socks.length === 0) return `no sockets ${scope}\n`;
  const rows = socks.map((s): Cell[] => [
    s.holders.join(',') || { dim: '(none)' }, s.kind, s.type + (s.proto && s.kind !== 'packet' ? `/${s.proto}` : ''), s.state ?? '',
    s.local, s.remote, s.recvQ, s.sendQ,
  ]);
  return tableText(style, ['PID:FD', 'KIND', 'TYPE', 'STATE', 'LOCAL', 'REMOTE', 'RECV-Q', 'SEND-Q'], rows,
    ['left', 'left', 'left', 'left', 'left', 'left', 'right', 'right']);
}
