// What the kinds share: open flags, the file owner (fown) on dump and restore, device numbers, fdinfo
// fields, and state a kind keeps for one dump or one plan.
import { native } from '../native.js';
import { DumpError } from '../log.js';
import { n } from '../restore/read.js';
import type { Obj } from '../restore/types.js';

export const O_WRONLY = 0o1, O_ACCMODE = 0o3, O_APPEND = 0o2000, O_NONBLOCK = 0o4000, O_CLOEXEC = 0o2000000;
export const SEEK_DATA = 3, SEEK_HOLE = 4;

/** fown_entry: F_SETOWN_EX owner and F_SETSIG signal of an open file description */
export interface Fown { uid: number; euid: number; signum: number; pid_type: number; pid: number }
export const FOWN_NONE: Fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

/** The owner (F_SETOWN) of the task's open file description; all zero when none is set. */
export function readFown(pid: number, fd: number): Fown {
  const nat = native();
  let local: number;
  try {
    local = nat.getFd(pid, fd);
  } catch {
    return FOWN_NONE;
  }
  try {
    const o = nat.fown(local);
    if (!o.pid) return FOWN_NONE;
    return { uid: o.uid, euid: o.euid, signum: o.signum, pid_type: o.pidType, pid: o.pid };
  } catch {
    return FOWN_NONE;
  } finally {
    nat.close(local);
  }
}

/** F_SETOWN_EX / F_SETSIG of a restored object, when the dump recorded an owner or a signal */
export function fownOf(obj: Obj, fo: any): void {
  if (fo && (n(fo.signum) || n(fo.pid))) obj.fown = [n(fo.signum), n(fo.pid_type), n(fo.pid)];
}

/** "PATH (deleted)" -> PATH */
export function stripDeleted(link: string): string {
  return link.endsWith(' (deleted)') ? link.slice(0, -10) : link;
}

export function makedev(ma: number, mi: number): number {
  return (ma << 8) | mi;
}
export function major(dev: number): number {
  return (dev >> 8) & 0xfff;
}
export function minor(dev: number): number {
  return (dev & 0xff) | ((dev >> 12) & 0xfff00);
}
/** The kernel's internal dev_t (MKDEV), as CRIU stores devices of ghost files. */
export function kdev(ma: number, mi: number): number {
  return ((ma << 20) | mi) >>> 0;
}

/** The value of fdinfo line "KEY value", or undefined. */
export function fdinfoField(lines: string[], key: string): string | undefined {
  const l = lines.find((x) => x.startsWith(key));
  return l === undefined ? undefined : l.slice(key.length).trim();
}

/** The value of fdinfo line "KEY value"; its absence fails the dump of what. */
export function fdinfoNeed(lines: string[], key: string, what: string): string {
  const v = fdinfoField(lines, key);
  if (v === undefined) throw new DumpError(`Can't dump ${what}: no "${key}" in its fdinfo`);
  return v;
}

/** State a kind keeps for one dump (keyed by its Files) or one plan (by its FileObjects), made on first use. */
export class PerRun<K extends object, T> {
  private readonly m = new WeakMap<K, T>();
  constructor(private readonly init: (owner: K) => T) {}
  of(owner: K): T {
    let v = this.m.get(owner);
    if (v === undefined) {
      v = this.init(owner);
      this.m.set(owner, v);
    }
    return v;
  }
}
