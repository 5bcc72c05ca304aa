// Files and directories under /proc/PID (CRIU's procfs paths in files-reg.c). Their path names a process:
// - of the tree: restored PIDs are the dumped ones, so the path is right once that task exists; the object
//   is opened by the task that holds it then (PROC_TASK; native/restore/procfs.c), a cwd or root waits too;
// - dead when dumped (/proc/PID unhashed: "/proc/PID (deleted)", or /proc/PID gone): CRIU's PROCFS remap
//   (remap-fpath, remap_id = PID, once per PID); the restore gives a temporary process that PID while the
//   objects are created and the tasks prepared, then kills it, so the tree holds an unhashed /proc/PID again;
// - any other process: opened by path, as any file.
import { existsSync, statSync, type Stats } from 'node:fs';
import type { Files } from '../files.js';
import type { FileObjects } from '../restore/objects.js';
import { b, hasImage, load, n, RestoreError } from '../restore/read.js';
import { ObjFlag, ObjKind } from '../restore/plan-wire.js';
import type { Obj } from '../restore/types.js';
import { PerRun, stripDeleted } from './common.js';

const PROC_PATH = /^\/proc\/(\d+)(\/task\/(\d+))?(\/|$)/;

/** The PIDs given a PROCFS remap in this dump (CRIU writes one per PID). */
const deadSeen = new PerRun<Files, Set<number>>(() => new Set());

/**
 * dump: the name to record for a file or dir on procfs at link (undefined: not under /proc/PID); a PID dead
 * by now gets its PROCFS remap (file id id), and the name loses " (deleted)".
 */
export function dumpProcPath(files: Files, id: number, link: string, st: Stats): string | undefined {
  const name = stripDeleted(link);
  const m = PROC_PATH.exec(name);
  if (!m || st.dev !== statSync('/proc').dev) return undefined;
  const pid = Number(m[1]);
  if (name !== link || !existsSync(`/proc/${pid}`)) {
    const seen = deadSeen.of(files);
    if (!seen.has(pid)) {
      seen.add(pid);
      files.remaps.push({ orig_id: id, remap_id: pid, remap_type: 'PROCFS' });
    }
  }
  return name;
}

interface RestoreState {
  /** pid -> whether it leads a process of the tree (false: a thread's tid) */
  tree: Map<number, boolean>;
  /** PIDs of PROCFS remaps */
  dead: Set<number>;
}
const restoreState = new PerRun<FileObjects, RestoreState>((objs) => {
  const dir = objs.opts.dir;
  const tree = new Map<number, boolean>();
  for (const e of load(dir, 'pstree', 'process tree').entries) {
    for (const t of (e.threads as number[] | undefined) ?? []) tree.set(n(t), false);
    tree.set(n(e.pid), true);
  }
  const dead = new Set<number>();
  if (hasImage(dir, 'remap-fpath')) {
    for (const e of load(dir, 'remap-fpath', 'file remaps').entries) {
      if (e.remap_type === 'PROCFS' || e.remap_type === 2) dead.add(n(e.remap_id));
    }
  }
  return { tree, dead };
});

/**
 * restore: what the /proc/PID path at path is to the plan: 'task' (a task of the tree: open it once that task
 * exists), 'dead' (the temporary process is planned), undefined (not under /proc/PID of either).
 */
export function planProcPath(objs: FileObjects, path: string, what: string): 'task' | 'dead' | undefined {
  const m = PROC_PATH.exec(path);
  if (!m) return undefined;
  const pid = Number(m[1]);
  const s = restoreState.of(objs);
  if (s.dead.has(pid)) {
    if (s.tree.has(pid)) throw new RestoreError(`${what}: ${path}: PID ${pid} was dead when dumped, yet a task of the dump has it`);
    const pids = (objs.plan.procPids ??= []);
    if (!pids.includes(pid)) pids.push(pid);
    return 'dead';
  }
  const leader = s.tree.get(pid);
  if (leader === undefined) return undefined;
  // threads come back only in the restorer, after every fd and the cwd are in place
  if (!leader || (m[3] !== undefined && Number(m[3]) !== pid)) {
    throw new RestoreError(`${what}: ${path}: a /proc file of a thread (not its process) is not supported`);
  }
  return 'task';
}

/** restore: the object of a REG entry r under /proc/PID of the tree or of a dead process, else undefined. */
export function procObj(objs: FileObjects, r: any, what: string): Obj | undefined {
  const path = r.name as string;
  const how = planProcPath(objs, path, what);
  if (!how) return undefined;
  const flags = how === 'task' ? (n(r.flags) | ObjFlag.PROC_TASK) >>> 0 : n(r.flags);
  return { kind: ObjKind.REG, label: `${what} (${path})`, path, flags, pos: b(r.pos) };
}
