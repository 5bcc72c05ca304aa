// memfd and shared anonymous memory (CRIU's memfd.c and shmem.c; CRIU 4.2 dumps both as memfd inodes):
// a MEMFD entry per open file description, the inode once in memfd.img (name, size, seals, owner, mode)
// and its present pages in pagemap-shmem-INO.img + pages-N.img. On restore one memfd per inode, shared by
// every fd and mapping of it; shared anonymous memory stays "/dev/zero" (a mapping of the helper's), and an
// fd of it (reopened through /proc/PID/map_files) is a MEMFD entry of its inode, as CRIU dumps it.
import { closeSync, constants, existsSync, openSync, readSync, statfsSync, statSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { imageFileName, PE } from '@ckpt/images';
import { native } from '../native.js';
import { DumpError } from '../log.js';
import { writeImage } from '../images-out.js';
import type { Files } from '../files.js';
import type { FileObjects } from '../restore/objects.js';
import { b, hasImage, load, n, PAGE, RestoreError } from '../restore/read.js';
import type { Memfd } from '../restore/types.js';
import { FOWN_NONE, PerRun, SEEK_DATA, SEEK_HOLE, stripDeleted } from './common.js';
import type { Kind } from './kind.js';
import { ObjKind } from '../restore/plan-wire.js';

const F_GET_SEALS = 1034;
const HUGETLBFS_MAGIC = 0x958458f6, MFD_HUGETLB = 4;

/** memfd_create's flags for a file on hugetlbfs (MFD_HUGETLB and the page size, log2 at bit 26), else 0 */
function hugetlbFlag(path: string): number {
  const fs = statfsSync(path);
  return fs.type === HUGETLBFS_MAGIC ? MFD_HUGETLB | (Math.log2(fs.bsize) << 26) : 0;
}

export const memfd: Kind = {
  type: 'MEMFD',
  field: 'memfd',
  // as CRIU's is_memfd: any file of the shmem mount, so shared anonymous memory reopened through
  // /proc/PID/map_files ("/dev/zero (deleted)") is that memory, not a deleted file to make again
  detect: ({ link, st, procFd }) => st.isFile() && (link.startsWith('/memfd:') || isShmem(st) || isAnonHugepage(link, procFd)),
  dump(files, { id, link, flags, fown, info, procFd, st, what }) {
    const name = memfdName(link);
    // SysV shared memory ("/SYSV%08x") or a driver's object: the restore would make a memfd of it
    if (!link.startsWith('/memfd:') && !isAnonName(name)) throw new DumpError(`Can't dump ${what}: shmem file ${name} is neither a memfd nor shared anonymous memory`);
    const inode_id = memfdInode(files, name, procFd, st);
    files.entries.push({ type: 'MEMFD', id, memfd: { id, flags, pos: info.pos, fown, inode_id } });
  },
  collect(objs) {
    restoreState.of(objs);
  },
  plan(objs, f, _fileId, what) {
    const m = f.memfd;
    return { kind: ObjKind.MEMFD, label: `${what} (memfd)`, flags: n(m.flags), pos: b(m.pos), nums: [BigInt(memfdFor(objs, n(m.inode_id), what))] };
  },
  // criu's memfd_d_name: "/memfd:" and the inode's name
  inheritKeys: (f, objs) => {
    const e = restoreState.of(objs).inodes.get(n(f.memfd.inode_id));
    return e ? [`/memfd:${e.name ?? ''}`] : [];
  },
};

let shmemDev: number | undefined;
/** Whether st is a file of the kernel's internal shmem mount (memfds, shared anonymous memory, SysV shm). */
export function isShmem(st: Stats): boolean {
  if (shmemDev === undefined) {
    const d = native().shmemDev();
    if (d < 0) throw new DumpError(`Can't find the shmem device (a shared anonymous mapping of our own): errno ${-d}`);
    shmemDev = d;
  }
  return st.dev === shmemDev;
}

/** The name of shared anonymous memory: "/dev/zero", on hugetlbfs "/anon_hugepage". */
const isAnonName = (name: string) => name === '/dev/zero' || name === '/anon_hugepage';

/** shared anonymous hugetlb memory reopened through map_files */
const isAnonHugepage = (link: string, procFd: string) => stripDeleted(link) === '/anon_hugepage' && hugetlbFlag(procFd) !== 0;

/** "/memfd:NAME (deleted)" -> NAME; the shared-anonymous "/dev/zero (deleted)" -> "/dev/zero" (on hugetlbfs "/anon_hugepage"). */
export function memfdName(link: string): string {
  const s = stripDeleted(link);
  return s.startsWith('/memfd:') ? s.slice(7) : s;
}

interface DumpState {
  /** dev:ino -> inode_id */
  inodes: Map<string, number>;
  /** dev:ino -> file id of the VMA memfd entry */
  mappings: Map<string, number>;
}
const dumpState = new PerRun<Files, DumpState>(() => ({ inodes: new Map(), mappings: new Map() }));

/**
 * A memfd or shared anonymous mapping (CRIU 4.2 dumps both as memfd inodes): one MEMFD file entry per
 * inode (flags 0, pos 0), the inode in memfd.img and its pages in pagemap-shmem-INO.img.
 */
export function memfdMapping(files: Files, name: string, statPath: string): number {
  const mappings = dumpState.of(files).mappings;
  const st = statSync(statPath);
  const key = `${st.dev}:${st.ino}`;
  const known = mappings.get(key);
  if (known !== undefined) return known;
  const id = files.newId();
  mappings.set(key, id);
  const inode_id = memfdInode(files, name, statPath, st);
  files.entries.push({ type: 'MEMFD', id, memfd: { id, flags: 0, pos: 0n, fown: FOWN_NONE, inode_id } });
  return id;
}

function memfdInode(files: Files, name: string, path: string, st: Stats): number {
  const inodes = dumpState.of(files).inodes;
  const key = `${st.dev}:${st.ino}`;
  const known = inodes.get(key);
  if (known !== undefined) return known;
  const inode_id = inodes.size + 1;
  inodes.set(key, inode_id);
  const fd = openSync(path, constants.O_RDONLY);
  try {
    const seals = native().fcntl(fd, F_GET_SEALS);
    if (seals < 0) throw new DumpError(`Can't read the seals of memfd ${name}: errno ${-seals}`);
    dumpShmemPages(files, fd, st.ino, st.size);
    const hugetlb = hugetlbFlag(path);
    files.memfdInodes.push({
      name, uid: st.uid, gid: st.gid, size: BigInt(st.size), shmid: st.ino, seals, inode_id: BigInt(inode_id), mode: st.mode,
      ...(hugetlb ? { hugetlb_flag: hugetlb } : {}),
    });
  } finally {
    closeSync(fd);
  }
  return inode_id;
}

/** Present pages of a shmem file (SEEK_DATA/SEEK_HOLE) into pagemap-shmem-INO.img + pages-N.img. */
function dumpShmemPages(files: Files, fd: number, ino: number, size: number): void {
  if (!files.out) throw new DumpError('shared memory needs an images dir');
  const nat = native();
  const runs: [number, number][] = [];
  let off = 0;
  while (off < size) {
    const d = nat.lseek(fd, off, SEEK_DATA);
    if (typeof d === 'number') break; // ENXIO: no more data
    const h = nat.lseek(fd, d, SEEK_HOLE);
    const start = Number(d) & ~4095;
    const end = Math.min(typeof h === 'number' ? size : Number(h), size);
    const endPage = (end + 4095) & ~4095;
    if (endPage > start) runs.push([start, (endPage - start) / 4096]);
    off = endPage;
  }
  const pagesId = files.out.nextPagesId();
  const out = openSync(join(files.out.dir, imageFileName('pages', pagesId)), 'w');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (const [start, nr] of runs) {
      let pos = start;
      const stop = start + nr * 4096;
      while (pos < stop) {
        const len = Math.min(buf.length, stop - pos);
        buf.fill(0, 0, len);
        let got = 0;
        while (got < len) {
          const r = readSync(fd, buf, got, len - got, pos + got);
          if (r <= 0) break;
          got += r;
        }
        writeSync(out, buf, 0, len);
        pos += len;
      }
      files.shmemPagesWritten += nr;
    }
  } finally {
    closeSync(out);
  }
  files.shmemPagesScanned += Math.ceil(size / 4096);
  writeImage(files.out.dir, 'pagemap-shmem', ino, {
    magic: 'PAGEMAP', entries: [{ pages_id: pagesId }, ...runs.map(([v, nr]) => ({ vaddr: BigInt(v), compat_nr_pages: 0, flags: 4, nr_pages: nr }))],
  });
}

interface RestoreState {
  /** memfd.img by inode_id */
  inodes: Map<number, any>;
  /** "iINODE" (a memfd) or "sSHMID" (shared anonymous memory) -> index in plan.memfds */
  idx: Map<string, number>;
}
const restoreState = new PerRun<FileObjects, RestoreState>((objs) => {
  const inodes = new Map<number, any>();
  if (hasImage(objs.opts.dir, 'memfd')) for (const e of load(objs.opts.dir, 'memfd', 'memfds').entries) inodes.set(n(e.inode_id), e);
  return { inodes, idx: new Map() };
});

/** The memfd object of a memfd inode (made on first use), its index in plan.memfds. */
export function memfdFor(objs: FileObjects, inodeId: number, what: string): number {
  const s = restoreState.of(objs);
  const key = `i${inodeId}`;
  const have = s.idx.get(key);
  if (have !== undefined) return have;
  const e = s.inodes.get(inodeId);
  if (!e) throw new RestoreError(`${what}: memfd inode ${inodeId} is not in ${imageFileName('memfd')}`);
  const name = String(e.name ?? '');
  const hugetlb = n(e.hugetlb_flag);
  // shared anonymous memory is a mapping's file ("/dev/zero", or "/anon_hugepage" on hugetlbfs), not a memfd
  const anon = name === '/dev/zero' || (hugetlb !== 0 && isAnonName(name));
  const memfds = objs.plan.memfds;
  memfds.push({ label: `${what} (${anon ? 'shared anonymous memory' : `memfd ${name}`})`, name, anon, size: b(e.size), seals: n(e.seals), mode: n(e.mode, 0o100777) & 0o7777,
    uid: n(e.uid), gid: n(e.gid), ...shmemRuns(objs, n(e.shmid), what), hugetlb });
  s.idx.set(key, memfds.length - 1);
  return memfds.length - 1;
}

/** The object of shared anonymous memory shmid, at least size bytes, its index in plan.memfds. */
export function anonShmFor(objs: FileObjects, shmid: number, size: bigint, what: string): number {
  const s = restoreState.of(objs);
  const memfds = objs.plan.memfds;
  const key = `s${shmid}`;
  const have = s.idx.get(key);
  if (have !== undefined) {
    if (memfds[have].size < size) memfds[have].size = size;
    return have;
  }
  memfds.push({ label: `${what} (shared anonymous memory ${shmid})`, name: '/dev/zero', anon: true, size, seals: 0, mode: 0o777, uid: 0, gid: 0, ...shmemRuns(objs, shmid, what) });
  s.idx.set(key, memfds.length - 1);
  return memfds.length - 1;
}

/** contents of a memfd or shared anonymous memory: pagemap-shmem-SHMID.img */
function shmemRuns(objs: FileObjects, shmid: number, what: string): { pages: string; runs: Memfd['runs'] } {
  const dir = objs.opts.dir;
  const name = imageFileName('pagemap-shmem', shmid);
  if (!existsSync(join(dir, name))) return { pages: '', runs: [] };
  const es = load(dir, 'pagemap-shmem', shmid, what).entries;
  const pagesName = imageFileName('pages', n(es[0]?.pages_id));
  const pages = join(dir, pagesName);
  if (!existsSync(pages)) throw new RestoreError(`${what}: missing image ${pagesName}`);
  const size = BigInt(statSync(pages).size);
  let fileOff = 0n;
  const runs: Memfd['runs'] = [];
  for (const e of es.slice(1)) {
    const len = b(e.nr_pages) * PAGE;
    if (n(e.flags) & PE.PARENT) throw new RestoreError(`${what}: incremental dumps are not supported`);
    if (!(n(e.flags) & PE.PRESENT)) continue;
    runs.push({ off: b(e.vaddr), len, fileOff });
    fileOff += len;
  }
  if (fileOff > size) throw new RestoreError(`${what}: ${pagesName} is ${size} bytes, ${name} needs ${fileOff} (truncated pages image)`);
  return { pages, runs };
}
