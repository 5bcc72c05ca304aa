// `crit x DIR ps`: the process tree, depth-first from the root (CRIT.md §7.2).
import { TASK_STATES, type FieldSelection } from '@ckpt/images';
import { safeText } from '../render/escape.js';
import { ImageDir, taskId, type Obj } from './imagedir.js';
import { findTask } from './tasks.js';

export interface Task {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  comm: string;
  /** CRIU's task state, correctly named (alive, dead, stopped, zombie) */
  state: string;
  threads: number[];
  children: Task[];
}

const COMM_STATE: FieldSelection = { tc: { comm: true, task_state: true } };

/** The process tree, or with `pid` the subtree of that task. */
export function collectPs(dir: ImageDir, pid?: number): Task[] {
  const tasks = new Map<number, Task>();
  const tree = dir.pstree();
  if (pid !== undefined) findTask(tree, pid);
  for (const p of tree) {
    const pid = taskId(p, 'pid');
    const core: Obj = dir.first('core', pid, COMM_STATE);
    tasks.set(pid, {
      pid, ppid: Number(p.ppid ?? 0), pgid: taskId(p, 'pgid'), sid: taskId(p, 'sid'),
      comm: String(core.tc?.comm ?? '?'),
      state: TASK_STATES[Number(core.tc?.task_state ?? 1)] ?? `state ${core.tc?.task_state}`,
      threads: (p.threads ?? []).map(Number),
      children: [],
    });
  }
  const roots: Task[] = [];
  for (const t of tasks.values()) {
    const parent = t.ppid ? tasks.get(t.ppid) : undefined;
    if (parent) parent.children.push(t);
    else roots.push(t);
  }
  return pid === undefined ? roots : [tasks.get(pid)!];
}

const col7 = (v: number | string) => String(v).padStart(7);

export function* psText(roots: Task[]): Generator<string> {
  yield `${col7('PID')}${col7('PGID')}${col7('SID')}   COMM\n`;
  const walk = function* (t: Task, depth: number): Generator<string> {
    yield `${col7(t.pid)}${col7(t.pgid)}${col7(t.sid)}   ${' '.repeat(4 * depth)}${safeText(t.comm)}\n`;
    for (const k of t.children) yield* walk(k, depth + 1);
  };
  for (const r of roots) yield* walk(r, 0);
}
