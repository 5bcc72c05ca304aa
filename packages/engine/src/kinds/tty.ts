// Terminals (CRIU's tty.c). A terminal fd is dumped as a REG entry for its path (regf_id, a new id), its
// terminal in tty-info.img (once per tty_info_id: termios, locked termios, winsize, sid/pgrp read inside
// the task) and the TTY entry. tty_info_id is CRIU's: a pty's index << 1, +1 for the master (/dev/ptmx);
// fixed indices for a console, a virtual terminal and /dev/tty. The input and output queued in a pty pair
// of the tree go to tty-data.img. Restored: a pty pair (the master from /dev/ptmx, the slave's termios,
// winsize, owner and queued data; a hung-up slave gets a master that is closed at once), a console or vt
// reopened by its path, /dev/tty opened as the controlling terminal its pty is, or (a shell job, -j) the
// caller's terminal. Serial lines and other ttys are refused by name on dump.
import { closeSync, constants, fstatSync, openSync, readSync, writeSync, type Stats } from 'node:fs';
import { imageFileName } from '@ckpt/images';
import { DumpError } from '../log.js';
import type { Files } from '../files.js';
import { native } from '../native.js';
import type { TtyFacts } from '../parasite.js';
import type { FileObjects } from '../restore/objects.js';
import { hasImage, load, n, RestoreError } from '../restore/read.js';
import type { Obj } from '../restore/types.js';
import { major, minor, O_NONBLOCK, PerRun, type Fown } from './common.js';
import type { Kind } from './kind.js';
import { regEntry } from './reg.js';
import { ObjFlag, ObjKind } from '../restore/plan-wire.js';

type TtyType = 'PTY' | 'CONSOLE' | 'VT' | 'CTTY';

/** A terminal seen in the dump (CRIU's tty_dump_info): checked against the tree once every task is dumped. */
export interface TtySeen { pid: number; fd: number; index: number; sid: number; pgrp: number; hangup: boolean; type: TtyType; master: boolean }

/** CRIU's indices of the terminals that are not ptys (MAX_PTY_INDEX is 1000) */
const CONSOLE_INDEX = 1002, VT_INDEX = 1004, CTTY_INDEX = 1006;

/** What a character device is as a terminal this dump handles (CRIU's get_tty_driver), or undefined. */
function ttyOf(st: Stats): { type: TtyType; master: boolean } | undefined {
  if (!st.isCharacterDevice()) return undefined;
  const ma = major(st.rdev), mi = minor(st.rdev);
  if (ma >= 136 && ma <= 143) return { type: 'PTY', master: false };
  if ((ma === 5 && mi === 2) || (ma >= 128 && ma <= 135)) return { type: 'PTY', master: true };
  if (ma === 5 && mi === 1) return { type: 'CONSOLE', master: false };
  if (ma === 5 && mi === 0) return { type: 'CTTY', master: false };
  if (ma === 4 && mi >= 1 && mi <= 63) return { type: 'VT', master: false };
  return undefined;
}

/** Whether st is a terminal this dump handles (its state is read inside the task). */
export function isTerminal(st: Stats): boolean {
  return ttyOf(st) !== undefined;
}

/** Whether st is a pts slave (major 136..143). */
export function isPtsSlave(st: Stats): boolean {
  const t = ttyOf(st);
  return t?.type === 'PTY' && !t.master;
}

export const tty: Kind = {
  type: 'TTY',
  field: 'tty',
  detect: ({ link, st }) => link.startsWith('/') && isTerminal(st),
  refuse({ link, st }) {
    const ma = major(st.rdev);
    if (link.startsWith('/') && st.isCharacterDevice() && (ma === 5 || ma === 4 || ma === 204 || ma === 188)) {
      return 'this terminal is not supported (serial lines and other ttys; ptys, consoles, vt and /dev/tty are)';
    }
    return undefined;
  },
  dump(files, d) {
    dumpTty(files, d.pid, d.fd, d.id, d.link, d.flags, d.info.pos, d.info.lines, d.st, d.fown, d.ttys?.get(d.fd));
  },
  plan: ttyObj,
};

/**
 * A terminal fd (CRIU's dump_one_tty): a REG entry for the device path (regf_id, a new id), the
 * terminal's tty-info entry once per tty_info_id, then the TTY entry.
 */
function dumpTty(files: Files, pid: number, fd: number, id: number, fdLink: string, flags: number, pos: bigint, fdinfo: string[], st: Stats, fown: Fown, f?: TtyFacts): void {
  const what = `fd ${fd} of task ${pid} (${fdLink})`;
  // a slave whose master is closed has lost its /dev/pts node: its path is the one it had
  const link = fdLink.replace(/ \(deleted\)$/, '');
  const t = ttyOf(st)!;
  let index: number;
  if (t.type === 'PTY' && t.master) {
    const m = fdinfo.map((l) => /^tty-index:\s*(\d+)/.exec(l)).find((x) => x);
    if (!m) throw new DumpError(`Can't dump ${what}: the kernel does not tell the pty index of the master (no tty-index in fdinfo)`);
    index = Number(m[1]);
  } else if (t.type === 'PTY') {
    const m = /\/(\d+)$/.exec(link);
    if (!m) throw new DumpError(`Can't dump ${what}: can't tell the pts index from its path`);
    index = Number(m[1]);
  } else {
    index = t.type === 'CONSOLE' ? CONSOLE_INDEX : t.type === 'VT' ? VT_INDEX : CTTY_INDEX;
  }
  if (t.type === 'PTY' && index > 1000) throw new DumpError(`Can't dump ${what}: pty index ${index} is too big (CRIU's limit is 1000)`);
  if (!f) throw new DumpError(`Can't dump ${what}: terminal state was not collected`);
  const ttyInfoId = (index << 1) + (t.master ? 1 : 0);
  const regId = files.newId();
  const r = regEntry(regId, link, flags, pos, st);
  r.fown = fown;
  files.entries.push({ type: 'REG', id: regId, reg: r });
  if (!files.ttyInfos.some((x) => x.id === ttyInfoId)) {
    const info: any = {
      id: ttyInfoId, type: t.type, locked: f.locked, exclusive: f.exclusive, packet_mode: f.packetMode,
      sid: f.sid, pgrp: f.pgrp, rdev: st.rdev,
    };
    if (!f.hangup) {
      info.termios = termiosEntry(f.termios!);
      info.termios_locked = termiosEntry(f.termiosLocked!);
      const w = f.winsize!;
      info.winsize = { ws_row: w.readUInt16LE(0), ws_col: w.readUInt16LE(2), ws_xpixel: w.readUInt16LE(4), ws_ypixel: w.readUInt16LE(6) };
    }
    if (t.type === 'PTY') info.pty = { index };
    info.dev = st.dev;
    info.uid = st.uid;
    info.gid = st.gid;
    files.ttyInfos.push(info);
    files.ttys.push({ pid, fd, index, sid: f.sid, pgrp: f.pgrp, hangup: f.hangup, type: t.type, master: t.master });
  }
  files.entries.push({ type: 'TTY', id, tty: { id, tty_info_id: ttyInfoId, flags, fown, regf_id: regId } });
}

/**
 * termios_entry as CRIU fills it: the flags, c_line, and c_cc as a memcpy of glibc's 32-byte c_cc
 * (the kernel's 19 bytes, then zeros) over the first 8 of 19 u32 words; CRIU leaves the other 11
 * words uninitialised, we write zeros. Speeds stay 0.
 */
function termiosEntry(k: Buffer): any {
  const cc = Buffer.alloc(19 * 4);
  k.copy(cc, 0, 17, 36);
  const c_cc: number[] = [];
  for (let i = 0; i < 19; i++) c_cc.push(cc.readUInt32LE(i * 4));
  return {
    c_iflag: k.readUInt32LE(0), c_oflag: k.readUInt32LE(4), c_cflag: k.readUInt32LE(8), c_lflag: k.readUInt32LE(12),
    c_line: k[16], c_ispeed: 0, c_ospeed: 0, c_cc,
  };
}

/**
 * Once every task is dumped (CRIU's dump_verify_tty_sids, tty_verify_ctty, tty_verify_active_pairs): a
 * terminal's session leader must be in the tree (else it is a shell's: --shell-job); a /dev/tty fd must
 * be the controlling terminal of its task and that terminal a pty whose master is in the tree; a pts
 * slave (not hung up) needs its master in the tree, unless it is the one external terminal of a shell job.
 */
export function verifyTtys(files: Files, pstree: { pid: number; sid: number }[], shellJob: boolean): void {
  const inTree = new Set(pstree.map((p) => p.pid));
  if (!shellJob) {
    for (const t of files.ttys) {
      if (!t.sid) continue;
      const leader = pstree.find((p) => p.pid === t.sid);
      if (!leader || leader.sid !== t.sid || !inTree.has(t.sid)) {
        throw new DumpError(`Found dangling tty with sid ${t.sid} pgid ${t.pgrp} (${t.type === 'PTY' ? (t.master ? 'ptmx' : 'pts') : t.type.toLowerCase()}) on fd ${t.fd} of task ${t.pid}. ` +
          'Task attached to shell terminal. Consider using --shell-job option');
      }
    }
  }
  const masters = new Set(files.ttys.filter((t) => t.type === 'PTY' && t.master).map((t) => t.index));
  for (const t of files.ttys.filter((x) => x.type === 'CTTY')) {
    const what = `/dev/tty on fd ${t.fd} of task ${t.pid}`;
    if (t.hangup || !t.sid) throw new DumpError(`Can't dump ${what}: its terminal is not the task's controlling terminal (or is hung up)`);
    const pty = files.ttys.find((p) => p.type === 'PTY' && p.master && p.sid === t.sid);
    if (!pty) throw new DumpError(`Can't dump ${what}: its terminal (session ${t.sid}) is not a pty whose master is in the dumped tree`);
  }
  const slaves = files.ttys.filter((t) => t.type === 'PTY' && !t.master && !t.hangup && !masters.has(t.index));
  if (!slaves.length) return;
  if (!shellJob) {
    const t = slaves[0];
    throw new DumpError(`Found slave peer index ${t.index} without correspond master peer (fd ${t.fd} of task ${t.pid}); use --shell-job (-j) for a terminal outside the tree`);
  }
  if (slaves.length > 1) throw new DumpError(`Only one slave external peer is allowed (index ${slaves[1].index})`);
}

const F_GETFL = 3, F_SETFL = 4, TTY_DATA_MAX = 16384;

/** What is queued for reading on fd of pid, read without blocking through a copy of the fd (pidfd_getfd). */
function drain(pid: number, fd: number, what: string): Buffer {
  const l = native().getFd(pid, fd);
  try {
    return drainFd(l, what);
  } finally {
    closeSync(l);
  }
}

/** What is queued for reading on our fd l (its file's flags as they were afterwards). */
function drainFd(l: number, what: string): Buffer {
  const nat = native();
  const fl = nat.fcntl(l, F_GETFL);
  nat.fcntl(l, F_SETFL, fl | O_NONBLOCK);
  const buf = Buffer.alloc(TTY_DATA_MAX + 1);
  let off = 0;
  try {
    for (;;) {
      let r: number;
      try {
        r = readSync(l, buf, off, buf.length - off, null);
      } catch (e: any) {
        // EIO: nothing more on a master whose slave no one has open (or on a hung-up slave)
        if (e.code === 'EAGAIN' || e.code === 'EIO') break;
        throw new DumpError(`Can't read the data queued on ${what}: ${e.message}`);
      }
      if (r === 0) break;
      off += r;
      if (off > TTY_DATA_MAX) throw new DumpError(`Can't dump ${what}: more than ${TTY_DATA_MAX} bytes are queued on it`);
    }
  } finally {
    nat.fcntl(l, F_SETFL, fl);
  }
  return Buffer.from(buf.subarray(0, off));
}

/**
 * tty-data.img (CRIU's tty_dump_queued_data): for each pty pair of the tree, what the slave can read
 * (the master's input, tty_id of the slave) and what the master can read (the slave's output, tty_id of
 * the master). Reading takes it from the kernel, so a tree that lives on (-R, -s) gets it written back.
 */
export function dumpTtyData(files: Files, keepsRunning: boolean): any[] {
  const out: any[] = [];
  const live = files.ttys.filter((t) => t.type === 'PTY' && !t.hangup);
  const done = new Set<number>();
  // pairs in the order their first terminal was dumped, that one's data first (as CRIU writes them)
  for (const a of live) {
    const b = live.find((t) => t.index === a.index && t.master !== a.master);
    if (done.has(a.index)) continue;
    if (!b) {
      if (a.master) unpairedMaster(a, out, keepsRunning);
      continue;
    }
    done.add(a.index);
    const got = new Map<TtySeen, Buffer>();
    for (const t of [a, b]) {
      const name = `${t.master ? 'the master of ' : ''}/dev/pts/${t.index} (fd ${t.fd} of task ${t.pid})`;
      const data = drain(t.pid, t.fd, name);
      got.set(t, data);
      if (data.length) out.push({ tty_id: (t.index << 1) + (t.master ? 1 : 0), data });
    }
    if (keepsRunning) {
      writeBack(b.pid, b.fd, got.get(a)!);
      writeBack(a.pid, a.fd, got.get(b)!);
    }
  }
  return out;
}

/**
 * A master whose slave no task of the tree has open: what it can read through the master, and what the
 * slave side holds through the slave's node in the task's root (opened without becoming a controlling tty).
 */
function unpairedMaster(m: TtySeen, out: any[], keepsRunning: boolean): void {
  const name = `the master of /dev/pts/${m.index} (fd ${m.fd} of task ${m.pid})`;
  // the master's side first: once the slave opened here is closed again, the master reads EIO
  const forMaster = drain(m.pid, m.fd, name);
  const path = `/proc/${m.pid}/root/dev/pts/${m.index}`;
  let s: number;
  try {
    s = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch (e: any) {
    throw new DumpError(`Can't dump ${name}: its slave ${path} cannot be opened to read what is queued on it: ${e.message}`);
  }
  try {
    const st = fstatSync(s);
    if (major(st.rdev) < 136 || major(st.rdev) > 143 || (major(st.rdev) - 136) * 256 + minor(st.rdev) !== m.index) {
      throw new DumpError(`Can't dump ${name}: ${path} is not its slave`);
    }
    const forSlave = drainFd(s, `/dev/pts/${m.index}`);
    if (forSlave.length) out.push({ tty_id: m.index << 1, data: forSlave });
    if (forMaster.length) out.push({ tty_id: (m.index << 1) + 1, data: forMaster });
    if (keepsRunning) {
      writeBack(m.pid, m.fd, forSlave);
      if (forMaster.length) writeSync(s, forMaster);
    }
  } finally {
    closeSync(s);
  }
}

function writeBack(pid: number, fd: number, data: Buffer): void {
  if (!data.length) return;
  const l = native().getFd(pid, fd);
  try {
    writeSync(l, data);
  } finally {
    closeSync(l);
  }
}

/** tty-info by id and tty-data by tty id, read by the first terminal of the plan; the fake masters of hung-up slaves by index */
const restoreState = new PerRun<FileObjects, { info?: Map<number, any>; data?: Map<number, Buffer>; fakeMaster: Map<number, number> }>(() => ({ fakeMaster: new Map() }));

/** a terminal: a pty master or slave, a console or vt, /dev/tty, or (a shell job) the caller's terminal */
function ttyObj(objs: FileObjects, f: any, fileId: number, what: string): Obj {
  const dir = objs.opts.dir;
  const s = restoreState.of(objs);
  s.info ??= new Map((hasImage(dir, 'tty-info') ? load(dir, 'tty-info', 'terminals').entries : []).map((e: any) => [n(e.id), e]));
  s.data ??= new Map((hasImage(dir, 'tty-data') ? load(dir, 'tty-data', 'terminal data').entries : []).map((e: any) => [n(e.tty_id), e.data as Buffer]));
  const ttyInfo = s.info;
  const infoId = n(f.tty.tty_info_id);
  const info = ttyInfo.get(infoId);
  const name = objs.file(n(f.tty.regf_id))?.reg?.name ?? `tty ${infoId}`;
  const flags = n(f.tty.flags);
  if (!info) throw new RestoreError(`${what}: terminal ${name}: tty-info ${infoId} is not in ${imageFileName('tty-info')}`);
  if (info.type === 'CONSOLE' || info.type === 'VT') {
    // a device of the machine: the same node reopened (its termios are the device's, not the task's)
    if (!objs.file(n(f.tty.regf_id))?.reg) throw new RestoreError(`${what}: terminal ${name} (${info.type}) has no path in ${imageFileName('files')}`);
    return { kind: ObjKind.REG, label: `${what} (${name})`, path: name, flags };
  }
  if (info.type === 'CTTY') {
    // /dev/tty: the controlling terminal of its session, which is the pty whose master has that session
    const m = [...ttyInfo.values()].find((x) => x.type === 'PTY' && (n(x.id) & 1) === 1 && n(x.sid) === n(info.sid) && n(info.sid) !== 0);
    const mf = m && objs.files.find((g) => g.tty && n(g.tty.tty_info_id) === n(m.id));
    if (!mf) throw new RestoreError(`${what}: /dev/tty of session ${n(info.sid)}: no pty master of the images has that session`);
    return { kind: ObjKind.CTTY, label: `${what} (${name})`, flags, nums: [BigInt(objs.objFor(n(mf.id), `master of ${what}`))] };
  }
  if (info.type !== 'PTY') throw new RestoreError(`${what}: terminal ${name} (${info.type}) is not supported`);
  const index = n(info.pty?.index, -1);
  if ((infoId & 1) === 1) {
    if (n(info.sid) && !objs.cttyOf.has(n(info.sid))) objs.cttyOf.set(n(info.sid), { obj: -1, pgrp: n(info.pgrp), fileId });
    return masterObj(s, info, index, `${what} (pty master of /dev/pts/${index})`, flags);
  }
  const masterFile = objs.files.find((g) => g.tty && n(g.tty.tty_info_id) === (index << 1) + 1);
  if (masterFile) {
    const m = objs.objFor(n(masterFile.id), `master of ${what}`);
    if (n(info.sid)) objs.cttyOf.set(n(info.sid), { obj: -1, pgrp: n(info.pgrp), fileId });
    return { kind: ObjKind.PTY_SLAVE, label: `${what} (${name})`, flags, nums: [BigInt(m)] };
  }
  if (!info.termios) {
    // a slave whose master was closed (hung up): a master of its own, closed once its slaves are open
    let m = s.fakeMaster.get(index);
    if (m === undefined) {
      objs.plan.objs.push(masterObj(s, undefined, index, `the closed master of ${name}`, 2 | ObjFlag.HANGUP));
      m = objs.plan.objs.length - 1;
      s.fakeMaster.set(index, m);
    }
    return { kind: ObjKind.PTY_SLAVE, label: `${what} (${name}, hung up)`, flags, nums: [BigInt(m)] };
  }
  // a shell job's terminal: a pts slave whose master is outside the tree; as CRIU with --shell-job, the
  // restored task gets the terminal of the caller (our stdin)
  if (!/^\/dev\/pts\/\d+$/.test(name)) throw new RestoreError(`${what}: terminal ${name} is not supported (a pts slave without its master)`);
  if (!objs.opts.shellJob) {
    throw new RestoreError(`${what}: terminal ${name} belongs to a session outside the tree: restore with --shell-job from a terminal`);
  }
  objs.plan.callerTty = true;
  return { kind: ObjKind.CALLER_TTY, label: `${what} (${name}: the caller's terminal)`, flags };
}

/**
 * a pty master: /dev/ptmx at the slave's index if it is free; the slave's termios, winsize and owner, the
 * input queued for the slave and the output queued for the master (tty-data by the slave's and the master's id)
 */
function masterObj(s: { info?: Map<number, any>; data?: Map<number, Buffer> }, info: any, index: number, label: string, flags: number): Obj {
  const slaveInfo = s.info!.get(index << 1);
  // the master's termios and winsize are its slave's (the kernel answers TCGETS on a master for the slave)
  const tios = slaveInfo?.termios ? slaveInfo : info;
  const tio = tios?.termios ?? {};
  const cc: number[] = [];
  for (const w of ((tio.c_cc as number[] | undefined) ?? []).slice(0, 5)) for (let k = 0; k < 4; k++) cc.push((n(w) >>> (8 * k)) & 0xff);
  const ws = tios?.winsize ?? {};
  const hasOwner = slaveInfo?.uid !== undefined && slaveInfo?.gid !== undefined;
  return {
    kind: ObjKind.PTY_MASTER, label, flags: flags >>> 0, data: s.data!.get(index << 1) ?? Buffer.alloc(0), outData: s.data!.get((index << 1) + 1) ?? Buffer.alloc(0),
    owner: hasOwner ? [BigInt(n(slaveInfo.uid)), BigInt(n(slaveInfo.gid))] : [],
    nums: [index, n(tio.c_iflag), n(tio.c_oflag), n(tio.c_cflag), n(tio.c_lflag), n(tio.c_line), n(ws.ws_row), n(ws.ws_col), n(ws.ws_xpixel), n(ws.ws_ypixel),
      info?.locked ? 1 : 0, info?.packet_mode ? 1 : 0, tios?.termios ? 1 : 0, ...cc.slice(0, 19)].map((v) => BigInt(v)),
  };
}
