// inotify (CRIU's fsnotify.c): the watches from fdinfo, each with the path of its inode found through
// its file handle (open_by_handle_at on the filesystems of the task's mounts); restored by path with the
// watch descriptors as dumped. A watch on a deleted file has no path (as CRIU writes it): it is restored
// on the ghost of that inode (dev, ino), which some task of the dump holds open.
import { existsSync, lstatSync } from 'node:fs';
import { DumpError } from '../log.js';
import { RestoreError, b, n } from '../restore/read.js';
import { ghostPathByInode } from './reg.js';
import { markFields, markHandle } from './fhandle.js';
import type { Kind } from './kind.js';
import { ObjKind } from '../restore/plan-wire.js';

export const inotify: Kind = {
  type: 'INOTIFY',
  field: 'ify',
  detect: ({ link }) => link === 'anon_inode:inotify',
  dump(files, { id, flags, fown, info, pid, what }) {
    files.entries.push({ type: 'INOTIFY', id, ify: { id, flags, fown, wd: inotifyWatches(info.lines, pid, what) } });
  },
  plan(objs, f, _fileId, what) {
    const watches = ((f.ify.wd as any[]) ?? []).map((w) => {
      // a deleted file's ghost first (CRIU's lookup_ghost_remap), made before the helper and still there
      // when the inotify is created (its name goes once every object is open)
      const ghost = ghostPathByInode(objs, n(w.s_dev), b(w.i_ino), what);
      const path = ghost ?? w.f_handle?.path as string | undefined;
      if (!path) throw new RestoreError(`${what}: inotify watch ${w.wd} on inode ${w.i_ino} has no path in the images and no open file of the dump is that inode (handles alone are not supported)`);
      if (!ghost && !existsSync(path)) throw new RestoreError(`${what}: inotify watch ${w.wd}: ${path} is missing`);
      return { wd: n(w.wd), mask: n(w.mask), path };
    }).sort((x, y) => x.wd - y.wd);
    return { kind: ObjKind.INOTIFY, label: `${what} (inotify)`, flags: n(f.ify.flags), watches };
  },
};

// "inotify wd:%x ino:%lx sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x f_handle:%02x..."
function inotifyWatches(lines: string[], pid: number, what: string): any[] {
  const out: any[] = [];
  for (const l of lines) {
    if (!l.startsWith('inotify ')) continue;
    const kv = markFields(l.slice(8));
    const sdev = parseInt(kv.sdev, 16);
    const ino = BigInt('0x' + kv.ino);
    const { fh, path } = markHandle(pid, kv, sdev);
    if (path === null) throw new DumpError(`Can't dump ${what}: can't find a path for the inotify watch on inode ${ino}`);
    // a path that is no longer the inode's (a deleted file: "... (deleted)") is left out, as CRIU does
    if (sameInode(path, ino)) fh.path = path;
    out.push({
      id: 0, i_ino: ino, mask: parseInt(kv.mask, 16), ignored_mask: parseInt(kv.ignored_mask ?? '0', 16),
      s_dev: sdev, wd: parseInt(kv.wd, 16), f_handle: fh,
    });
  }
  return out;
}

function sameInode(path: string, ino: bigint): boolean {
  try { return lstatSync(path, { bigint: true }).ino === ino; } catch { return false; }
}
