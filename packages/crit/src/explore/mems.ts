// `crit x DIR mems`: each task's mappings with what backs them (CRIT.md §7.4).
import { VMA, type FieldSelection } from '@ckpt/images';
import { safeText } from '../render/escape.js';
import { FileNames } from './files.js';
import { ImageDir, isDead, taskId, type Obj } from './imagedir.js';
import { findTask } from './tasks.js';

export interface Mapping {
  start: bigint;
  end: bigint;
  prot: string;
  /** CRIT's description suffix, e.g. " /usr/bin/sleep + 0x2000", " [vdso]", " shmem[1]" */
  what: string;
}

export interface TaskMems {
  pid: number;
  skipped?: string;
  exe?: string;
  vmas: Mapping[];
}

const hex8 = (v: bigint) => v.toString(16).padStart(8, '0');

/** Small ids for shared objects, numbered from 1 in order of first appearance across tasks. */
class SmallIds {
  private ids = new Map<string, number>();
  get(key: bigint): number {
    let id = this.ids.get(String(key));
    if (id === undefined) this.ids.set(String(key), (id = this.ids.size + 1));
    return id;
  }
}

function describeVma(vma: Obj, names: FileNames, ids: SmallIds): string {
  const st = Number(vma.status);
  let fn: string;
  if (st & VMA.VMA_AREA_SYSVIPC) fn = ` ips[${ids.get(vma.shmid).toString(16)}]`;
  else if (st & VMA.VMA_ANON_SHARED) fn = ` shmem[${ids.get(vma.shmid).toString(16)}]`;
  else if (st & VMA.VMA_AREA_SOCKET) fn = ` packet[${ids.get(vma.shmid).toString(16)}]`;
  else if (st & (VMA.VMA_FILE_PRIVATE | VMA.VMA_FILE_SHARED)) {
    fn = ' ' + names.describe('REG', Number(vma.shmid));
    if (BigInt(vma.pgoff ?? 0) !== 0n) fn += ` + 0x${BigInt(vma.pgoff).toString(16)}`;
    if (st & VMA.VMA_FILE_SHARED) fn += ' (s)';
  } else if (st & VMA.VMA_AREA_STACK) fn = ' [stack]';
  else if (st & VMA.VMA_AREA_VSYSCALL) fn = ' [vsyscall]';
  else if (st & VMA.VMA_AREA_VDSO) fn = ' [vdso]';
  else if (Number(vma.flags) & 0x100) fn = ' [stack?]'; // MAP_GROWSDOWN
  else fn = '';
  if (!(st & VMA.VMA_AREA_REGULAR)) fn += ' *';
  return fn;
}

export function protText(prot: number): string {
  return (prot & 1 ? 'r' : '-') + (prot & 2 ? 'w' : '-') + (prot & 4 ? 'x' : '-');
}

const MAPPINGS: FieldSelection = { exe_file_id: true, vmas: true };
const SHARED_IDS: FieldSelection = { vmas: { status: true, shmid: true } };
const NUMBERED = VMA.VMA_AREA_SYSVIPC | VMA.VMA_ANON_SHARED | VMA.VMA_AREA_SOCKET;

/**
 * Each task's mappings (or task `only`'s), one task at a time: a large dump is
 * never held whole. Shared objects are numbered as in the full listing, so the
 * tasks before `only` are read for their shared mappings.
 */
export function* eachTaskMems(dir: ImageDir, names = new FileNames(dir), only?: number): Generator<TaskMems> {
  const ids = new SmallIds();
  const tree = dir.pstree();
  if (only !== undefined) findTask(tree, only);
  for (const p of tree) {
    const pid = taskId(p, 'pid');
    if (only !== undefined && pid !== only) {
      if (!isDead(dir, pid)) for (const v of dir.first('mm', pid, SHARED_IDS).vmas ?? []) if (Number(v.status) & NUMBERED) ids.get(v.shmid);
      continue;
    }
    if (isDead(dir, pid)) yield { pid, skipped: 'not alive when dumped: no memory', vmas: [] };
    else {
      const mm = dir.first('mm', pid, MAPPINGS);
      yield {
        pid,
        exe: names.describe('REG', Number(mm.exe_file_id)),
        vmas: (mm.vmas ?? []).map((v: Obj) => ({
          start: BigInt(v.start), end: BigInt(v.end), prot: protText(Number(v.prot)), what: describeVma(v, names, ids),
        })),
      };
    }
    if (only !== undefined) return; // the tasks after it change nothing
  }
}

export function collectMems(dir: ImageDir, names = new FileNames(dir), pid?: number): TaskMems[] {
  return [...eachTaskMems(dir, names, pid)];
}

export function* memsText(tasks: Iterable<TaskMems>): Generator<string> {
  for (const t of tasks) {
    if (t.skipped) continue;
    yield `${t.pid}\n\t${'exe'.padEnd(36)}    ${safeText(t.exe!)}\n`;
    for (const v of t.vmas) yield `\t${`${hex8(v.start)}-${hex8(v.end)}`.padEnd(36)}${v.prot}${safeText(v.what)}\n`;
  }
}
