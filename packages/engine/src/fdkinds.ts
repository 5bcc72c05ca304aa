// File kinds described by /proc/PID/fdinfo lines (ENGINE-NOTES §3.7, CRIU's eventfd.c, timerfd.c,
// signalfd.c, eventpoll.c, fsnotify.c): eventfd, timerfd, signalfd, epoll (with its targets) and
// inotify (with its watches). Plain parsers: fdinfo text in, image entry objects out.
import { readFileSync } from 'node:fs';
import { listFds } from './proc.js';
import { native } from './native.js';
import { DumpError } from './log.js';

/** anon_inode link -> fd type, or undefined. */
export function anonKind(link: string): string | undefined {
  switch (link) {
    case 'anon_inode:[eventfd]': return 'EVENTFD';
    case 'anon_inode:[timerfd]': return 'TIMERFD';
    case 'anon_inode:[signalfd]': return 'SIGNALFD';
    case 'anon_inode:[eventpoll]': return 'EVENTPOLL';
    case 'anon_inode:inotify': return 'INOTIFY';
    default: return undefined;
  }
}

function field(lines: string[], key: string): string | undefined {
  const l = lines.find((x) => x.startsWith(key));
  return l === undefined ? undefined : l.slice(key.length).trim();
}

function need(lines: string[], key: string, what: string): string {
  const v = field(lines, key);
  if (v === undefined) throw new DumpError(`Can't dump ${what}: no "${key}" in its fdinfo`);
  return v;
}

/** Builds the file_entry of an fdinfo-described kind. what names the fd for errors. */
export function fdinfoEntry(type: string, id: number, flags: number, fown: any, lines: string[], pid: number, what: string): any {
  switch (type) {
    case 'EVENTFD':
      // "eventfd-count: %16llx"
      return { type, id, efd: { id, flags, fown, counter: BigInt('0x' + need(lines, 'eventfd-count:', what)) } };
    case 'TIMERFD': {
      const pair = (k: string) => {
        const m = /\((\d+),\s*(\d+)\)/.exec(need(lines, k, what));
        if (!m) throw new DumpError(`Can't dump ${what}: bad ${k} in fdinfo`);
        return [BigInt(m[1]), BigInt(m[2])];
      };
      const [vsec, vnsec] = pair('it_value:'), [isec, insec] = pair('it_interval:');
      return {
        type, id, tfd: {
          id, flags, fown, clockid: Number(need(lines, 'clockid:', what)), ticks: BigInt(need(lines, 'ticks:', what)),
          settime_flags: parseInt(need(lines, 'settime flags:', what), 8), vsec, vnsec, isec, insec,
        },
      };
    }
    case 'SIGNALFD':
      return { type, id, sgfd: { id, flags, fown, sigmask: BigInt('0x' + need(lines, 'sigmask:', what)) } };
    case 'EVENTPOLL':
      throw new DumpError(`Can't dump ${what}: epoll needs its fd (epollEntry)`);
    case 'INOTIFY':
      return { type, id, ify: { id, flags, fown, wd: inotifyWatches(lines, pid, what) } };
  }
  throw new DumpError(`Can't dump ${what}: unsupported file type`);
}

/**
 * An epoll fd (CRIU's dump_one_eventpoll). fdinfo names each target by the fd number it was
 * registered with; kcmp(KCMP_EPOLL_TFD) tells whether that fd still holds the registered file. When
 * it does not (the fd was closed or replaced after EPOLL_CTL_ADD), the target is looked up among the
 * task's other fds the same way and the entry is written with that fd, after every task (CRIU's
 * queued dinfo, flushed at the end). A file open in no fd of the task any more is refused by name.
 */
export function epollEntry(id: number, flags: number, fown: any, lines: string[], pid: number, efd: number, what: string): { entry: any; moved: boolean } {
  const n = native();
  const tfd: any[] = [];
  const seen = new Map<number, number>(); // registered fd number -> how many targets had it so far (toff)
  let moved = false;
  let fds: number[] | undefined;
  // "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x"
  for (const l of lines) {
    const m = /^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\s+data:\s*([0-9a-f]+)\s+pos:(\d+)\s+ino:([0-9a-f]+)\s+sdev:([0-9a-f]+)/.exec(l);
    if (!m) continue;
    const reg = Number(m[1]);
    const toff = seen.get(reg) ?? 0;
    seen.set(reg, toff + 1);
    let fd = reg;
    if (n.kcmpEpollTfd(pid, reg, pid, efd, reg, toff) !== 0) {
      fds ??= listFds(pid);
      const found = fds.find((f) => f !== efd && n.kcmpEpollTfd(pid, f, pid, efd, reg, toff) === 0);
      if (found === undefined) {
        throw new DumpError(`Can't dump ${what}: epoll target registered as fd ${reg} (inode ${parseInt(m[5], 16)}) is no longer open in task ${pid}`);
      }
      fd = found;
      moved = true;
    }
    tfd.push({
      id: 0, tfd: fd, events: parseInt(m[2], 16), data: BigInt('0x' + m[3]), dev: parseInt(m[6], 16), inode: BigInt(parseInt(m[5], 16)),
      pos: BigInt(m[4]),
    });
  }
  return { entry: { type: 'EVENTPOLL', id, epfd: { id, flags, fown, tfd } }, moved };
}

// "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x f_handle:%02x..."
function inotifyWatches(lines: string[], pid: number, what: string): any[] {
  const out: any[] = [];
  for (const l of lines) {
    if (!l.startsWith('inotify ')) continue;
    const kv: Record<string, string> = {};
    for (const w of l.slice(8).trim().split(/\s+/)) {
      const i = w.indexOf(':');
      kv[w.slice(0, i)] = w.slice(i + 1);
    }
    const bytes = parseInt(kv['fhandle-bytes'] ?? '0', 16), htype = parseInt(kv['fhandle-type'] ?? '0', 16);
    const raw = Buffer.from(kv.f_handle ?? '', 'hex');
    const padded = Buffer.alloc(Math.max(128, Math.ceil(raw.length / 8) * 8));
    raw.copy(padded);
    const handle: bigint[] = [];
    for (let o = 0; o < padded.length; o += 8) handle.push(padded.readBigUInt64LE(o));
    const sdev = parseInt(kv.sdev, 16);
    const fh: any = { bytes, type: htype, handle };
    const path = handlePath(pid, sdev, htype, raw);
    if (path === null) throw new DumpError(`Can't dump ${what}: can't find a path for the inotify watch on inode ${parseInt(kv.ino, 16)}`);
    fh.path = path;
    out.push({
      id: 0, i_ino: BigInt('0x' + kv.ino), mask: parseInt(kv.mask, 16), ignored_mask: parseInt(kv.ignored_mask ?? '0', 16),
      s_dev: sdev, wd: parseInt(kv.wd, 16), f_handle: fh,
    });
  }
  return out;
}

/** Path of the object behind a file handle on the filesystem with kernel device number sdev. */
function handlePath(pid: number, sdev: number, type: number, handle: Buffer): string | null {
  const want = `${sdev >>> 20}:${sdev & 0xfffff}`;
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'latin1').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5 || f[2] !== want) continue;
    const p = native().handlePath(f[4], type, handle);
    if (p !== null) return p;
  }
  return null;
}
