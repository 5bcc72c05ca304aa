// The resource kinds, in one table. The dump asks each in turn whether an fd is of its kind (a memfd
// before regular files: its link is a path too) and, when none takes it, whether one refuses it by name;
// the restore reads each kind's images in this order (CRIU's collect) and gives a files.img entry to the
// first kind whose payload field it has. A new kind is one module of this directory and one line here.
import { DumpError } from '../log.js';
import type { Files } from '../files.js';
import type { FileObjects } from '../restore/objects.js';
import type { FdParms, Kind } from './kind.js';
import { pipe } from './pipe.js';
import { fifo } from './fifo.js';
import { unix } from './unix.js';
import { inet } from './inet.js';
import { netlink } from './netlink.js';
import { packet } from './packet.js';
import { memfd } from './memfd.js';
import { reg } from './reg.js';
import { tty } from './tty.js';
import { eventfd } from './eventfd.js';
import { timerfd } from './timerfd.js';
import { signalfd } from './signalfd.js';
import { epoll } from './epoll.js';
import { inotify } from './inotify.js';
import { fanotify } from './fanotify.js';
import { pidfd } from './pidfd.js';
import { nsfs } from './nsfs.js';

export type { DumpFd, FdParms, Kind } from './kind.js';

export const KINDS: readonly Kind[] = [pipe, fifo, unix, inet, netlink, packet, memfd, reg, tty, eventfd, timerfd, signalfd, epoll, inotify, fanotify, pidfd, nsfs];

/** The kind of an fd, or the dump fails naming it and why it is not supported. */
export function detectKind(p: FdParms, files: Files): Kind {
  const kind = KINDS.find((k) => k.detect(p, files));
  if (kind) return kind;
  for (const k of KINDS) {
    const why = k.refuse?.(p, files);
    if (why) throw new DumpError(`Can't dump ${p.what}: ${why}`);
  }
  throw new DumpError(`Can't dump ${p.what}: unsupported file type`);
}

/** The kind of a files.img entry (by its payload), or undefined. */
export function kindOfEntry(f: any): Kind | undefined {
  return KINDS.find((k) => f[k.field]);
}

/** The names --inherit-fd may give a files.img entry. */
export function inheritKeys(f: any, objs: FileObjects): string[] {
  const k = KINDS.find((x) => f[x.field] && x.inheritKeys);
  return k ? k.inheritKeys!(f, objs) : [];
}
