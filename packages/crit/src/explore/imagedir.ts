// An image directory as the explorers see it: images loaded on demand, named by
// their CRIU file stem and id (see imageFileName): dir.first('core', 42). Images
// of the whole dump (pstree, files, ...) are kept once read; per-task ones (an
// id in the name) are read where they are used, not kept: on large dumps
// holding them all made the collector do most of the work.
import { existsSync } from 'node:fs';
import { decodeImage, dumpFiles, imageFileName, ImageError, TASK, type DumpFiles, type FieldSelection, type ImageDoc } from '@ckpt/images';
import { openDump } from '../archive/source.js';

export type Obj = { [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
type Id = number | bigint | string;

export class ImageDir {
  /** the images of the whole dump, by file name */
  private cache = new Map<string, ImageDoc | null>();
  /** where the images are read from: a directory or a checkpoint archive */
  readonly files: DumpFiles;

  constructor(where: string | DumpFiles) {
    if (typeof where === 'string' && !existsSync(where)) throw new ImageError('no such directory', { file: where });
    this.files = dumpFiles(where);
  }

  path(stem: string, id?: Id): string {
    return this.files.where(imageFileName(stem, id));
  }

  has(stem: string, id?: Id): boolean {
    return this.files.has(imageFileName(stem, id));
  }

  /**
   * Entries of an image; a missing image is an error naming it. With `fields`,
   * a per-task image decodes only those fields (much cheaper on large dumps).
   */
  entries(stem: string, id?: Id, fields?: FieldSelection): Obj[] {
    const doc = this.load(stem, id, fields);
    if (!doc) throw new ImageError('image missing from the dump directory', { file: this.path(stem, id) });
    return doc.entries as Obj[];
  }

  /** Entries of an image, or undefined when the file does not exist. */
  maybeEntries(stem: string, id?: Id, fields?: FieldSelection): Obj[] | undefined {
    return (this.load(stem, id, fields)?.entries as Obj[] | undefined) ?? undefined;
  }

  /** The only entry of a single-entry image (core, mm, ids, fs). */
  first(stem: string, id?: Id, fields?: FieldSelection): Obj {
    const e = this.entries(stem, id, fields)[0];
    if (!e) throw new ImageError('image has no entries', { file: this.path(stem, id) });
    return e;
  }

  pstree(): Obj[] {
    return this.entries('pstree');
  }

  private load(stem: string, id: Id | undefined, fields: FieldSelection | undefined): ImageDoc | null {
    const name = imageFileName(stem, id);
    const read = (select?: FieldSelection): ImageDoc | null => {
      try {
        return decodeImage(this.files.image(name), { fields: select });
      } catch (e) {
        if (!this.files.has(name)) return null; // asked only when it failed: one system call less per image
        throw e instanceof ImageError ? e.at({ file: this.files.where(name) }) : e;
      }
    };
    if (id !== undefined) return read(fields);
    // an image of the whole dump is kept, whole: other callers may want other fields
    if (!this.cache.has(name)) this.cache.set(name, read());
    return this.cache.get(name)!;
  }
}

/** The images of a dump directory, an extracted container checkpoint or a checkpoint archive. */
export function openImageDir(path: string): ImageDir {
  return new ImageDir(openDump(path).images);
}

/** pstree ids; very old images had ns_pid/ns_pgid/ns_sid lists instead. */
export function taskId(p: Obj, key: 'pid' | 'pgid' | 'sid'): number {
  return Number(p[key] ?? p[`ns_${key}`]?.[0] ?? 0);
}

const TASK_STATE: FieldSelection = { tc: { task_state: true } };

/** ids images: what the explorers read of them */
export const FILES_ID: FieldSelection = { files_id: true };

/**
 * Whether the task was dead or a zombie (core tc.task_state), which leaves no
 * ids, fds, mm or pages images behind. Every live task has an ids image: when
 * it is there the core need not be read.
 */
export function isDead(dir: ImageDir, pid: number): boolean {
  if (dir.has('ids', pid)) return false;
  const core = dir.maybeEntries('core', pid, TASK_STATE)?.[0];
  const state = Number(core?.tc?.task_state ?? TASK.ALIVE);
  return state === TASK.DEAD || state === TASK.ZOMBIE;
}
