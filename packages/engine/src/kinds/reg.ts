// Regular files, directories, /dev/null and /dev/zero (CRIU's files-reg.c): a REG entry with path, flags,
// position, size and mode (build-id for executables and mapped files). A deleted-but-open file is a
// ghost: its contents go to ghost-file-ID.img (chunked by SEEK_DATA/SEEK_HOLE from 12 KiB) and
// remap-fpath.img maps the file id to it; on restore it is recreated at <path>.cr.<id>.ghost before the
// helper runs, and unlinked by the helper once open.
import { closeSync, constants, lstatSync, openSync, readSync, statSync, type BigIntStats, type Stats } from 'node:fs';
import { imageFileName } from '@ckpt/images';
import { native } from '../native.js';
import { buildId, taskFileBuildId } from '../elf.js';
import { DumpError } from '../log.js';
import { writeImage } from '../images-out.js';
import type { Files } from '../files.js';
import type { FileObjects } from '../restore/objects.js';
import { b, hasImage, load, n, RestoreError } from '../restore/read.js';
import type { Ghost } from '../restore/types.js';
import { FOWN_NONE, kdev, major, makedev, minor, O_ACCMODE, O_APPEND, O_WRONLY, PerRun, SEEK_DATA, SEEK_HOLE, stripDeleted } from './common.js';
import type { Kind } from './kind.js';
import { externalName, externalPath } from './external.js';
import { ObjFlag, ObjKind } from '../restore/plan-wire.js';

/** CRIU's default --ghost-limit: deleted files larger than this (on disk) are refused. */
const GHOST_LIMIT = 1 << 20;
const O_PATH = 0o10000000, S_IFMT = 0o170000, S_IFLNK = 0o120000;
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
    if (d.st.isSymbolicLink() && d.st.nlink === 0) throw new DumpError(`Can't dump ${d.what}: a deleted symlink is not supported`);
    const r = regEntry(d.id, stripDeleted(d.link), d.flags, d.info.pos, d.st);
    if (d.st.isFile()) {
      const bid = taskFileBuildId(d.pid, d.fd, d.flags);
      if (bid) r.build_id = bid;
    }
    r.fown = d.fown;
    files.entries.push({ type: 'REG', id: d.id, reg: r });
    if (d.st.isFile() && d.st.nlink === 0) dumpGhost(files, d.id, d.procFd, d.what);
  },
  collect(objs) {
    restoreState.of(objs);
  },
  plan(objs, f, fileId, what) {
    const r = f.reg;
    const remapId = restoreState.of(objs).ghostOf.get(fileId);
    if (remapId !== undefined) {
      const path = ghostFile(objs, r, remapId, what);
      return { kind: ObjKind.REG, label: `${what} (deleted file ${r.name})`, path, flags: (n(r.flags) | ObjFlag.GHOST) >>> 0, pos: b(r.pos) };
    }
    if (r.ext) return { kind: ObjKind.REG, label: `${what} (${r.name})`, path: externalPath(objs, r.name, what), flags: n(r.flags), pos: b(r.pos) };
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
 * files are deduplicated by (dev, ino); dirs and devices always get a new id.
 */
export function specialFile(files: Files, name: string, statPath: string): number {
  const special = dumpState.of(files).special;
  const st = statSync(statPath);
  const isRegular = st.isFile();
  const key = `${st.dev}:${st.ino}`;
  if (isRegular && special.has(key)) return special.get(key)!;
  const id = files.newId();
  if (isRegular) special.set(key, id);
  files.entries.push({ type: 'REG', id, reg: regEntry(id, name, 0, 0n, st, isRegular ? statPath : undefined) });
  if (isRegular && st.nlink === 0) dumpGhost(files, id, statPath, `mapped file ${name}`);
  return id;
}

/**
 * A deleted-but-open file: its contents go to ghost-file-ID.img (once per inode), and
 * remap-fpath.img maps the file id to it (CRIU's GHOST remap).
 */
function dumpGhost(files: Files, id: number, path: string, what: string): void {
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
  const S_IFREG = 0o100000, S_IFCHR = 0o020000, S_IFBLK = 0o060000;
  if ((mode & S_IFMT) === S_IFCHR || (mode & S_IFMT) === S_IFBLK) head.rdev = Number(st.rdev);
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

interface RestoreState {
  /** remap-fpath: file id -> ghost file id */
  ghostOf: Map<number, number>;
  /** ghost id -> the path it is recreated at */
  ghostPath: Map<number, string>;
}
const restoreState = new PerRun<FileObjects, RestoreState>((objs) => {
  const s: RestoreState = { ghostOf: new Map(), ghostPath: new Map() };
  const dir = objs.opts.dir;
  if (hasImage(dir, 'remap-fpath')) {
    for (const e of load(dir, 'remap-fpath', 'file remaps').entries) {
      const type = e.remap_type ?? 'LINKED';
      if (type !== 'GHOST' && type !== 0) throw new RestoreError(`file id ${e.orig_id}: ${type} file remaps are not supported`);
      s.ghostOf.set(n(e.orig_id), n(e.remap_id));
    }
  }
  return s;
});

/** Whether a file id is a ghost file (deleted when dumped). */
export function isGhost(objs: FileObjects, fileId: number): boolean {
  return restoreState.of(objs).ghostOf.has(fileId);
}

/** a ghost file: recreated (before the helper runs) from ghost-file-ID.img next to where it was */
function ghostFile(objs: FileObjects, r: any, remapId: number, what: string): string {
  const ghostPath = restoreState.of(objs).ghostPath;
  const have = ghostPath.get(remapId);
  if (have) return have;
  const name = imageFileName('ghost-file', remapId);
  const es = load(objs.opts.dir, 'ghost-file', remapId, `${what} (deleted file ${r.name})`).entries;
  const g = es[0];
  if (!g) throw new RestoreError(`${what}: ${name} is empty`);
  const mode = n(g.mode);
  if ((mode & 0o170000) !== 0o100000) throw new RestoreError(`${what}: ghost ${r.name} of mode 0${mode.toString(8)} is not a regular file (not supported)`);
  const chunks: Ghost['chunks'] = [];
  let size: bigint;
  if (g.chunks) {
    for (const c of es.slice(1)) chunks.push({ off: b(c.off), data: (c.extra as Buffer) ?? Buffer.alloc(0) });
    size = b(g.size);
  } else {
    const data = (g.extra as Buffer) ?? Buffer.alloc(0);
    chunks.push({ off: 0n, data });
    size = BigInt(data.length);
  }
  if (r.size !== undefined && b(r.size) !== size) throw new RestoreError(`${what}: ghost file ${name} holds ${size} bytes, the dump recorded ${r.size} for ${r.name}`);
  const path = `${r.name}.cr.${remapId.toString(16)}.ghost`;
  const tv = (t: any): [bigint, bigint] | undefined => (t ? [b(t.tv_sec), b(t.tv_usec)] : undefined);
  objs.plan.ghosts.push({ path, mode: mode & 0o7777, uid: n(g.uid), gid: n(g.gid), size, atime: tv(g.atim), mtime: tv(g.mtim), chunks });
  ghostPath.set(remapId, path);
  return path;
}
