// `crit x DIR rss`: which pages of which mappings the dump holds (CRIT.md §7.5).
import { VMA } from '@ckpt/images';
import { safeText } from '../render/escape.js';
import { FileNames } from './files.js';
import { ImageDir, isDead, taskId, type Obj } from './imagedir.js';
import { selectedTasks } from './tasks.js';

export interface RssRun {
  vaddr: bigint;
  nrPages: number;
  /** the mappings the run overlaps; `again` when the previous run already listed it */
  vmas: Array<{ start: bigint; pages: number; file?: string; again?: boolean }>;
}

export interface TaskRss {
  pid: number;
  skipped?: string;
  runs: RssRun[];
}

/** Each task's dumped pages (or task `pid`'s), one task at a time: a large dump is never held whole. */
export function* eachTaskRss(dir: ImageDir, pageSize = 4096, names = new FileNames(dir), pid?: number): Generator<TaskRss> {
  const ps = BigInt(pageSize);
  for (const p of selectedTasks(dir, pid)) {
    const pid = taskId(p, 'pid');
    if (isDead(dir, pid)) {
      yield { pid, skipped: 'not alive when dumped: no memory', runs: [] };
      continue;
    }
    const vmas: Obj[] = dir.first('mm', pid, { vmas: true }).vmas ?? [];
    const pms = dir.entries('pagemap', pid).slice(1);
    let vmi = 0;
    let prev = -1;
    const runs = pms.map((pm): RssRun => {
      const vaddr = BigInt(pm.vaddr);
      const nrPages = Number(pm.nr_pages ?? pm.compat_nr_pages ?? 0);
      while (vmi < vmas.length && BigInt(vmas[vmi].end) <= vaddr) vmi++;
      const end = vaddr + BigInt(nrPages) * ps;
      const run: RssRun = { vaddr, nrPages, vmas: [] };
      while (vmi < vmas.length && BigInt(vmas[vmi].start) < end) {
        const v = vmas[vmi];
        const start = BigInt(v.start);
        if (vmi === prev) run.vmas.push({ start, pages: Number((BigInt(v.end) - start) / ps), again: true });
        else {
          const file = Number(v.status) & (VMA.VMA_FILE_PRIVATE | VMA.VMA_FILE_SHARED) ? names.describe('REG', Number(v.shmid)) : undefined;
          run.vmas.push({ start, pages: Number((BigInt(v.end) - start) / ps), file });
          prev = vmi;
        }
        vmi++;
      }
      vmi = Math.max(0, vmi - 1);
      return run;
    });
    yield { pid, runs };
  }
}

export function collectRss(dir: ImageDir, pageSize = 4096, names = new FileNames(dir), pid?: number): TaskRss[] {
  return [...eachTaskRss(dir, pageSize, names, pid)];
}

export function* rssText(tasks: Iterable<TaskRss>): Generator<string> {
  const pad = '\n\t' + ' '.repeat(23);
  for (const t of tasks) {
    if (t.skipped) continue;
    yield `${t.pid}\n`;
    for (const r of t.runs) {
      const left = `\t${r.vaddr.toString(16)} / ${String(r.nrPages).padEnd(8)}`;
      let right = '';
      for (const v of r.vmas) {
        if (v.again) right += ' ~';
        else right += ` ${v.start.toString(16).padStart(8, '0')} / ${String(v.pages).padEnd(8)}` + (v.file !== undefined ? ' ' + safeText(v.file) : '');
        right += pad;
      }
      yield `${left.padEnd(24)}${right}\n`;
    }
  }
}
