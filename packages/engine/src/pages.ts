// Memory contents (ENGINE-NOTES §3.6): present pages of private VMAs (+ the whole vDSO) found through
// /proc/PID/pagemap, described by pagemap-PID.img and copied in large batches into pages-N.img.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { imageFileName, PE, VMA } from '@ckpt/images';
import { native } from './native.js';
import { MAP_ANONYMOUS, MAP_DROPPABLE, MAP_HUGETLB, MAP_LOCKED, MAP_PRIVATE, type Vma } from './mm.js';

export interface PageRun { vaddr: bigint; nrPages: number; flags: number }

let zeroPfn: bigint | undefined;

/** VMAs whose pages go to the task's pages image: private, regular, not vvar/vsyscall; and AIO rings (all their
 * pages). Not MAP_DROPPABLE memory: the kernel may drop its pages at any time, it comes back zeroed (as CRIU restores it). */
export function pagesDumped(v: { status: number; flags: number }): boolean {
  if (v.status & VMA.VMA_AREA_AIORING) return true;
  return (v.status & VMA.VMA_AREA_REGULAR) !== 0 && (v.status & (VMA.VMA_AREA_VVAR | VMA.VMA_AREA_VSYSCALL)) === 0
    && (v.status & (VMA.VMA_ANON_PRIVATE | VMA.VMA_FILE_PRIVATE)) !== 0 && !(v.flags & MAP_DROPPABLE);
}

export function scanRuns(pid: number, vmas: Vma[]): PageRun[] {
  const n = native();
  zeroPfn ??= n.zeroPfn();
  const runs: PageRun[] = [];
  for (const v of vmas) {
    if (!pagesDumped(v)) continue;
    const isVdso = (v.status & VMA.VMA_AREA_VDSO) !== 0, whole = isVdso || (v.status & VMA.VMA_AREA_AIORING) !== 0;
    const lazy = (v.flags & MAP_ANONYMOUS) && (v.flags & MAP_PRIVATE) && !(v.flags & (MAP_LOCKED | MAP_HUGETLB)) && !whole;
    const flags = PE.PRESENT | (lazy ? PE.LAZY : 0);
    const r = n.scanPages(pid, v.start, v.end, { all: whole, skipFile: (v.status & VMA.VMA_FILE_PRIVATE) !== 0, zeroPfn });
    for (let i = 0; i < r.length; i += 2) {
      const vaddr = r[i], nr = Number(r[i + 1]);
      const last = runs[runs.length - 1];
      if (last && last.flags === flags && last.vaddr + BigInt(last.nrPages) * 4096n === vaddr) last.nrPages += nr;
      else runs.push({ vaddr, nrPages: nr, flags });
    }
  }
  return runs;
}

/**
 * Writes the pages of the runs into DIR/pages-ID.img; returns the pagemap image entries and byte count.
 * progress(done, total) is told how far the copy is, in bytes, every 64 MiB (and at the end).
 */
export function dumpPages(pid: number, dir: string, pagesId: number, runs: PageRun[], progress?: (done: number, total: number) => void): { entries: any[]; bytes: number } {
  const flat = new BigUint64Array(runs.length * 2);
  runs.forEach((r, i) => {
    flat[i * 2] = r.vaddr;
    flat[i * 2 + 1] = BigInt(r.nrPages);
  });
  const fd = openSync(join(dir, imageFileName('pages', pagesId)), 'w');
  let bytes = 0;
  try {
    bytes = native().copyPages(pid, fd, flat, progress);
  } finally {
    closeSync(fd);
  }
  const entries = [{ pages_id: pagesId }, ...runs.map((r) => ({ vaddr: r.vaddr, compat_nr_pages: 0, flags: r.flags, nr_pages: r.nrPages }))];
  return { entries, bytes };
}
