// pidfd (CRIU's pidfd.c): a pidfd of a process of the tree, by its pid, opened again by the task that holds it
// once that process exists; or of a process dead when dumped (fdinfo "Pid: -1"), opened on a temporary process
// the helper kills, one per dead process (pidfds of the same one share its inode).
import { TASK } from '@ckpt/images';
import { DumpError } from '../log.js';
import { readStatus } from '../proc.js';
import { n, RestoreError } from '../restore/read.js';
import { ObjKind } from '../restore/plan-wire.js';
import { fdinfoNeed, fdinfoField, O_ACCMODE } from './common.js';
import type { Kind } from './kind.js';

const PIDFD_THREAD = 0o200; // O_EXCL

/** whether pid is a task this dump froze (each is traced by us) */
function frozenByUs(pid: number): boolean {
  try {
    return Number(readStatus(pid).TracerPid) === process.pid;
  } catch {
    return false;
  }
}

export const pidfd: Kind = {
  type: 'PIDFD',
  field: 'pidfd',
  detect: ({ link }) => link === 'anon_inode:[pidfd]' || link.startsWith('pidfd:'),
  dump(files, { id, flags, fown, info, st, what }) {
    if (flags & PIDFD_THREAD) throw new DumpError(`Can't dump ${what}: a pidfd of a thread (PIDFD_THREAD) is not supported`);
    const pid = Number(fdinfoNeed(info.lines, 'Pid:', what));
    if (pid === 0) throw new DumpError(`Can't dump ${what}: its process is in another PID namespace`);
    if (pid > 0 && !frozenByUs(pid)) throw new DumpError(`Can't dump ${what}: its process ${pid} is not a live task of the dumped tree`);
    const nspid = pid < 0 ? -1 : Number((fdinfoField(info.lines, 'NSpid:') ?? String(pid)).split(/\s+/).pop());
    files.entries.push({ type: 'PIDFD', id, pidfd: { id, ino: Number(st.ino), flags: flags & ~O_ACCMODE, nspid, fown } });
  },
  plan(_objs, f, _fileId, what) {
    const p = f.pidfd;
    const nspid = n(p.nspid, -1);
    return {
      kind: ObjKind.PIDFD, label: `${what} (pidfd of ${nspid < 0 ? 'a dead process' : `task ${nspid}`})`,
      flags: n(p.flags), nums: [BigInt(Math.max(nspid, 0)), BigInt(n(p.ino))],
    };
  },
  checkUsed(objs) {
    const pids = new Set(objs.plan.tasks.filter((t) => t.state !== TASK.DEAD).map((t) => t.pid));
    for (const o of objs.plan.objs) {
      if (o.kind === ObjKind.PIDFD && o.nums![0] && !pids.has(Number(o.nums![0]))) {
        throw new RestoreError(`${o.label}: task ${o.nums![0]} is not a live task of the dump`);
      }
    }
  },
};
