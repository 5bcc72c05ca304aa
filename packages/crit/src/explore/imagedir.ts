// An image directory as the explorers see it: images loaded on demand, once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, ImageError, type ImageDoc } from '@ckpt/images';

export type Obj = { [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

export class ImageDir {
  private cache = new Map<string, ImageDoc | null>();

  constructor(readonly dir: string) {
    if (!existsSync(dir)) throw new ImageError('no such directory', { file: dir });
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  has(name: string): boolean {
    return existsSync(this.path(name));
  }

  /** Entries of an image; a missing image is an error naming it. */
  entries(name: string): Obj[] {
    const doc = this.load(name);
    if (!doc) throw new ImageError('image missing from the dump directory', { file: this.path(name) });
    return doc.entries as Obj[];
  }

  /** Entries of an image, or undefined when the file does not exist. */
  maybeEntries(name: string): Obj[] | undefined {
    return (this.load(name)?.entries as Obj[] | undefined) ?? undefined;
  }

  private load(name: string): ImageDoc | null {
    if (!this.cache.has(name)) this.cache.set(name, this.has(name) ? decodeImage(this.path(name)) : null);
    return this.cache.get(name)!;
  }

  /** The only entry of a single-entry image (core, mm, ids, fs). */
  first(name: string): Obj {
    const e = this.entries(name)[0];
    if (!e) throw new ImageError('image has no entries', { file: this.path(name) });
    return e;
  }

  pstree(): Obj[] {
    return this.entries('pstree.img');
  }
}

/** pstree ids; very old images had ns_pid/ns_pgid/ns_sid lists instead. */
export function taskId(p: Obj, key: 'pid' | 'pgid' | 'sid'): number {
  return Number(p[key] ?? p[`ns_${key}`]?.[0] ?? 0);
}

/** Task states (core tc.task_state) that leave no fds, mm or pages images behind. */
export function isDead(dir: ImageDir, pid: number): boolean {
  const core = dir.maybeEntries(`core-${pid}.img`)?.[0];
  const state = Number(core?.tc?.task_state ?? 1);
  return state === 2 || state === 6;
}
