// The files of one dump as the page reader sees them: a directory, or another
// store that holds the same files (crit reads container checkpoint archives
// through this without unpacking them). Kept to what reading pages needs.
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** Random access to the bytes of one file of a dump. */
export interface FileReader {
  /** bytes at offset into out[at, at + len); fewer than len only at the file's end */
  readAt(offset: number, out: Buffer, at: number, len: number): number;
  /** the file's size in bytes */
  size(): number;
  close(): void;
}

export interface DumpFiles {
  /** how messages name the file `name` of this dump (for a directory: its path) */
  where(name: string): string;
  has(name: string): boolean;
  /** a whole image as decodeImage takes it: its path, or its bytes */
  image(name: string): string | Buffer;
  open(name: string): FileReader;
  /** the dump that an incremental dump's `parent` link points at, if any */
  parent(): DumpFiles | undefined;
}

/** A dump directory: images are read through their paths, as before. */
export class DirFiles implements DumpFiles {
  /** the directory's names, listed once: cheaper than asking for each image */
  private listing: Set<string> | undefined;
  constructor(readonly dir: string) {}

  where(name: string): string {
    return join(this.dir, name);
  }

  has(name: string): boolean {
    try {
      this.listing ??= new Set(readdirSync(this.dir));
    } catch {
      return false;
    }
    return this.listing.has(name);
  }

  image(name: string): string {
    return join(this.dir, name);
  }

  open(name: string): FileReader {
    const fd = openSync(join(this.dir, name), constants.O_RDONLY | constants.O_NONBLOCK); // a FIFO must not block us
    return {
      readAt: (offset, out, at, len) => {
        let got = 0;
        while (got < len) {
          const n = readSync(fd, out, at + got, len - got, offset + got);
          if (n === 0) break;
          got += n;
        }
        return got;
      },
      size: () => fstatSync(fd).size,
      close: () => closeSync(fd),
    };
  }

  parent(): DumpFiles | undefined {
    const p = join(this.dir, 'parent');
    return existsSync(p) ? new DirFiles(p) : undefined;
  }
}

/** A directory path or another store, as a DumpFiles. */
export function dumpFiles(where: string | DumpFiles): DumpFiles {
  return typeof where === 'string' ? new DirFiles(where) : where;
}
