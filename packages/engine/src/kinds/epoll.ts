// epoll (CRIU's eventpoll.c): the targets from fdinfo, each by the fd number it was registered with
// (kcmp KCMP_EPOLL_TFD finds targets closed or replaced since). On restore the targets are registered
// by the first task that has the epoll and the target at their fd numbers; an epoll in flight's by the helper.
import { listFds } from '../proc.js';
import { native } from '../native.js';
import { DumpError } from '../log.js';
import { RestoreError, b, n } from '../restore/read.js';
import type { Fown } from './common.js';
import type { Kind } from './kind.js';
import type { FileObjects } from '../restore/objects.js';
import { ObjKind } from '../restore/plan-wire.js';

export const epoll: Kind = {
  type: 'EVENTPOLL',
  field: 'epfd',
  detect: ({ link }) => link === 'anon_inode:[eventpoll]',
  dump(files, { id, flags, fown, info, pid, fd, what, inFlightOf }) {
    const e = epollEntry(id, flags, fown, info.lines, pid, fd, what, inFlightOf);
    if (e.moved) files.deferredEpoll.push(e.entry);
    else files.entries.push(e.entry);
  },
  plan: (_objs, f, _fileId, what) => ({ kind: ObjKind.EPOLL, label: `${what} (eventpoll)`, flags: n(f.epfd.flags) }),
  placed(objs, f, idx) {
    objs.epollTargets.set(idx, ((f.epfd.tfd as any[]) ?? []).map((x) => ({ tfd: n(x.tfd), events: n(x.events), data: b(x.data), done: false })));
  },
  checkUsed(objs) {
    registerInFlight(objs);
    for (const [obj, ts] of objs.epollTargets) {
      const miss = ts.find((x) => !x.done);
      if (miss) throw new RestoreError(`${objs.plan.objs[obj].label}: target fd ${miss.tfd} is not open in any task that has this epoll`);
    }
  },
};

/**
 * An epoll in flight only (in a socket's queue, in no task's fds): its targets are the fds at their registered
 * numbers in the first task holding that socket (as CRIU restores them: the files in flight are opened by the
 * socket's task), registered by the helper under those numbers.
 */
function registerInFlight(objs: FileObjects): void {
  const plan = objs.plan;
  const held = new Set(plan.tasks.flatMap((t) => t.fds.map((f) => f.obj)));
  for (const [obj, ts] of objs.epollTargets) {
    if (held.has(obj) || ts.every((x) => x.done)) continue;
    const sock = plan.objs.findIndex((o) => o.sk?.queueFds?.some((q) => q.obj === obj));
    const task = sock < 0 ? undefined : plan.tasks.find((t) => t.fds.some((f) => f.obj === sock));
    if (!task) continue; // in flight to a socket in flight too: reported below as not registered
    const targets = ts.map((x) => {
      const at = task.fds.find((f) => f.fd === x.tfd);
      if (!at) throw new RestoreError(`${plan.objs[obj].label}: target fd ${x.tfd} is not open in task ${task.pid}, which holds ${plan.objs[sock].label}`);
      x.done = true;
      return { obj: at.obj, tfd: x.tfd, events: x.events, data: x.data };
    });
    plan.objs[obj].epTargets = targets;
  }
}

/**
 * An epoll fd (CRIU's dump_one_eventpoll). fdinfo names each target by the fd number it was
 * registered with; kcmp(KCMP_EPOLL_TFD) tells whether that fd still holds the registered file. When
 * it does not (the fd was closed or replaced after EPOLL_CTL_ADD), the target is looked up among the
 * task's other fds the same way and the entry is written with that fd, after every task (CRIU's
 * queued dinfo, flushed at the end). A file open in no fd of the task any more is refused by name.
 */
function epollEntry(id: number, flags: number, fown: Fown, lines: string[], pid: number, efd: number, what: string, inFlightOf?: number): { entry: any; moved: boolean } {
  const owner = inFlightOf ?? pid; // whose fd numbers the targets are
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
    if (nat.kcmpEpollTfd(owner, reg, pid, efd, reg, toff) !== 0) {
      if (inFlightOf !== undefined) {
        throw new DumpError(`Can't dump ${what}: an epoll in flight whose target registered as fd ${reg} (inode ${parseInt(m[5], 16)}) is not that fd of task ${inFlightOf}, where the restore registers it`);
      }
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
