// `crit x DIR fds`: each task's fds with what they are, then cwd and root (CRIT.md §7.3).
import { safeText } from '../render/escape.js';
import { FileNames } from './files.js';
import { FILES_ID, ImageDir, isDead, taskId } from './imagedir.js';
import { selectedTasks } from './tasks.js';

export interface TaskFds {
  pid: number;
  /** set for tasks that have no fd images (zombies, dead tasks) */
  skipped?: string;
  fds: Array<{ fd: number; type: string; id: number; desc: string }>;
  cwd?: string;
  root?: string;
}

/** Each task's fds (or task `pid`'s), one task at a time: a large dump is never held whole. */
export function* eachTaskFds(dir: ImageDir, names = new FileNames(dir), pid?: number): Generator<TaskFds> {
  for (const p of selectedTasks(dir, pid)) {
    const pid = taskId(p, 'pid');
    if (isDead(dir, pid)) {
      yield { pid, skipped: 'not alive when dumped: no fds', fds: [] };
      continue;
    }
    const filesId = Number(dir.first('ids', pid, FILES_ID).files_id);
    const fds = dir.entries('fdinfo', filesId).map((fd) => ({
      fd: Number(fd.fd), type: String(fd.type), id: Number(fd.id), desc: names.describe(fd.type, Number(fd.id)),
    }));
    const fs = dir.first('fs', pid);
    yield { pid, fds, cwd: names.describe('REG', Number(fs.cwd_id)), root: names.describe('REG', Number(fs.root_id)) };
  }
}

export function collectFds(dir: ImageDir, names = new FileNames(dir), pid?: number): TaskFds[] {
  return [...eachTaskFds(dir, names, pid)];
}

export function* fdsText(tasks: Iterable<TaskFds>): Generator<string> {
  for (const t of tasks) {
    if (t.skipped) continue;
    yield `${t.pid}\n`;
    for (const fd of t.fds) yield `\t${String(fd.fd).padStart(7)}: ${safeText(fd.desc)}\n`;
    yield `\t${'cwd'.padStart(7)}: ${safeText(t.cwd!)}\n`;
    yield `\t${'root'.padStart(7)}: ${safeText(t.root!)}\n`;
  }
}
