// fanotify (CRIU's fsnotify.c): the group's fanotify_init flags and its marks from fdinfo; an inode mark
// by the path of its file handle (open_by_handle_at on the filesystems of the task's mounts), a mount
// mark by the mount point of its mnt_id. Restored with fanotify_init and fanotify_mark on those paths.
// Events queued when dumped are not kept (as with CRIU).
import { existsSync, readFileSync } from 'node:fs';
import { DumpError } from '../log.js';
import { RestoreError, b, n } from '../restore/read.js';
import { ObjKind } from '../restore/plan-wire.js';
import type { Kind } from './kind.js';
import { markFields, markHandle } from './fhandle.js';

const MARK_INODE = 1, MARK_MOUNT = 2;
/** the mark flags fdinfo shows that fanotify_mark can set again: FAN_MARK_IGNORED_SURV_MODIFY, _EVICTABLE, _IGNORE */
const FAN_MARK_IGNORED_SURV_MODIFY = 0x40, FAN_MARK_EVICTABLE = 0x200, FAN_MARK_IGNORE = 0x400;

export const fanotify: Kind = {
  type: 'FANOTIFY',
  field: 'ffy',
  detect: ({ link }) => link === 'anon_inode:[fanotify]',
  dump(files, { id, flags, fown, info, pid, what }) {
    const head = info.lines.find((l) => l.startsWith('fanotify flags:'));
    const m = head && /^fanotify flags:([0-9a-f]+)\s+event-flags:([0-9a-f]+)/.exec(head);
    if (!m) throw new DumpError(`Can't dump ${what}: no "fanotify flags" line in its fdinfo`);
    const mark = fanotifyMarks(id, info.lines, pid, what);
    files.entries.push({ type: 'FANOTIFY', id, ffy: { id, flags, fown, faflags: parseInt(m[1], 16), evflags: parseInt(m[2], 16), mark } });
  },
  plan(_objs, f, _fileId, what) {
    const e = f.ffy;
    const fanMarks = ((e.mark as any[]) ?? []).map((k) => {
      const type = k.type === 'INODE' ? MARK_INODE : k.type === 'MOUNT' ? MARK_MOUNT : n(k.type); // mark_type, by name
      const path = (type === MARK_INODE ? k.ie?.f_handle?.path : type === MARK_MOUNT ? k.me?.path : undefined) as string | undefined;
      const which = type === MARK_MOUNT ? `mount mark (mnt_id ${n(k.me?.mnt_id)})` : `inode mark (inode ${b(k.ie?.i_ino)})`;
      if (type !== MARK_INODE && type !== MARK_MOUNT) throw new RestoreError(`${what}: fanotify mark of type ${k.type} is not supported`);
      if (!path) throw new RestoreError(`${what}: fanotify ${which} has no path in the images`);
      if (!existsSync(path)) throw new RestoreError(`${what}: fanotify ${which}: ${path} is missing`);
      return { type, mflags: n(k.mflags), mask: n(k.mask), ignoredMask: n(k.ignored_mask), path };
    });
    return { kind: ObjKind.FANOTIFY, label: `${what} (fanotify)`, flags: n(e.flags), nums: [BigInt(n(e.faflags)), BigInt(n(e.evflags))], fanMarks };
  },
};

// "fanotify ino:%lx sdev:%x mflags:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x f_handle:%02x..."
// "fanotify mnt_id:%x mflags:%x mask:%x ignored_mask:%x"; "fanotify sdev:%x ..." (a filesystem mark)
function fanotifyMarks(id: number, lines: string[], pid: number, what: string): any[] {
  const out: any[] = [];
  for (const l of lines) {
    if (!l.startsWith('fanotify ') || l.startsWith('fanotify flags:')) continue;
    const kv = markFields(l.slice(9));
    const mflags = parseInt(kv.mflags, 16), mask = parseInt(kv.mask, 16), ignored = parseInt(kv.ignored_mask, 16);
    if (mflags & ~(FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE | FAN_MARK_IGNORE)) {
      throw new DumpError(`Can't dump ${what}: fanotify mark flags 0x${kv.mflags} are not supported`);
    }
    if (mflags & FAN_MARK_IGNORED_SURV_MODIFY && !ignored) {
      // the flag goes with an ignore mask: without one fanotify_mark cannot set it again
      throw new DumpError(`Can't dump ${what}: a fanotify mark that survives modification has no ignore mask`);
    }
    const mark: any = { id, mflags, mask, ignored_mask: ignored, s_dev: 0 };
    if (kv.ino !== undefined) {
      const sdev = parseInt(kv.sdev, 16), ino = parseInt(kv.ino, 16);
      const { fh, path } = markHandle(pid, kv, sdev);
      if (path === null || path.endsWith(' (deleted)')) throw new DumpError(`Can't dump ${what}: can't find a path for the fanotify mark on inode ${ino}`);
      Object.assign(mark, { type: 'INODE', s_dev: sdev, ie: { i_ino: BigInt(ino), f_handle: { ...fh, path } } });
    } else if (kv.mnt_id !== undefined) {
      const mntId = parseInt(kv.mnt_id, 16);
      const mnt = mountOf(pid, mntId);
      if (mnt === null) throw new DumpError(`Can't dump ${what}: the mount ${mntId} of a fanotify mark is not in /proc/${pid}/mountinfo`);
      Object.assign(mark, { type: 'MOUNT', s_dev: mnt.sdev, me: { mnt_id: mntId, path: mnt.path } });
    } else {
      throw new DumpError(`Can't dump ${what}: fanotify filesystem marks (FAN_MARK_FILESYSTEM) are not supported`);
    }
    out.push(mark);
  }
  return out;
}

/** Mount mntId of the task's mountinfo: its mount point (mountinfo escapes blanks, tabs, newlines, backslashes as
 * \ooo) and its device as the kernel encodes it (as fdinfo's sdev) */
function mountOf(pid: number, mntId: number): { path: string; sdev: number } | null {
  const f = readFileSync(`/proc/${pid}/mountinfo`, 'latin1').split('\n').map((l) => l.split(' ')).find((x) => x.length >= 5 && Number(x[0]) === mntId);
  if (!f) return null;
  const [maj, min] = f[2].split(':').map(Number);
  return { path: f[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))), sdev: ((maj << 20) | min) >>> 0 };
}
