// Regular files, directories, /dev/null and /dev/zero (CRIU's files-reg.c): a REG entry with path, flags,
// position, size and mode (build-id for executables and mapped files). A deleted-but-open file is a
// ghost: its inode (contents of a regular file, chunked by SEEK_DATA/SEEK_HOLE from 12 KiB; a device's
// number; a symlink's target) goes to ghost-file-ID.img and remap-fpath.img maps the file id to it; on
// restore it is recreated before the helper runs (src/ghosts.ts) at <path>.cr.<id>.ghost (a directory at
// its own path, as CRIU), and its name goes once the helper has it open (a directory's once every task
// has its cwd and root).
import { closeSync, constants, existsSync, lstatSync, openSync, readSync, statfsSync, statSync, type BigIntStats, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { imageFileName } from '@ckpt/images';
import { native } from '../native.js';
import { buildId, taskFileBuildId } from '../elf.js';
import { DumpError } from '../log.js';
import { writeImage } from '../images-out.js';
import type { Files } from '../files.js';
import type { FileObjects } from '../restore/objects.js';
import { b, hasImage, load, n, RestoreError } from '../restore/read.js';
import type { Ghost, Obj } from '../restore/types.js';
import { FOWN_NONE, kdev, major, makedev, minor, O_ACCMODE, O_APPEND, O_WRONLY, PerRun, SEEK_DATA, SEEK_HOLE, stripDeleted } from './common.js';
import type { Kind } from './kind.js';
import { dumpProcPath, procObj } from './procfs.js';
import { externalName, externalPath } from './external.js';
import { ObjFlag, ObjKind } from '../restore/plan-wire.js';

/** CRIU's default --ghost-limit: deleted files larger than this (on disk) are refused. */
const GHOST_LIMIT = 1 << 20;
const O_PATH = 0o10000000, S_IFMT = 0o170000, S_IFLNK = 0o120000, S_IFREG = 0o100000, S_IFDIR = 0o040000, S_IFIFO = 0o010000, S_IFCHR = 0o020000, S_IFBLK = 0o060000;
/** Ghost files of at least this size are written in chunks (SEEK_DATA/SEEK_HOLE), as CRIU does. */
const GHOST_CHUNKS_THRESH = 3 * 4096;

export const reg: Kind = {
  type: 'REG',
  field: 'reg',
  detect({ link, st, info }) {
    if (!link.startsWith('/')) return false;
    if (st.isFile() || st.isDirectory()) return true;
    if (st.isSymbolicLink() && info.flags & O_PATH) return true; // the link itself (O_PATH | O_NOFOLLOW)
    return st.isCharacterDevice() && (st.rdev === makedev(1, 3) || st.rdev === makedev(1, 5)); // /dev/null, /dev/zero
  },
  dump(files, d) {
    const ext = externalName(files, d);
    if (ext) { // the caller hands it back on restore (--inherit-fd): neither its path nor its contents matter
      files.entries.push({ type: 'REG', id: d.id, reg: { ...regEntry(d.id, ext, d.flags, d.info.pos, d.st), fown: d.fown, ext: true } });
      return;
    }
    const r = regEntry(d.id, dumpProcPath(files, d.id, d.link, d.st) ?? stripDeleted(d.link), d.flags, d.info.pos, d.st);
    if (d.st.isFile()) {
      const bid = taskFileBuildId(d.pid, d.fd, d.flags);
      if (bid) r.build_id = bid;
    }
    r.fown = d.fown;
    files.entries.push({ type: 'REG', id: d.id, reg: r });
    // procfs and devpts files are the kernel's to make: never a ghost or a link remap (as CRIU's check_path_remap)
    if (onKernelFs(d.procFd)) return;
    if (d.st.nlink === 0) dumpGhost(files, d.id, d.procFd, d.what);
    else if (d.link.endsWith(' (deleted)') && !d.st.isDirectory() && !sameInode(d.link, d.st)) dumpLinkRemap(files, d.id, d.procFd, r.name, d.what);
  },
  collect(objs) {
    restoreState.of(objs);
  },
  plan(objs, f, fileId, what) {
    const r = f.reg;
    const linked = linkRemapOf(objs, fileId, r, what);
    if (linked) return linked;
    const ghost = ghostPath(objs, fileId, what);
    if (ghost !== undefined) {
      return { kind: ObjKind.REG, label: `${what} (deleted file ${r.name})`, path: ghost, flags: (n(r.flags) | ObjFlag.GHOST) >>> 0, pos: b(r.pos) };
    }
    if (r.ext) return { kind: ObjKind.REG, label: `${what} (${r.name})`, path: externalPath(objs, r.name, what), flags: n(r.flags), pos: b(r.pos) };
    const proc = procObj(objs, r, what);
    if (proc) return proc;
    const path = r.name as string;
    let st;
    try {
      st = (n(r.mode) & S_IFMT) === S_IFLNK ? lstatSync(path) : statSync(path);
    } catch (e) {
      throw new RestoreError(`${what}: file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message}`);
    }
    if (r.size !== undefined && BigInt(st.size) !== b(r.size)) {
      throw new RestoreError(`${what}: file ${path} has size ${st.size}, the dump recorded ${r.size}`);
    }
    return { kind: ObjKind.REG, label: `${what} (${path})`, path, flags: n(r.flags), pos: b(r.pos) };
  },
  inheritKeys: (f) => (f.reg.ext ? [] : [f.reg.name]), // an external file is reopened through its fd (plan)
};

/** The reg_entry of a file: size unless O_WRONLY|O_APPEND (as CRIU), mode, build-id of an ELF file at elfPath. */
export function regEntry(id: number, name: string, flags: number, pos: bigint, st: Stats, elfPath?: string): any {
  const r: any = { id, flags, pos, fown: FOWN_NONE, name };
  const wronlyAppend = (flags & O_ACCMODE) === O_WRONLY && (flags & O_APPEND) !== 0;
  if (st.isFile() && !wronlyAppend) r.size = BigInt(st.size);
  r.mode = st.mode;
  if (elfPath && st.isFile()) {
    const bid = buildId(elfPath);
    if (bid) r.build_id = bid;
  }
  return r;
}

interface DumpState {
  /** dev:ino -> file id of exe and mapped regular files */
  special: Map<string, number>;
  /** dev:ino -> ghost id */
  ghosts: Map<string, number>;
  nextGhost: number;
}
const dumpState = new PerRun<Files, DumpState>(() => ({ special: new Map(), ghosts: new Map(), nextGhost: 1 }));

/**
 * exe, mapped files, cwd, root: statPath is a /proc link to the object (map_files, exe, cwd). Regular
 * files are deduplicated by (dev, ino); dirs and devices always get a new id. A deleted one is a ghost.
 */
export function specialFile(files: Files, name: string, statPath: string): number {
  const special = dumpState.of(files).special;
  const st = statSync(statPath);
  if (st.nlink === 0) name = stripDeleted(name);
  const isRegular = st.isFile();
  const key = `${st.dev}:${st.ino}`;
  if (isRegular && special.has(key)) return special.get(key)!;
  const id = files.newId();
  if (isRegular) special.set(key, id);
  name = dumpProcPath(files, id, name, st) ?? name;
  files.entries.push({ type: 'REG', id, reg: regEntry(id, name, 0, 0n, st, isRegular ? statPath : undefined) });
  if (st.nlink === 0) dumpGhost(files, id, statPath, `${isRegular ? 'mapped file' : 'directory'} ${name}`);
  return id;
}

/**
 * A deleted-but-open file (regular, directory, FIFO, device, symlink): its inode goes to ghost-file-ID.img
 * (once per inode), and remap-fpath.img maps the file id to it (CRIU's GHOST remap).
 */
export function dumpGhost(files: Files, id: number, path: string, what: string): void {
  if (!files.out) throw new DumpError(`Can't dump ${what}: ghost files need an images dir`);
  const st = statSync(path, { bigint: true });
  const onDisk = Number(st.blocks) * 512;
  const limit = files.out.ghostLimit ?? GHOST_LIMIT;
  if (onDisk > limit) {
    throw new DumpError(`Can't dump ${what}: deleted file with ${onDisk} bytes on disk is over the ghost file limit (${limit}; raise it with --ghost-limit)`);
  }
  const s = dumpState.of(files);
  const key = `${st.dev}:${st.ino}`;
  let gid = s.ghosts.get(key);
  if (gid === undefined) {
    gid = s.nextGhost++;
    s.ghosts.set(key, gid);
    writeGhost(files.out.dir, gid, path, st);
  }
  files.remaps.push({ orig_id: id, remap_id: gid, remap_type: 'GHOST' });
}

function writeGhost(dir: string, gid: number, path: string, st: BigIntStats): void {
  const dev = Number(st.dev);
  const mode = Number(st.mode);
  const size = Number(st.size);
  const head: any = {
    uid: Number(st.uid), gid: Number(st.gid), mode,
    dev: kdev(major(dev), minor(dev)), ino: st.ino,
    atim: { tv_sec: st.atimeNs / 1000000000n, tv_usec: (st.atimeNs % 1000000000n) / 1000n },
    mtim: { tv_sec: st.mtimeNs / 1000000000n, tv_usec: (st.mtimeNs % 1000000000n) / 1000n },
  };
  if ((mode & S_IFMT) === S_IFCHR || (mode & S_IFMT) === S_IFBLK) head.rdev = Number(st.rdev);
  if ((mode & S_IFMT) === S_IFLNK) {
    const target = native().symlinkTarget(path);
    if (target === null || Buffer.byteLength(target) !== size) throw new DumpError(`Can't read the target of the deleted symlink ${path}`);
    head.symlnk_target = target;
  }
  const entries: any[] = [head];
  if ((mode & S_IFMT) === S_IFREG) {
    const fd = openSync(path, constants.O_RDONLY);
    try {
      const read = (off: number, len: number) => {
        const buf = Buffer.alloc(len);
        let got = 0;
        while (got < len) {
          const r = readSync(fd, buf, got, len - got, off + got);
          if (r <= 0) break;
          got += r;
        }
        return buf.subarray(0, got);
      };
      if (size >= GHOST_CHUNKS_THRESH) {
        head.chunks = true;
        head.size = BigInt(size);
        const nat = native();
        let hole = 0;
        while (hole < size) {
          let data: number;
          const d = nat.lseek(fd, hole, SEEK_DATA);
          if (typeof d === 'number') {
            if (d === -6 /* ENXIO */) break;
            if (hole !== 0) throw new DumpError(`Can't seek data in ghost file ${path}: errno ${-d}`);
            data = 0;
            hole = size;
          } else {
            data = Number(d);
            const h = nat.lseek(fd, data, SEEK_HOLE);
            if (typeof h === 'number') throw new DumpError(`Can't seek hole in ghost file ${path}: errno ${-h}`);
            hole = Number(h);
          }
          const chunk = read(data, hole - data);
          entries.push({ len: BigInt(hole - data), off: BigInt(data), extra: chunk });
        }
      } else {
        head.extra = read(0, size);
      }
    } finally {
      closeSync(fd);
    }
  }
  writeImage(dir, 'ghost-file', gid, { magic: 'GHOST_FILE', entries });
}

const PROC_SUPER_MAGIC = 0x9fa0, DEVPTS_SUPER_MAGIC = 0x1cd1;

function onKernelFs(procFd: string): boolean {
  const type = statfsSync(procFd).type;
  return type === PROC_SUPER_MAGIC || type === DEVPTS_SUPER_MAGIC;
}

/** Whether path names the inode st (a file really named "... (deleted)") */
function sameInode(path: string, st: Stats): boolean {
  try {
    const p = lstatSync(path);
    return p.ino === st.ino && p.dev === st.dev;
  } catch {
    return false;
  }
}

/**
 * A deleted file that still has other names (CRIU's link remap, with --link-remap): a new name for it,
 * link_remap.<id> in its directory (or the nearest one that exists), a REG entry of that name and a LINKED
 * remap-fpath entry. The name stays for the restore, which removes it; a failed dump or -R removes it (dump.ts).
 */
function dumpLinkRemap(files: Files, id: number, procFd: string, name: string, what: string): void {
  if (!files.out?.linkRemap) throw new DumpError(`Can't dump ${what}: a deleted file that has other names needs --link-remap`);
  const lid = files.newId();
  for (let dir = dirname(name); ; dir = dirname(dir)) {
    const path = join(dir, `link_remap.${lid}`);
    const r = native().linkFollow(procFd, path);
    if (r === 0) {
      files.out.linkRemaps?.push(path);
      files.entries.push({ type: 'REG', id: lid, reg: { id: lid, flags: 0, pos: 0n, fown: FOWN_NONE, name: path } });
      files.remaps.push({ orig_id: id, remap_id: lid, remap_type: 'LINKED' });
      return;
    }
    if (r !== -2 /* ENOENT: no such directory (any more) */ || dir === '/') throw new DumpError(`Can't dump ${what}: cannot link it to ${path}: errno ${-r}`);
  }
}

interface RestoreState {
  /** remap-fpath: file id -> ghost file id */
  ghostOf: Map<number, number>;
  /** ghost id -> the path it is recreated at */
  ghostPath: Map<number, string>;
  /** remap-fpath LINKED: file id -> the file id of its link remap (a REG entry) */
  linkedTo: Map<number, number>;
  /** "dev:ino" (the kernel's device number) -> ghost id, read when first asked (inotify watches) */
  byInode?: Map<string, number>;
}
const REMAP_GHOST = 0x80000000;
const restoreState = new PerRun<FileObjects, RestoreState>((objs) => {
  const s: RestoreState = { ghostOf: new Map(), ghostPath: new Map(), linkedTo: new Map() };
  const dir = objs.opts.dir;
  if (hasImage(dir, 'remap-fpath')) {
    for (const e of load(dir, 'remap-fpath', 'file remaps').entries) {
      // images of old criu versions have no type: a ghost's id has bit 31 set
      const old = e.remap_type === undefined && (n(e.remap_id) & REMAP_GHOST) !== 0;
      const type = old ? 'GHOST' : e.remap_type ?? 'LINKED';
      const remapId = old ? n(e.remap_id) & ~REMAP_GHOST : n(e.remap_id);
      if (type === 'PROCFS' || type === 2) continue; // procfs.ts
      if (type === 'LINKED' || type === 0) s.linkedTo.set(n(e.orig_id), remapId);
      else if (type === 'GHOST' || type === 1) s.ghostOf.set(n(e.orig_id), remapId);
      else throw new RestoreError(`file id ${e.orig_id}: ${type} file remaps are not supported`);
    }
  }
  return s;
});

/** Whether a file id is a ghost file (deleted when dumped). */
export function isGhost(objs: FileObjects, fileId: number): boolean {
  return restoreState.of(objs).ghostOf.has(fileId);
}

/** A deleted file with other names (link remap): opened by the name the dump gave it, removed after the restore. */
function linkRemapOf(objs: FileObjects, fileId: number, r: any, what: string): Obj | undefined {
  const lid = restoreState.of(objs).linkedTo.get(fileId);
  if (lid === undefined) return undefined;
  const path = objs.file(lid)?.reg?.name as string | undefined;
  if (!path) throw new RestoreError(`${what}: the link remap of ${r.name} (file id ${lid}) is not a file of ${imageFileName('files')}`);
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    throw new RestoreError(`${what}: link remap ${path} of deleted file ${r.name}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message}`);
  }
  if (r.size !== undefined && BigInt(st.size) !== b(r.size)) throw new RestoreError(`${what}: link remap ${path} has size ${st.size}, the dump recorded ${r.size} for ${r.name}`);
  return { kind: ObjKind.REG, label: `${what} (deleted file ${r.name})`, path, flags: (n(r.flags) | ObjFlag.LINK_REMAP) >>> 0, pos: b(r.pos) };
}

/** Where the ghost of a file id (a REG entry) is made, or undefined when it was not deleted. */
export function ghostPath(objs: FileObjects, fileId: number, what: string): string | undefined {
  const remapId = restoreState.of(objs).ghostOf.get(fileId);
  if (remapId === undefined) return undefined;
  const r = objs.file(fileId)?.reg;
  if (!r) throw new RestoreError(`${what}: file id ${fileId} of ${imageFileName('remap-fpath')} is not a file of ${imageFileName('files')}`);
  return ghostFile(objs, r, remapId, what);
}

/** The path of the ghost of inode ino on the filesystem sdev (kernel encoding), if the dump has one. */
export function ghostPathByInode(objs: FileObjects, sdev: number, ino: bigint, what: string): string | undefined {
  const s = restoreState.of(objs);
  if (!s.byInode) {
    s.byInode = new Map();
    for (const gid of new Set(s.ghostOf.values())) {
      const g = load(objs.opts.dir, 'ghost-file', gid, what).entries[0];
      if (g?.dev !== undefined && g.ino !== undefined) s.byInode.set(`${n(g.dev)}:${b(g.ino)}`, gid);
    }
  }
  const gid = s.byInode.get(`${sdev}:${ino}`);
  if (gid === undefined) return undefined;
  for (const [fileId, remapId] of s.ghostOf) if (remapId === gid) return ghostPath(objs, fileId, what);
  return undefined;
}

/**
 * a ghost file: recreated (before the helper runs) from ghost-file-ID.img next to where it was: at
 * <path>.cr.<id>.ghost in the nearest directory of the path that exists (CRIU's trim_last_parent), a
 * directory at its own path (with its missing parents, as CRIU's mkdirpat)
 */
function ghostFile(objs: FileObjects, r: any, remapId: number, what: string): string {
  const ghostPath = restoreState.of(objs).ghostPath;
  const have = ghostPath.get(remapId);
  if (have) return have;
  const name = imageFileName('ghost-file', remapId);
  const es = load(objs.opts.dir, 'ghost-file', remapId, `${what} (deleted file ${r.name})`).entries;
  const g = es[0];
  if (!g) throw new RestoreError(`${what}: ${name} is empty`);
  const mode = n(g.mode);
  const type = mode & S_IFMT;
  const chunks: Ghost['chunks'] = [];
  let size = 0n;
  const ghost: Partial<Ghost> = { type };
  if (type === S_IFREG) {
    if (g.chunks) {
      for (const c of es.slice(1)) chunks.push({ off: b(c.off), data: (c.extra as Buffer) ?? Buffer.alloc(0) });
      size = b(g.size);
    } else {
      const data = (g.extra as Buffer) ?? Buffer.alloc(0);
      chunks.push({ off: 0n, data });
      size = BigInt(data.length);
    }
    if (r.size !== undefined && b(r.size) !== size) throw new RestoreError(`${what}: ghost file ${name} holds ${size} bytes, the dump recorded ${r.size} for ${r.name}`);
  } else if (type === S_IFCHR || type === S_IFBLK) {
    if (g.rdev === undefined) throw new RestoreError(`${what}: ghost device ${r.name} in ${name} has no device number`);
    ghost.rdev = n(g.rdev);
  } else if (type === S_IFLNK) {
    if (!g.symlnk_target) throw new RestoreError(`${what}: ghost symlink ${r.name} in ${name} has no target`);
    ghost.target = g.symlnk_target as string;
  } else if (type !== S_IFDIR && type !== S_IFIFO) {
    throw new RestoreError(`${what}: ghost ${r.name} of mode 0${mode.toString(8)} in ${name}: not a file kind that can be recreated`);
  }
  const path = type === S_IFDIR ? r.name as string : nearestParent(`${r.name}.cr.${remapId.toString(16)}.ghost`);
  const tv = (t: any): [bigint, bigint] | undefined => (t ? [b(t.tv_sec), b(t.tv_usec)] : undefined);
  objs.plan.ghosts.push({ ...ghost, path, type, mode: mode & 0o7777, uid: n(g.uid), gid: n(g.gid), size, atime: tv(g.atim), mtime: tv(g.mtim), chunks });
  ghostPath.set(remapId, path);
  return path;
}

/** "a/b/c/d" -> "a/b/d" while a/b/c does not exist (CRIU makes the ghost of a file of a removed directory higher up) */
function nearestParent(path: string): string {
  const base = basename(path);
  let dir = dirname(path);
  while (dir !== '/' && !existsSync(dir)) dir = dirname(dir);
  return join(dir, base);
}
