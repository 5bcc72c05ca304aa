// Images -> restore plan: every decision that needs the format is made here, in TypeScript; the helper
// (native/restore/) gets plain numbers, strings and bytes. Shared resources are resolved once:
// each open file description (file id) becomes one object the helper creates before forking
// (objects.ts), and every task (task.ts) dup2()s the objects it uses to its fd numbers.
import { existsSync } from 'node:fs';
import { imageFileName } from '@ckpt/images';
import { FileObjects } from './objects.js';
import { hasImage, load, n, b, RestoreError } from './read.js';
import { encodePlanWire, PlanFlag, PlanWireError } from './plan-wire.js';
import { planTask, selfCreds, type TaskContext } from './task.js';
import type { InheritFd, Plan, PlanOptions, PlanTask } from './types.js';

export { RestoreError } from './read.js';
export type { Ghost, InheritFd, Memfd, Obj, Plan, PlanOptions, PlanTask } from './types.js';

/** `fd[N]:RESOURCE` as CRIU's --inherit-fd takes it: socket:[INO], pipe:[INO], or a file path. */
export function parseInheritFd(arg: string): InheritFd {
  const m = /^fd\[(\d+)\]:(.+)$/.exec(arg);
  if (!m) throw new RestoreError(`--inherit-fd ${arg}: expected fd[N]:RESOURCE (socket:[INODE], pipe:[INODE] or a path)`);
  const fd = Number(m[1]);
  if (fd <= 2) throw new RestoreError(`--inherit-fd ${arg}: fd ${fd} is one of the caller's standard streams`);
  return { fd, key: m[2] };
}

export function buildPlan(o: PlanOptions): Plan {
  const dir = o.dir;
  if (!existsSync(dir)) throw new RestoreError(`images directory ${dir} does not exist`);
  const inv = load(dir, 'inventory', 'inventory').entries[0];
  if (!inv) throw new RestoreError(`${imageFileName('inventory')} has no entry`);
  if (inv.fdinfo_per_id === false) throw new RestoreError('images without fdinfo_per_id are not supported');
  const pstree = load(dir, 'pstree', 'process tree').entries;
  if (!pstree.length) throw new RestoreError(`${imageFileName('pstree')} lists no task`);
  const plan: Plan = { detached: o.detached, shellJob: o.shellJob, leaveStopped: o.leaveStopped, sibling: o.sibling, callerTty: false, memfds: [], ghosts: [], inheritFds: [], pipes: [], objs: [], tasks: [] };
  const ctx: TaskContext = { dir, objects: new FileObjects(plan, o), locksByPid: fileLocks(o), self: selfCreds() };
  const pidIndex = new Map<number, number>();
  for (const [i, e] of pstree.entries()) pidIndex.set(n(e.pid), i);
  for (const [i, e] of pstree.entries()) {
    const parent = n(e.ppid) === 0 || i === 0 ? -1 : pidIndex.get(n(e.ppid));
    if (parent === undefined || parent >= i) throw new RestoreError(`task ${n(e.pid)}: parent ${e.ppid} is not listed before it in ${imageFileName('pstree')}`);
    plan.tasks.push(planTask(ctx, e, parent));
  }
  ctx.objects.checkAllUsed();
  plan.inheritFds = [...new Set((o.inheritFds ?? []).map((i) => i.fd))];
  return plan;
}

/** filelocks.img by pid; as CRIU, without --file-locks the locks in the images are not taken */
function fileLocks(o: PlanOptions): Map<number, PlanTask['locks']> {
  const locksByPid = new Map<number, PlanTask['locks']>();
  if (!o.fileLocks || !hasImage(o.dir, 'filelocks')) return locksByPid;
  for (const e of load(o.dir, 'filelocks', 'file locks').entries) {
    const kind = n(e.flag);
    if (kind !== 1 && kind !== 2 && kind !== 4 && kind !== 8) throw new RestoreError(`task ${e.pid} fd ${e.fd}: file lock of kind ${kind} is not supported`);
    if (kind === 8 && n(e.type) !== 0 && n(e.type) !== 1) throw new RestoreError(`task ${e.pid} fd ${e.fd}: lease of type ${n(e.type)} (breaking) is not supported`);
    const l = locksByPid.get(n(e.pid)) ?? [];
    l.push([kind, n(e.type), b(e.start), b(e.len), n(e.fd)]);
    locksByPid.set(n(e.pid), l);
  }
  return locksByPid;
}

/** The plan in the helper's wire form (plan-wire.ts, generated from plan/schema.mjs); a value the schema
 *  refuses (an index out of range, a NUL in a path, ...) is a RestoreError naming the field. */
export function encodePlan(p: Plan): Buffer {
  try {
    return encodePlanWire({
      flags: (p.detached ? PlanFlag.DETACHED : 0) | (p.shellJob ? PlanFlag.SHELL_JOB : 0) | (p.leaveStopped ? PlanFlag.LEAVE_STOPPED : 0) | (p.sibling ? PlanFlag.SIBLING : 0),
      pipes: p.pipes, memfds: p.memfds, objs: p.objs, tasks: p.tasks, procPids: p.procPids, inheritFds: p.inheritFds,
    });
  } catch (e) {
    if (!(e instanceof PlanWireError)) throw e;
    // name the resource or task the bad field belongs to
    const m = /^restore plan: (objs|tasks)\[(\d+)\]/.exec(e.message);
    const o = m?.[1] === 'objs' ? p.objs[Number(m[2])] : undefined;
    const t = m?.[1] === 'tasks' ? p.tasks[Number(m[2])] : undefined;
    throw new RestoreError(o ? `${o.label}: ${e.message}` : t ? `task ${t.pid}: ${e.message}` : e.message);
  }
}
