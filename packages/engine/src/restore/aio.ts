// AIO rings (src/aio.ts dumps them): the ring's VMA is mapped as private anonymous memory receiving its dumped
// pages; the restorer then creates a ring of the dumped size, brings it to the dumped state and moves it there.
import { VMA } from '@ckpt/images';
import { b, n, RestoreError } from './read.js';
import type { PlanTask } from './types.js';

const MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, PROT_RW = 3;
/** as many as rst_args.aios holds */
export const MAX_AIO_RINGS = 64;

/** the plan's VMA and ring for an AIORING VMA of mm.img (its `aios` entry has the ring's id = address) */
export function planAioRing(t: PlanTask, mm: any, v: any, who: string): void {
  const start = b(v.start), end = b(v.end);
  const range = `AIO ring 0x${start.toString(16)}-0x${end.toString(16)}`;
  const e = ((mm.aios as any[]) ?? []).find((x) => b(x.id) === start);
  if (!e) throw new RestoreError(`${who}: ${range} has no aios entry in mm.img`);
  if (b(e.ring_len) !== end - start || n(e.nr_req) < 1) throw new RestoreError(`${who}: ${range}: aios entry of ${e.ring_len} bytes, ${e.nr_req} requests does not fit it`);
  if (n(v.prot) !== PROT_RW) throw new RestoreError(`${who}: ${range}: prot ${v.prot}; the kernel maps rings read-write only`);
  if (t.aios.length >= MAX_AIO_RINGS) throw new RestoreError(`${who}: more than ${MAX_AIO_RINGS} AIO rings`);
  t.vmas.push({ start, end, pgoff: 0n, prot: n(v.prot), flags: MAP_PRIVATE | MAP_ANONYMOUS, file: -1, madv: 0n, addWrite: 1 });
  t.aios.push([start, b(e.nr_req), end - start]);
}

/** every aios entry names an AIORING VMA */
export function checkAioRings(t: PlanTask, mm: any, who: string): void {
  for (const e of (mm.aios as any[]) ?? []) {
    if (!t.aios.some(([a]) => a === b(e.id))) throw new RestoreError(`${who}: mm.img names an AIO ring at 0x${b(e.id).toString(16)} but no VMA of it`);
  }
}

export const isAioVma = (status: number): boolean => (status & VMA.VMA_AREA_AIORING) !== 0;
