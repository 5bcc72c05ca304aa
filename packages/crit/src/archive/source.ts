// Where a dump's images and a container engine's metadata come from: a CRIU
// image directory, a container checkpoint archive (.tar, .tar.gz, .tar.zst,
// told apart by content), or such an archive extracted (images under
// checkpoint/). Every crit command that takes a dump opens it here.
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DirFiles, ImageError, type DumpFiles, type FileReader } from '@ckpt/images';
import { CHECKPOINT_DIR, CheckpointArchive } from './archive.js';

/** The images of an archive, under checkpoint/ (or at its top for a tar of a plain dump). */
export class ArchiveFiles implements DumpFiles {
  constructor(readonly archive: CheckpointArchive, private prefix: string) {}

  where(name: string): string {
    return this.archive.where(this.prefix + name);
  }

  has(name: string): boolean {
    return this.archive.file(this.prefix + name) !== undefined;
  }

  private member(name: string) {
    const m = this.archive.file(this.prefix + name);
    if (!m) throw new ImageError('no such file in the archive', { file: this.where(name) });
    return m;
  }

  image(name: string): Buffer {
    return this.archive.bytes(this.member(name));
  }

  open(name: string): FileReader {
    return this.archive.reader(this.member(name));
  }

  parent(): undefined {
    return undefined; // a checkpoint archive holds one dump; pre-dump parents are separate archives
  }
}

/**
 * The images under checkpoint/, and CRIU's statistics beside it: Podman and
 * CRI-O run CRIU with the container's bundle as work directory, so stats-dump
 * is at the archive's top, not among the images.
 */
class WithStats implements DumpFiles {
  constructor(private images: DumpFiles, private top: DumpFiles) {}
  private pick(name: string): DumpFiles {
    return /^stats-(dump|restore)$/.test(name) && !this.images.has(name) && this.top.has(name) ? this.top : this.images;
  }
  where(name: string): string {
    return this.pick(name).where(name);
  }
  has(name: string): boolean {
    return this.pick(name).has(name);
  }
  image(name: string): string | Buffer {
    return this.pick(name).image(name);
  }
  open(name: string): FileReader {
    return this.pick(name).open(name);
  }
  parent(): DumpFiles | undefined {
    return this.images.parent();
  }
}

export interface CheckpointSizes {
  /** all regular files under checkpoint/ */
  checkpoint: number;
  /** pages-*.img */
  pages: number;
  /** amdgpu-pages-*.img */
  amdgpuPages: number;
  /** rootfs-diff.tar */
  rootfsDiff: number;
}

/** A dump opened for reading: its images, and the engine's files beside them when there are any. */
export interface DumpSource {
  readonly path: string;
  readonly kind: 'directory' | 'archive';
  readonly images: DumpFiles;
  /** whether the images are in a checkpoint/ directory (a container checkpoint) */
  readonly container: boolean;
  /** an engine's file beside checkpoint/ (config.dump, spec.dump, stats-dump, ...), or undefined */
  meta(name: string): Buffer | undefined;
  /** how messages name that file */
  metaWhere(name: string): string;
  sizes(): CheckpointSizes;
  close(): void;
}

const isPages = (n: string) => /^pages-\d+\.img$/.test(n);
const isAmdPages = (n: string) => /^amdgpu-pages-\d+\.img$/.test(n);
/** metadata files are JSON of a few KiB; a bigger one is not what we think it is */
const MAX_META = 64 << 20;

function openArchive(path: string): DumpSource {
  const archive = new CheckpointArchive(path);
  const hasDir = [...archive.members.keys()].some((n) => n === CHECKPOINT_DIR || n.startsWith(`${CHECKPOINT_DIR}/`));
  if (!hasDir && !archive.file('pstree.img')) {
    archive.close();
    throw new ImageError(`not a container checkpoint: no ${CHECKPOINT_DIR}/ directory in the archive`, { file: path });
  }
  const prefix = hasDir ? `${CHECKPOINT_DIR}/` : '';
  return {
    path, kind: 'archive', container: hasDir,
    images: hasDir ? new WithStats(new ArchiveFiles(archive, prefix), new ArchiveFiles(archive, '')) : new ArchiveFiles(archive, ''),
    meta: (name) => {
      const m = archive.file(name);
      if (!m) return undefined;
      if (m.size > MAX_META) throw new ImageError(`${m.size} bytes: too large for a metadata file`, { file: archive.where(name) });
      return archive.bytes(m);
    },
    metaWhere: (name) => archive.where(name),
    sizes: () => {
      const s: CheckpointSizes = { checkpoint: 0, pages: 0, amdgpuPages: 0, rootfsDiff: archive.file('rootfs-diff.tar')?.size ?? 0 };
      for (const m of archive.members.values()) {
        if (m.type !== 'file' || !m.name.startsWith(prefix) || m.name.slice(prefix.length).includes('/')) continue;
        const base = m.name.slice(prefix.length);
        s.checkpoint += m.size;
        if (isPages(base)) s.pages += m.size;
        if (isAmdPages(base)) s.amdgpuPages += m.size;
      }
      return s;
    },
    close: () => archive.close(),
  };
}

function openDirectory(path: string): DumpSource {
  const sub = join(path, CHECKPOINT_DIR);
  const container = !existsSync(join(path, 'pstree.img')) && statSync(sub, { throwIfNoEntry: false })?.isDirectory() === true;
  const dir = container ? sub : path;
  const metaPath = (name: string) => join(path, name);
  return {
    path, kind: 'directory', container, images: container ? new WithStats(new DirFiles(dir), new DirFiles(path)) : new DirFiles(dir),
    meta: (name) => {
      if (!container) return undefined;
      const st = statSync(metaPath(name), { throwIfNoEntry: false });
      if (!st?.isFile()) return undefined;
      if (st.size > MAX_META) throw new ImageError(`${st.size} bytes: too large for a metadata file`, { file: metaPath(name) });
      return readFileSync(metaPath(name));
    },
    metaWhere: metaPath,
    sizes: () => {
      const s: CheckpointSizes = { checkpoint: 0, pages: 0, amdgpuPages: 0, rootfsDiff: 0 };
      if (container) s.rootfsDiff = statSync(metaPath('rootfs-diff.tar'), { throwIfNoEntry: false })?.size ?? 0;
      for (const name of readdirSync(dir)) {
        const st = lstatSync(join(dir, name));
        if (!st.isFile()) continue;
        s.checkpoint += st.size;
        if (isPages(name)) s.pages += st.size;
        if (isAmdPages(name)) s.amdgpuPages += st.size;
      }
      return s;
    },
    close: () => {},
  };
}

/** Opens a dump directory, an extracted checkpoint or a checkpoint archive. */
export function openDump(path: string): DumpSource {
  const st = statOrUndefined(path);
  if (!st) throw new ImageError('no such directory or archive', { file: path });
  if (st.isDirectory()) return openDirectory(path);
  if (!st.isFile()) throw new ImageError('not a dump directory nor a checkpoint archive', { file: path });
  return openArchive(path);
}

/** stat, or undefined where there is nothing (ENOENT, or ENOTDIR under a file) */
export function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** Whether a file is a checkpoint archive (gzip, zstd or tar by content) rather than an image. */
export function isArchiveFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return false;
    const head = Buffer.alloc(512);
    const n = readSync(fd, head, 0, 512, 0);
    if (n >= 4 && ((head[0] === 0x1f && head[1] === 0x8b) || head.readUInt32LE(0) === 0xfd2fb528)) return true;
    return n === 512 && head.toString('latin1', 257, 262) === 'ustar';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A path that goes through an archive file, split there; undefined for any other path. */
export function archivePath(path: string): { archive: string; member: string } | undefined {
  const rest: string[] = [];
  let at = path;
  for (;;) {
    const up = dirname(at);
    if (up === at) return undefined;
    rest.unshift(basename(at));
    at = up;
    const st = statOrUndefined(at);
    if (!st) continue;
    return st.isFile() && isArchiveFile(at) ? { archive: at, member: rest.join('/') } : undefined;
  }
}

/**
 * An image named by a path that may go through a checkpoint archive:
 * ckpt.tar.zst/checkpoint/core-1.img, or ckpt.tar.zst/core-1.img for the
 * images under checkpoint/. Other paths are returned as they are.
 */
export function imageInput(path: string): { input: string | Buffer; file: string } {
  const inside = existsSync(path) ? undefined : archivePath(path);
  if (!inside) return { input: path, file: path };
  const archive = new CheckpointArchive(inside.archive);
  try {
    const name = inside.member;
    const m = archive.file(name) ?? archive.file(`${CHECKPOINT_DIR}/${name}`);
    if (!m) throw new ImageError('no such image in the archive', { file: path });
    return { input: archive.bytes(m), file: archive.where(m.name) };
  } finally {
    archive.close();
  }
}
