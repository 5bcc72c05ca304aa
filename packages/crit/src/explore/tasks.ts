// `--pid N` for every explorer: which task of the dump it names. A pid that is
// not in the dump, or that is a thread of another task, is refused naming the
// tasks that are there.
import { ImageError } from '@ckpt/images';
import { taskId, type ImageDir, type Obj } from './imagedir.js';

const LISTED = 20;

function knownTasks(tree: Obj[]): string {
  const pids = tree.map((p) => taskId(p, 'pid'));
  return pids.slice(0, LISTED).join(', ') + (pids.length > LISTED ? `, ... (${pids.length} tasks)` : '');
}

/** The pstree entry of task `pid`, or an error saying what the dump holds instead. */
export function findTask(tree: Obj[], pid: number): Obj {
  const p = tree.find((e) => taskId(e, 'pid') === pid);
  if (p) return p;
  const owner = tree.find((e) => (e.threads ?? []).some((t: unknown) => Number(t) === pid));
  if (owner) throw new ImageError(`${pid} is a thread of task ${taskId(owner, 'pid')}: give --pid ${taskId(owner, 'pid')}`);
  throw new ImageError(`no task ${pid} in this dump (tasks in this dump: ${knownTasks(tree)})`);
}

/** The pstree entries an explorer walks: all of them, or the one --pid names. */
export function selectedTasks(dir: ImageDir, pid?: number): Obj[] {
  const tree = dir.pstree();
  return pid === undefined ? tree : [findTask(tree, pid)];
}

/** With --pid, a task that left nothing to show (a zombie has no fds) is an error, not an empty answer. */
export function* requireShown<T extends { pid: number; skipped?: string }>(tasks: Iterable<T>, pid?: number): Generator<T> {
  for (const t of tasks) {
    if (pid !== undefined && t.skipped) throw new ImageError(`task ${t.pid}: ${t.skipped}`);
    yield t;
  }
}
