// What a resource kind is to the engine (CRIU's fdtype_ops on dump, file_desc_ops on restore): how an
// fd is recognised, the image entries it is dumped into, and the plan object a files.img entry of it
// becomes. Every kind is one module of this directory, listed once in index.ts.
import type { Stats } from 'node:fs';
import type { Files } from '../files.js';
import type { TtyFacts } from '../parasite.js';
import type { FileObjects } from '../restore/objects.js';
import type { Obj } from '../restore/types.js';
import type { Fown } from './common.js';

/** What the dump knows of an fd before its kind is known (CRIU's fd_parms). */
export interface FdParms {
  pid: number;
  fd: number;
  /** readlink of /proc/PID/fd/FD */
  link: string;
  /** stat of /proc/PID/fd/FD (the open file) */
  st: Stats;
  /** /proc/PID/fdinfo/FD */
  info: { pos: bigint; flags: number; lines: string[] };
  /** /proc/PID/fd/FD, to open or stat the file itself */
  procFd: string;
  /** "fd FD of task PID (LINK)", for errors */
  what: string;
}

/** A new open file description to dump: its file id, open flags (O_CLOEXEC aside) and owner. */
export interface DumpFd extends FdParms {
  id: number;
  flags: number;
  fown: Fown;
  /** state read inside the task (pts terminals: their tty facts by fd) */
  ttys?: Map<number, TtyFacts>;
  /** a file in flight (pid is ours: received from a socket's queue): the task whose socket's queue holds it */
  inFlightOf?: number;
}

export interface Kind {
  /** the entry's type in files.img and fdinfo-N.img */
  type: string;
  /** the field of a files.img entry that holds this kind's payload */
  field: string;

  /** dump: whether fd is of this kind */
  detect(p: FdParms, files: Files): boolean;
  /** dump: why an fd this kind would have to handle cannot be dumped (asked when no kind took it) */
  refuse?(p: FdParms, files: Files): string | undefined;
  /** dump: the fd's entries (files.img and the images that complete it) into files */
  dump(files: Files, d: DumpFd): void;

  /** restore: read the images of this kind once, before any object is made (CRIU's collect) */
  collect?(objs: FileObjects): void;
  /** restore: the object of files.img entry f (file id fileId); what names the task and fd for errors */
  plan(objs: FileObjects, f: any, fileId: number, what: string): Obj;
  /** restore: called once the object is in plan.objs at idx (objects it points to may be made now) */
  placed?(objs: FileObjects, f: any, idx: number, what: string): void;
  /** restore: once every task is planned, what the images asked for that no task took */
  checkUsed?(objs: FileObjects): void;
  /** the names --inherit-fd may give a file of this kind (CRIU's: a path, pipe:[INO], socket:[INO], /memfd:NAME) */
  inheritKeys?(f: any, objs: FileObjects): string[];
}
