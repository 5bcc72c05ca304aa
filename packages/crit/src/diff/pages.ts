// Which pages differ between two dumps of a task, by content. Both pagemaps are
// walked together over the union of their runs; data is read in large pieces
// (one read per piece and dump) and compared page by page only where a piece
// differs, so the cost is bounded by reading the two pages files once.
import { PE, type PageReader, type PageRun } from '@ckpt/images';
import type { Op } from './model.js';

export interface PageSpan {
  start: bigint;
  end: bigint;
  kind: Op;
}

const HAS_DATA = PE.PRESENT | PE.PARENT;
const PIECE = 8 << 20;

function dataRuns(r: PageReader | undefined): Array<{ start: bigint; end: bigint }> {
  if (!r) return [];
  const ps = BigInt(r.pageSize);
  return r.runs.filter((x: PageRun) => x.flags & HAS_DATA).map((x) => ({ start: x.vaddr, end: x.vaddr + BigInt(x.nrPages) * ps }));
}

/** Ordered, merged spans of pages that differ (changed), or that only one dump holds (added: only b, removed: only a). */
export function comparePages(a: PageReader | undefined, b: PageReader | undefined, pageSize: number): PageSpan[] {
  const ra = dataRuns(a);
  const rb = dataRuns(b);
  const cuts = [...new Set([...ra, ...rb].flatMap((r) => [r.start, r.end]))].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const out: PageSpan[] = [];
  const add = (start: bigint, end: bigint, kind: Op) => {
    const last = out[out.length - 1];
    if (last && last.kind === kind && last.end === start) last.end = end;
    else out.push({ start, end, kind });
  };
  let ia = 0;
  let ib = 0;
  const ps = BigInt(pageSize);
  const bufA = Buffer.allocUnsafe(PIECE);
  const bufB = Buffer.allocUnsafe(PIECE);
  for (let i = 0; i + 1 < cuts.length; i++) {
    const lo = cuts[i];
    const hi = cuts[i + 1];
    while (ia < ra.length && ra[ia].end <= lo) ia++;
    while (ib < rb.length && rb[ib].end <= lo) ib++;
    const inA = ia < ra.length && ra[ia].start <= lo;
    const inB = ib < rb.length && rb[ib].start <= lo;
    if (inA && !inB) add(lo, hi, 'removed');
    else if (inB && !inA) add(lo, hi, 'added');
    else if (inA && inB) {
      for (let at = lo; at < hi; at += BigInt(PIECE)) {
        const len = Number(hi - at < BigInt(PIECE) ? hi - at : BigInt(PIECE));
        const da = bufA.subarray(0, len);
        const db = bufB.subarray(0, len);
        a!.readInto(at, da);
        b!.readInto(at, db);
        if (da.equals(db)) continue;
        // narrow down: blocks of 64 pages, then pages
        const block = 64 * pageSize;
        for (let bo = 0; bo < len; bo += block) {
          const be = Math.min(len, bo + block);
          if (da.subarray(bo, be).equals(db.subarray(bo, be))) continue;
          for (let off = bo; off < be; off += pageSize) {
            if (!da.subarray(off, off + pageSize).equals(db.subarray(off, off + pageSize))) add(at + BigInt(off), at + BigInt(off) + ps, 'changed');
          }
        }
      }
    }
  }
  return out;
}
