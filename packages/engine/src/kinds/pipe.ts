// Pipes (CRIU's pipes.c): a PIPE entry per end (pipe_id = the pipe's inode), the unread data once per
// pipe in pipes-data.img (peeked, never consumed). On restore one pipe per inode, refilled before
// anyone runs; every end an object of its own.
import { closeSync, constants, openSync } from 'node:fs';
import { native } from '../native.js';
import type { Files } from '../files.js';
import type { FileObjects } from '../restore/objects.js';
import { hasImage, load, n } from '../restore/read.js';
import { O_ACCMODE, PerRun } from './common.js';
import type { Kind } from './kind.js';
import { ObjKind } from '../restore/plan-wire.js';

const F_GETPIPE_SZ = 1032;

export const pipe: Kind = {
  type: 'PIPE',
  field: 'pipe',
  detect: ({ link, st }) => st.isFIFO() && link.startsWith('pipe:'),
  dump(files, { id, flags, fown, st, procFd }) {
    const ino = st.ino;
    files.entries.push({ type: 'PIPE', id, pipe: { id, pipe_id: ino, flags, fown } });
    collectPipeData(files, procFd, ino, files.pipeData);
  },
  collect(objs) {
    restoreState.of(objs);
  },
  plan(objs, f, _fileId, what) {
    const p = f.pipe;
    const s = restoreState.of(objs);
    const ino = n(p.pipe_id);
    let no = s.pipeNo.get(ino);
    if (no === undefined) {
      no = objs.plan.pipes.length;
      const d = s.data.get(ino);
      objs.plan.pipes.push({ size: d?.size ?? 0, data: d?.data ?? Buffer.alloc(0) });
      s.pipeNo.set(ino, no);
    }
    return { kind: ObjKind.PIPE, label: `${what} (pipe:[${ino}])`, flags: n(p.flags) & ~O_ACCMODE, pipeNo: no, end: n(p.flags) & O_ACCMODE ? 1 : 0 };
  },
  inheritKeys: (f) => [`pipe:[${f.pipe.pipe_id}]`],
};

/** pipe inodes whose data is taken (pipes and FIFOs) */
const dataSeen = new PerRun<Files, Set<number>>(() => new Set());

/** The data queued in the pipe (or FIFO) behind procFd, once per inode, into pipes-data or fifo-data. */
export function collectPipeData(files: Files, procFd: string, ino: number, into: any[]): void {
  const seen = dataSeen.of(files);
  if (seen.has(ino)) return;
  seen.add(ino);
  const fd = openSync(procFd, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const data = native().pipePeek(fd);
    const size = native().fcntl(fd, F_GETPIPE_SZ);
    into.push({ pipe_id: ino, bytes: data.length, size, extra: data });
  } finally {
    closeSync(fd);
  }
}

/** pipes-data or fifo-data by pipe inode */
export function loadPipeData(dir: string, stem: string, what: string): Map<number, { size: number; data: Buffer }> {
  const m = new Map<number, { size: number; data: Buffer }>();
  if (hasImage(dir, stem)) {
    for (const e of load(dir, stem, what).entries) m.set(n(e.pipe_id), { size: n(e.size), data: (e.extra as Buffer) ?? Buffer.alloc(0) });
  }
  return m;
}

const restoreState = new PerRun<FileObjects, { data: Map<number, { size: number; data: Buffer }>; pipeNo: Map<number, number> }>((objs) => ({
  data: loadPipeData(objs.opts.dir, 'pipes-data', 'pipes data'),
  pipeNo: new Map(),
}));
