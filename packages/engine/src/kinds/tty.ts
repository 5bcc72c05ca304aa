// Terminals (CRIU's tty.c): a pts slave is dumped as a REG entry for its path (regf_id), its terminal
// in tty-info.img (once per tty_info_id: termios, locked termios, winsize, sid/pgrp read inside the
// task) and the TTY entry. Restored as a pty pair of the tree (the master from /dev/ptmx, the slave's
// termios and winsize, the input queued for the slave from tty-data) or, for a shell job (-j), as the
// caller's terminal. ptmx masters, /dev/tty, consoles and serial lines are refused by name on dump.
import type { Stats } from 'node:fs';
import { imageFileName } from '@ckpt/images';
import { DumpError } from '../log.js';
import type { Files } from '../files.js';
import type { TtyFacts } from '../parasite.js';
import type { FileObjects } from '../restore/objects.js';
import { hasImage, load, n, RestoreError } from '../restore/read.js';
import type { Obj } from '../restore/types.js';
import { major, PerRun, type Fown } from './common.js';
import type { Kind } from './kind.js';
import { regEntry } from './reg.js';
import { ObjKind } from '../restore/plan-wire.js';

/** A pts fd seen in the dump (CRIU's tty_dump_info): checked against the tree once every task is dumped. */
export interface TtySeen { pid: number; fd: number; index: number; sid: number; pgrp: number; hangup: boolean }

/** Whether st is a terminal this dump handles: a pts slave (major 136..143). */
export function isPtsSlave(st: Stats): boolean {
  return st.isCharacterDevice() && major(st.rdev) >= 136 && major(st.rdev) <= 143;
}

export const tty: Kind = {
  type: 'TTY',
  field: 'tty',
  detect: ({ link, st }) => link.startsWith('/') && isPtsSlave(st),
  refuse({ link, st }) {
    const ma = major(st.rdev);
    if (link.startsWith('/') && st.isCharacterDevice() && (ma === 5 || ma === 4 || ma === 204)) {
      return 'only pts terminals are supported (not ptmx, /dev/tty, consoles or serial lines)';
    }
    return undefined;
  },
  dump(files, d) {
    dumpTty(files, d.pid, d.fd, d.id, d.link, d.flags, d.info.pos, d.st, d.fown, d.ttys?.get(d.fd));
  },
  plan: ttyObj,
};

/**
 * A pts slave (CRIU's dump_one_tty): a REG entry for the device path (regf_id, a new id), the
 * terminal's tty-info entry once per tty_info_id (index << 1 for a slave), then the TTY entry.
 */
function dumpTty(files: Files, pid: number, fd: number, id: number, link: string, flags: number, pos: bigint, st: Stats, fown: Fown, f?: TtyFacts): void {
  const what = `fd ${fd} of task ${pid} (${link})`;
  const m = /\/(\d+)$/.exec(link);
  if (!m) throw new DumpError(`Can't dump ${what}: can't tell the pts index from its path`);
  if (!f) throw new DumpError(`Can't dump ${what}: terminal state was not collected`);
  const index = Number(m[1]);
  const ttyInfoId = index << 1;
  const regId = files.newId();
  const r = regEntry(regId, link, flags, pos, st);
  r.fown = fown;
  files.entries.push({ type: 'REG', id: regId, reg: r });
  if (!files.ttyInfos.some((t) => t.id === ttyInfoId)) {
    const info: any = {
      id: ttyInfoId, type: 'PTY', locked: f.locked, exclusive: f.exclusive, packet_mode: f.packetMode,
      sid: f.sid, pgrp: f.pgrp, rdev: st.rdev,
    };
    if (!f.hangup) {
      info.termios = termiosEntry(f.termios!);
      info.termios_locked = termiosEntry(f.termiosLocked!);
      const w = f.winsize!;
      info.winsize = { ws_row: w.readUInt16LE(0), ws_col: w.readUInt16LE(2), ws_xpixel: w.readUInt16LE(4), ws_ypixel: w.readUInt16LE(6) };
    }
    info.pty = { index };
    info.dev = st.dev;
    info.uid = st.uid;
    info.gid = st.gid;
    files.ttyInfos.push(info);
    files.ttys.push({ pid, fd, index, sid: f.sid, pgrp: f.pgrp, hangup: f.hangup });
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

/** tty-info by id and tty-data by tty id, read by the first terminal of the plan */
const restoreState = new PerRun<FileObjects, { info?: Map<number, any>; data?: Map<number, Buffer> }>(() => ({}));

/** a terminal: a pty master or slave of the images, or (a shell job) the caller's terminal */
function ttyObj(objs: FileObjects, f: any, fileId: number, what: string): Obj {
  const dir = objs.opts.dir;
  const s = restoreState.of(objs);
  // a shell job's terminal: a pts slave whose master is outside the tree; as CRIU with --shell-job, the
  // restored task gets the terminal of the caller (our stdin)
  s.info ??= new Map((hasImage(dir, 'tty-info') ? load(dir, 'tty-info', 'terminals').entries : []).map((e: any) => [n(e.id), e]));
  const ttyInfo = s.info;
  const info = ttyInfo.get(n(f.tty.tty_info_id));
  const name = objs.file(n(f.tty.regf_id))?.reg?.name ?? `tty ${f.tty.tty_info_id}`;
  if (!info) throw new RestoreError(`${what}: terminal ${name}: tty-info ${f.tty.tty_info_id} is not in ${imageFileName('tty-info')}`);
  const index = n(info.pty?.index, -1);
  const masterFile = info.type === 'PTY' && name !== '/dev/ptmx' ? objs.files.find((g) => g.tty && objs.file(n(g.tty.regf_id))?.reg?.name === '/dev/ptmx' &&
    n(ttyInfo.get(n(g.tty.tty_info_id))?.pty?.index, -2) === index) : undefined;
  if (info.type === 'PTY' && name === '/dev/ptmx') {
    // a pty master: /dev/ptmx (its slave's index if it is free), the slave's termios/winsize, the input queued for the slave
    const slaveInfo = [...ttyInfo.values()].find((x) => x.type === 'PTY' && n(x.pty?.index, -1) === index && n(x.rdev) !== n(info.rdev)) ?? info;
    const tio = slaveInfo.termios ?? {};
    const cc: number[] = [];
    for (const w of ((tio.c_cc as number[] | undefined) ?? []).slice(0, 5)) for (let k = 0; k < 4; k++) cc.push((n(w) >>> (8 * k)) & 0xff);
    const ws = slaveInfo.winsize ?? {};
    s.data ??= new Map((hasImage(dir, 'tty-data') ? load(dir, 'tty-data', 'terminal data').entries : []).map((e: any) => [n(e.tty_id), e.data as Buffer]));
    return { kind: ObjKind.PTY_MASTER, label: `${what} (pty master of /dev/pts/${index})`, flags: n(f.tty.flags), data: s.data.get(n(slaveInfo.id)) ?? Buffer.alloc(0),
      nums: [index, n(tio.c_iflag), n(tio.c_oflag), n(tio.c_cflag), n(tio.c_lflag), n(tio.c_line), n(ws.ws_row), n(ws.ws_col), n(ws.ws_xpixel), n(ws.ws_ypixel),
        info.locked ? 1 : 0, info.packet_mode ? 1 : 0, slaveInfo.termios ? 1 : 0, ...cc.slice(0, 19)].map((v) => BigInt(v)) };
  }
  if (masterFile) {
    const m = objs.objFor(n(masterFile.id), `master of ${what}`);
    if (n(info.sid)) objs.cttyOf.set(n(info.sid), { obj: -1, pgrp: n(info.pgrp), fileId });
    return { kind: ObjKind.PTY_SLAVE, label: `${what} (${name})`, flags: n(f.tty.flags), nums: [BigInt(m)] };
  }
  if (info.type !== 'PTY' || !/^\/dev\/pts\/\d+$/.test(name)) {
    throw new RestoreError(`${what}: terminal ${name} (${info.type}) is not supported (only ptys)`);
  }
  if (!objs.opts.shellJob) {
    throw new RestoreError(`${what}: terminal ${name} belongs to a session outside the tree: restore with --shell-job from a terminal`);
  }
  objs.plan.callerTty = true;
  return { kind: ObjKind.CALLER_TTY, label: `${what} (${name}: the caller's terminal)`, flags: n(f.tty.flags) };
}
