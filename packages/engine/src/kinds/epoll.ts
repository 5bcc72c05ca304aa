// epoll (CRIU's eventpoll.c): the targets from fdinfo, each by the fd number it was registered with
// (kcmp KCMP_EPOLL_TFD finds targets closed or replaced since). On restore the targets are registered
// by the first task that has the epoll and the target at their fd numbers.
import { listFds } from '../proc.js';
import { native } from '../native.js';
import { DumpError } from '../log.js';
import { RestoreError, b, n } from '../restore/read.js';
import type { Fown } from './common.js';
import type { Kind } from './kind.js';
import { ObjKind } from '../restore/plan-wire.js';

export const epoll: Kind = {
  type: 'EVENTPOLL',
  field: 'epfd',
  detect: ({ link }) => link === 'anon_inode:[eventpoll]',
  dump(files, { id, flags, fown, info, pid, fd, what }) {
    const e = epollEntry(id, flags, fown, info.lines, pid, fd, what);
    if (e.moved) files.deferredEpoll.push(e.entry);
    else files.entries.push(e.entry);
  },
  plan: (_objs, f, _fileId, what) => ({ kind: ObjKind.EPOLL, label: `${what} (eventpoll)`, flags: n(f.epfd.flags) }),
  placed(objs, f, idx) {
    objs.epollTargets.set(idx, ((f.epfd.tfd as any[]) ?? []).map((x) => ({ tfd: n(x.tfd), events: n(x.events), data: b(x.data), done: false })));
  },
  checkUsed(objs) {
    for (const [obj, ts] of objs.epollTargets) {
      const miss = ts.find((x) => !x.done);
      if (miss) throw new RestoreError(`${objs.plan.objs[obj].label}: target fd ${miss.tfd} is not open in any task that has this epoll`);
    }
  },
};

/**
 * An epoll fd (CRIU's dump_one_eventpoll). fdinfo names each target by the fd number it was
 * registered with; kcmp(KCMP_EPOLL_TFD) tells whether that fd still holds the registered file. When
 * it does not (the fd was closed or replaced after EPOLL_CTL_ADD), the target is looked up among the
 * task's other fds the same way and the entry is written with that fd, after every task (CRIU's
 * queued dinfo, flushed at the end). A file open in no fd of the task any more is refused by name.
 */
function epollEntry(id: number, flags: number, fown: Fown, lines: string[], pid: number, efd: number, what: string): { entry: any; moved: boolean } {
  const nat = native();
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
    if (nat.kcmpEpollTfd(pid, reg, pid, efd, reg, toff) !== 0) {
      fds ??= listFds(pid);
      const found = fds.find((f) => f !== efd && nat.kcmpEpollTfd(pid, f, pid, efd, reg, toff) === 0);
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
