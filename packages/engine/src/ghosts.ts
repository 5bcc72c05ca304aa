// Ghost files on restore (CRIU's create_ghost and clean_one_remap): every deleted-but-open inode of the images
// is made again before the helper runs, at the path the plan gives it (kinds/reg.ts: <path>.cr.<id>.ghost, a
// directory at its own path) or the next free name; the helper opens it and takes its name away
// (native/restore/kinds/reg.c); what is still there when the restore ends (a failure before that) is removed
// here, if it is still ours.
import {
  chmodSync, chownSync, closeSync, constants as C, existsSync, fchmodSync, fchownSync, fstatSync, ftruncateSync,
  futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, openSync, rmdirSync,
  symlinkSync, unlinkSync, utimesSync, writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { DumpError } from './log.js';
import { native } from './native.js';
import type { Ghost, Plan } from './restore/types.js';

const S_IFREG = 0o100000, S_IFDIR = 0o040000, S_IFLNK = 0o120000;

/** a name a restore made: removed after it if it still names the same inode */
export interface Made { path: string; ino: number; dir: boolean }

/**
 * Every ghost of the plan, what was made going into made (in the order to remove it, a failure or not).
 * A ghost file whose name was taken (another restore of the same dump at once, or one that failed and left
 * it) gets the next free one, and the plan's objects open it there.
 */
export function makeGhosts(plan: Plan, made: Made[]): void {
  for (const g of plan.ghosts) {
    if (g.type === S_IFDIR) {
      made.push(...makeGhostDir(g));
      continue;
    }
    const m = makeGhostNode(g);
    made.push(m);
    if (m.path !== g.path) retarget(plan, g.path, m.path);
  }
}

/** the objects that name the ghost at from: at to */
function retarget(plan: Plan, from: string, to: string): void {
  for (const o of plan.objs) {
    if (o.path === from) o.path = to;
    for (const w of o.watches ?? []) if (w.path === from) w.path = to;
  }
}

/** CRIU's ghost name, <path>.cr.<id>.ghost, then <path>.cr.<id>.<k>.ghost while taken */
const GHOST_NAME_TRIES = 100;
const ghostName = (path: string, k: number) => (k === 0 ? path : path.replace(/\.ghost$/, `.${k}.ghost`));

/** Removes what a restore made and nobody else took since: the same inode at the same name. */
export function removeGhosts(made: Made[]): void {
  for (const m of made) {
    try {
      if (lstatSync(m.path).ino !== m.ino) continue;
      if (m.dir) rmdirSync(m.path);
      else unlinkSync(m.path);
    } catch { /* gone, or a directory someone put something in */ }
  }
}

const seconds = (t: [bigint, bigint]) => Number(t[0]) + Number(t[1]) / 1e6;

/**
 * A ghost file as CRIU's create_ghost_dentry makes it (a regular file's data, chunks at their offsets, and
 * size; a FIFO or device node; a symlink; then owner, mode and times), made where nobody else can reach it: in
 * a private directory (0700, next to its path: the same filesystem), created exclusively and without
 * following links, given its owner and mode (setuid bits included) only once complete, and only then linked
 * to its path (or the next free name, never over one that exists) for the helper to open. The private
 * directory is gone when this returns, whatever happened.
 */
function makeGhostNode(g: Ghost): Made {
  const fail = (e: unknown) => new DumpError(`cannot create ghost file ${g.path}: ${(e as Error).message}`);
  // the image's size and offsets: exact as numbers, every chunk inside the file
  const size = Number(g.size);
  if (!Number.isSafeInteger(size) || size < 0) throw fail(new Error(`the image gives it size ${g.size}`));
  const out = g.chunks.find((c) => c.off < 0n || c.off + BigInt(c.data.length) > g.size);
  if (out) throw fail(new Error(`the image puts data at offset ${out.off}, beyond its size ${g.size}`));
  let priv: string;
  try {
    priv = mkdtempSync(join(dirname(g.path), '.ckpt-ghost-'));
  } catch (e) {
    throw fail(e);
  }
  let dir: number | undefined, fd: number | undefined;
  try {
    // everything inside goes through our fd of the directory: renaming it or its parent changes nothing
    dir = openSync(priv, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
    const tmp = `/proc/self/fd/${dir}/ghost`;
    let ino: number;
    if (g.type === S_IFREG) {
      fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      for (const c of g.chunks) {
        let off = 0;
        while (off < c.data.length) off += writeSync(fd, c.data, off, c.data.length - off, Number(c.off) + off);
      }
      ftruncateSync(fd, size);
      fchownSync(fd, g.uid, g.gid);
      fchmodSync(fd, g.mode);
      if (g.atime && g.mtime) futimesSync(fd, seconds(g.atime), seconds(g.mtime));
      ino = fstatSync(fd).ino;
    } else if (g.type === S_IFLNK) {
      symlinkSync(g.target!, tmp);
      lchownSync(tmp, g.uid, g.gid);
      if (g.atime && g.mtime) lutimesSync(tmp, seconds(g.atime), seconds(g.mtime));
      ino = lstatSync(tmp).ino;
    } else {
      // a FIFO or a device node: never opened here (a FIFO would block, a device would act)
      const r = native().mknod(tmp, g.type | 0o600, g.rdev ?? 0);
      if (r < 0) throw new Error(`mknod: errno ${-r}`);
      chownSync(tmp, g.uid, g.gid);
      chmodSync(tmp, g.mode);
      if (g.atime && g.mtime) utimesSync(tmp, seconds(g.atime), seconds(g.mtime));
      ino = lstatSync(tmp).ino;
    }
    // linked exclusively: a name some other restore made is left alone
    for (let k = 0; ; k++) {
      const path = ghostName(g.path, k);
      try {
        linkSync(tmp, path);
        return { path, ino, dir: false };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || k + 1 === GHOST_NAME_TRIES) throw e;
      }
    }
  } catch (e) {
    throw fail(e);
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (dir !== undefined) {
      try { unlinkSync(`/proc/self/fd/${dir}/ghost`); } catch { /* not made */ }
      closeSync(dir);
    }
    try { rmdirSync(priv); } catch { /* renamed by someone: nothing of ours is left in it */ }
  }
}

/**
 * A ghost directory, at its own path (CRIU's mkdirpat: the missing parents too, with its mode): its owner,
 * mode and times. It must not exist. Returned first, then the parents made, deepest first.
 */
function makeGhostDir(g: Ghost): Made[] {
  const missing: string[] = [];
  for (let p = dirname(g.path); p !== '/' && !existsSync(p); p = dirname(p)) missing.unshift(p);
  const made: Made[] = [];
  const mk = (p: string, mode: number) => {
    mkdirSync(p, mode);
    made.unshift({ path: p, ino: lstatSync(p).ino, dir: true });
  };
  try {
    for (const p of missing) mk(p, g.mode);
    mk(g.path, 0o700);
    chownSync(g.path, g.uid, g.gid);
    chmodSync(g.path, g.mode);
    if (g.atime && g.mtime) utimesSync(g.path, seconds(g.atime), seconds(g.mtime));
    return made;
  } catch (e) {
    removeGhosts(made);
    throw new DumpError(`cannot create ghost directory ${g.path}: ${(e as Error).message}`);
  }
}
