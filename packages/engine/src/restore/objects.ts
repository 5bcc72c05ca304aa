// The open files of a dump (files.img and the images that complete it) as the plan's objects: every
// file id (open file description) becomes one object, which the helper creates before it forks and
// every task that uses it dup2()s to its fd numbers. Which object a files.img entry becomes is its
// kind's business (../kinds/); here: the file ids, --inherit-fd, and what the tasks' planning asks of
// the objects (memfds and shared anonymous memory of mappings, ghost files, ttys, epoll targets).
import { imageFileName } from '@ckpt/images';
import { inheritKeys, KINDS, kindOfEntry } from '../kinds/index.js';
import { fownOf } from '../kinds/common.js';
import { isGhost } from '../kinds/reg.js';
import { anonShmFor, memfdFor } from '../kinds/memfd.js';
import { hasImage, load, n, RestoreError } from './read.js';
import type { Obj, Plan, PlanOptions } from './types.js';
import { ObjKind } from './plan-wire.js';

export class FileObjects {
  /** files.img entries, in their order */
  readonly files: any[];
  private fileById = new Map<number, any>();
  /** --inherit-fd: resources by the name CRIU gives them (socket:[INO], pipe:[INO], a path with or without its /) */
  private inherit = new Map<string, number>();
  private inheritUsed = new Set<string>();
  private objByFileId = new Map<number, number>();
  /** session id -> the terminal its leader takes as controlling tty, and its foreground group */
  readonly cttyOf = new Map<number, { obj: number; pgrp: number; fileId: number }>();
  /** epoll object -> its targets, registered by the first task that has the epoll and the target at their fd numbers */
  readonly epollTargets = new Map<number, { tfd: number; events: number; data: bigint; done: boolean }[]>();

  constructor(readonly plan: Plan, readonly opts: PlanOptions) {
    const dir = opts.dir;
    this.files = hasImage(dir, 'files') ? load(dir, 'files', 'files').entries : [];
    for (const f of this.files) this.fileById.set(n(f.id), f);
    for (const k of KINDS) k.collect?.(this);
    for (const i of opts.inheritFds ?? []) {
      this.inherit.set(i.key, i.fd);
      if (!i.key.includes(':[') && !i.key.startsWith('/')) this.inherit.set('/' + i.key, i.fd);
    }
  }

  /** The files.img entry of a file id (undefined if it has none). */
  file(id: number): any {
    return this.fileById.get(id);
  }

  /** The path of a regular file id (a task's cwd, root, exe). */
  regName(id: number, what: string): string {
    const f = this.fileById.get(id);
    if (!f || !f.reg) throw new RestoreError(`${what}: file id ${id} is not in ${imageFileName('files')}`);
    return f.reg.name as string;
  }

  /** Whether a file id is a ghost file (deleted when dumped). */
  isGhost(fileId: number): boolean {
    return isGhost(this, fileId);
  }

  /** The object already made for a file id, if any. */
  objectOf(fileId: number): number | undefined {
    return this.objByFileId.get(fileId);
  }

  /** The object of a file id (made on first use), its index in plan.objs. */
  objFor(fileId: number, what: string): number {
    const have = this.objByFileId.get(fileId);
    if (have !== undefined) return have;
    const f = this.fileById.get(fileId);
    if (!f) throw new RestoreError(`${what}: file id ${fileId} is not in ${imageFileName('files')}`);
    const kind = kindOfEntry(f);
    if (!kind) throw new RestoreError(`${what}: unsupported file type ${f.type}`);
    const ik = inheritKeys(f, this).find((k) => this.inherit.has(k));
    const obj = ik === undefined ? kind.plan(this, f, fileId, what) : this.inherited(ik, what);
    if (!obj.fown) fownOf(obj, f[kind.field].fown);
    this.plan.objs.push(obj);
    const idx = this.plan.objs.length - 1;
    this.objByFileId.set(fileId, idx);
    if (ik === undefined) kind.placed?.(this, f, idx, what);
    return idx;
  }

  /** --inherit-fd: the caller's fd given for key (taken: counted as used), or a RestoreError saying `missing` */
  takeInherited(key: string, missing: string): number {
    const fd = this.inherit.get(key);
    if (fd === undefined) throw new RestoreError(missing);
    this.inheritUsed.add(key);
    return fd;
  }

  /** --inherit-fd: the caller's fd in place of the dumped resource */
  private inherited(key: string, what: string): Obj {
    this.inheritUsed.add(key);
    const fd = this.inherit.get(key)!;
    return { kind: ObjKind.INHERIT, label: `${what} (${key}, inherited fd ${fd})`, flags: 0, inheritFd: fd };
  }

  /** The memfd object of a memfd inode (made on first use), its index in plan.memfds. */
  memfdFor(inodeId: number, what: string): number {
    return memfdFor(this, inodeId, what);
  }

  /** The object of shared anonymous memory shmid, at least size bytes, its index in plan.memfds. */
  anonShmFor(shmid: number, size: bigint, what: string): number {
    return anonShmFor(this, shmid, size, what);
  }

  /** Once every task is planned: what the images or the caller asked for that no task took. */
  checkAllUsed(): void {
    for (const k of KINDS) k.checkUsed?.(this);
    for (const i of this.opts.inheritFds ?? []) {
      if (!this.inheritUsed.has(i.key) && !this.inheritUsed.has('/' + i.key)) throw new RestoreError(`--inherit-fd fd[${i.fd}]:${i.key}: no restored file is ${i.key}`);
    }
  }
}
