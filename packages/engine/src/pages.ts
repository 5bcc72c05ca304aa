// Memory contents (ENGINE-NOTES §3.6): present pages of private VMAs (+ the whole vDSO) found through
// /proc/PID/pagemap, described by pagemap-PID.img and copied in large batches into pages-N.img.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { imageFileName } from '@ckpt/images';
import { native } from './native.js';
import { VMA, type Vma } from './mm.js';

const PE_LAZY = 2, PE_PRESENT = 4;
const MAP_ANONYMOUS = 0x20, MAP_PRIVATE = 2, MAP_LOCKED = 0x2000, MAP_HUGETLB = 0x40000;

export interface PageRun { vaddr: bigint; nrPages: number; flags: number }

let zeroPfn: bigint | undefined;

export function scanRuns(pid: number, vmas: Vma[]): PageRun[] {
  const n = native();
  zeroPfn ??= n.zeroPfn();
  const runs: PageRun[] = [];
  for (const v of vmas) {
    if (!(v.status & VMA.REGULAR) || v.status & VMA.VVAR || v.status & VMA.VSYSCALL) continue;
    const priv = v.status & (VMA.ANON_PRIVATE | VMA.FILE_PRIVATE);
    if (!priv) continue;
    const isVdso = (v.status & VMA.VDSO) !== 0;
    const lazy = (v.flags & MAP_ANONYMOUS) && (v.flags & MAP_PRIVATE) && !(v.flags & (MAP_LOCKED | MAP_HUGETLB)) && !isVdso;
    const flags = PE_PRESENT | (lazy ? PE_LAZY : 0);
    const r = n.scanPages(pid, v.start, v.end, { all: isVdso, skipFile: (v.status & VMA.FILE_PRIVATE) !== 0, zeroPfn });
    for (let i = 0; i < r.length; i += 2) {
      const vaddr = r[i], nr = Number(r[i + 1]);
      const last = runs[runs.length - 1];
      if (last && last.flags === flags && last.vaddr + BigInt(last.nrPages) * 4096n === vaddr) last.nrPages += nr;
      else runs.push({ vaddr, nrPages: nr, flags });
    }
  }
  return runs;
}

/** Writes the pages of the runs into DIR/pages-ID.img; returns the pagemap image entries and byte count. */
export function dumpPages(pid: number, dir: string, pagesId: number, runs: PageRun[]): { entries: any[]; bytes: number } {
  const flat = new BigUint64Array(runs.length * 2);
  runs.forEach((r, i) => {
    flat[i * 2] = r.vaddr;
    flat[i * 2 + 1] = BigInt(r.nrPages);
  });
  const fd = openSync(join(dir, imageFileName('pages', pagesId)), 'w');
  let bytes = 0;
  try {
    bytes = native().copyPages(pid, fd, flat);
  } finally {
    closeSync(fd);
  }
  const entries = [{ pages_id: pagesId }, ...runs.map((r) => ({ vaddr: r.vaddr, compat_nr_pages: 0, flags: r.flags, nr_pages: r.nrPages }))];
  return { entries, bytes };
}
