// AIO rings (io_setup contexts). The kernel maps each ring into the task as "/[aio]" (a shared mapping of
// its aio filesystem) whose address is the context id. As CRIU does, the ring is a VMA of status
// VMA_AREA_AIORING whose pages are all dumped, plus an mm.img `aios` entry (id, nr_req, ring_len); the
// restorer io_setup()s a ring of the same size, brings its tail and head where they were, copies the
// events in and mremap()s it onto the dumped address (criu check --feature aio_remap).
import { VMA } from '@ckpt/images';
import type { MapLine } from './proc.js';
import { native } from './native.js';
import { DumpError } from './log.js';
import type { Vma } from './mm.js';

/** struct aio_ring's header (kernel fs/aio.c): id, nr, head, tail, magic, compat, incompat, header_length */
const HEADER = 32, EVENT = 32, MAGIC = 0xa10a10a1, COMPAT = 1, INCOMPAT = 0;
const MAP_SHARED = 1, O_RDWR = 2;

export function isAioRing(m: MapLine): boolean {
  return m.path.startsWith('/[aio]');
}

/** The ring's VMA, as CRIU writes it: status AIORING alone, MAP_SHARED, no file. */
export function aioVma(m: MapLine): Vma {
  const prot = (m.perms[0] === 'r' ? 1 : 0) | (m.perms[1] === 'w' ? 2 : 0) | (m.perms[2] === 'x' ? 4 : 0);
  return { start: m.start, end: m.end, pgoff: 0n, shmid: 0, prot, flags: MAP_SHARED, status: VMA.VMA_AREA_AIORING, fd: -1, fdflags: O_RDWR };
}

/**
 * mm.img `aios` entries of the task's rings. The header is checked first (a ring the task has resized or
 * scribbled on cannot be recreated), and nr_req is what io_setup() must be given for the kernel to make a
 * ring of this length again: it doubles the request, adds 2 and rounds the ring up to pages.
 */
export function aioEntries(pid: number, vmas: Vma[]): { id: bigint; nr_req: number; ring_len: number }[] {
  const out = [];
  for (const v of vmas) {
    if (!(v.status & VMA.VMA_AREA_AIORING)) continue;
    const len = Number(v.end - v.start);
    const what = `task ${pid}: AIO ring at ${v.start.toString(16)}`;
    const h = native().readMem(pid, v.start, HEADER);
    const nr = h.readUInt32LE(4), head = h.readUInt32LE(8), tail = h.readUInt32LE(12);
    const maxEvents = (len - HEADER) / EVENT;
    if (h.readUInt32LE(16) !== MAGIC || h.readUInt32LE(20) !== COMPAT || h.readUInt32LE(24) !== INCOMPAT || h.readUInt32LE(28) !== HEADER
      || nr !== Math.floor(maxEvents) || head >= nr || tail >= nr) {
      throw new DumpError(`${what}: its header is not a kernel AIO ring's (nr ${nr}, head ${head}, tail ${tail}, ${len} bytes)`);
    }
    const nrReq = Math.floor((nr - 2) / 2);
    if (nrReq < 1) throw new DumpError(`${what}: ring of ${len} bytes is too small to recreate`);
    out.push({ id: v.start, nr_req: nrReq, ring_len: len });
  }
  return out;
}
