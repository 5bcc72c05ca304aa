// Memory contents of a dump: pagemap-N.img says which pages exist and where,
// pages-<pages_id>.img holds the present ones back to back (FORMAT.md §6).
import { dumpFiles, type DumpFiles, type FileReader } from './dump-files.js';
import { ImageError } from './errors.js';
import { decodeImage } from './image.js';
import { imageFileName } from './magic.js';
import { PE } from './tables.js';

export interface PageRun {
  /** first address (or offset, for shmem pagemaps) */
  vaddr: bigint;
  nrPages: number;
  /** PE_* bits, normalised as CRIU does (in_parent -> PE_PARENT, absent -> PE_PRESENT) */
  flags: number;
  /** offset of the run's data in the pages file (present runs only) */
  fileOffset?: number;
}

export interface PageReaderOptions {
  /** the dumping host's page size; images do not record it (default 4096) */
  pageSize?: number;
}

/**
 * Random and sequential access to the pages of one pagemap (a task's memory or
 * a shared memory object). Lookups are binary searches; PE_PARENT pages are
 * read through the `parent` link of incremental dumps.
 */
export class PageReader {
  readonly runs: PageRun[];
  readonly pageSize: number;
  /** the pages file as messages name it (in a directory: its path) */
  readonly pagesFile: string;
  /** the pages file's name in the dump */
  readonly pagesName: string;
  private files: DumpFiles;
  private reader: FileReader | undefined;
  private parentReader: PageReader | null | undefined;

  /** dir: the dump directory, or another store of its files (an archive) */
  constructor(dir: string | DumpFiles, readonly pagemapFile: string, opts: PageReaderOptions = {}) {
    this.pageSize = opts.pageSize ?? 4096;
    this.files = dumpFiles(dir);
    const doc = decodeImage(this.files.image(pagemapFile));
    if (doc.magic !== 'PAGEMAP') throw new ImageError(`not a pagemap image (${doc.magic})`, { file: this.files.where(pagemapFile) });
    const [head, ...rest] = doc.entries;
    this.pagesName = imageFileName('pages', Number(head?.pages_id ?? 0));
    this.pagesFile = this.files.where(this.pagesName);
    let off = 0;
    this.runs = rest.map((e) => {
      const flags = e.in_parent === true ? PE.PARENT : e.flags === undefined ? PE.PRESENT : Number(e.flags);
      const nrPages = Number(e.nr_pages ?? e.compat_nr_pages ?? 0);
      const run: PageRun = { vaddr: e.vaddr as bigint, nrPages, flags };
      if (flags & PE.PRESENT) {
        run.fileOffset = off;
        off += nrPages * this.pageSize;
      }
      return run;
    });
    // file offsets follow pagemap order; lookups want address order
    this.runs.sort((a, b) => (a.vaddr < b.vaddr ? -1 : a.vaddr > b.vaddr ? 1 : 0));
  }

  /** total bytes of page data this pagemap stores in its own pages file */
  get presentBytes(): number {
    return this.runs.reduce((s, r) => s + (r.flags & PE.PRESENT ? r.nrPages * this.pageSize : 0), 0);
  }

  /** The run that holds addr, or undefined. */
  find(addr: bigint): PageRun | undefined {
    const ps = BigInt(this.pageSize);
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.runs[mid];
      if (addr < r.vaddr) hi = mid - 1;
      else if (addr >= r.vaddr + BigInt(r.nrPages) * ps) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  private parent(): PageReader | null {
    if (this.parentReader === undefined) {
      const p = this.files.parent();
      this.parentReader = p?.has(this.pagemapFile) ? new PageReader(p, this.pagemapFile, { pageSize: this.pageSize }) : null;
    }
    return this.parentReader;
  }

  private readFile(offset: number, out: Buffer, at: number, len: number): void {
    this.reader ??= this.files.open(this.pagesName);
    const got = this.reader.readAt(offset, out, at, len);
    if (got < len) {
      throw new ImageError(`pages file holds ${this.reader.size()} bytes, but ${this.pagemapFile} puts page data at ${offset + got}`, { file: this.pagesFile });
    }
  }

  /**
   * Reads len bytes at addr. Bytes of pages the dump does not hold (never
   * touched, lazy, or file-backed clean pages) read as zero; `missing` counts them.
   */
  read(addr: bigint, len: number): { data: Buffer; missing: number } {
    const data = Buffer.allocUnsafe(len);
    return { data, missing: this.readInto(addr, data) };
  }

  /**
   * Fills `out` with the bytes at addr (as read() does, missing pages as zeros)
   * and returns how many bytes the dump does not hold. Lets scans reuse one buffer.
   */
  readInto(addr: bigint, out: Buffer): number {
    const len = out.length;
    let missing = 0;
    const ps = BigInt(this.pageSize);
    let pos = 0;
    while (pos < len) {
      const a = addr + BigInt(pos);
      const run = this.find(a);
      // a run is read in one go up to its end; outside runs, page by page
      const stop = run ? run.vaddr + BigInt(run.nrPages) * ps : (a / ps + 1n) * ps;
      const n = Math.min(len - pos, Number(stop - a));
      if (run && run.flags & PE.PRESENT) this.readFile(run.fileOffset! + Number(a - run.vaddr), out, pos, n);
      else if (run && run.flags & PE.PARENT && this.parent()) missing += this.parent()!.readInto(a, out.subarray(pos, pos + n));
      else {
        out.fill(0, pos, pos + n);
        missing += n;
      }
      pos += n;
    }
    return missing;
  }

  /** The present data, run by run, in pieces of at most maxBytes (for streaming scans). */
  *chunks(maxBytes = 8 << 20): Generator<{ vaddr: bigint; data: Buffer }> {
    const step = Math.max(this.pageSize, Math.floor(maxBytes / this.pageSize) * this.pageSize);
    for (const run of this.runs) {
      const total = run.nrPages * this.pageSize;
      for (let done = 0; done < total; done += step) {
        const n = Math.min(step, total - done);
        const vaddr = run.vaddr + BigInt(done);
        if (run.flags & PE.PRESENT) {
          const data = Buffer.allocUnsafe(n);
          this.readFile(run.fileOffset! + done, data, 0, n);
          yield { vaddr, data };
        } else if (run.flags & PE.PARENT && this.parent()) {
          const { data, missing } = this.parent()!.read(vaddr, n);
          if (missing < n) yield { vaddr, data };
        }
      }
    }
  }

  close(): void {
    this.reader?.close();
    this.reader = undefined;
    this.parentReader?.close();
  }
}

/** The page reader of a task's memory: pagemap-<pid>.img in dir. */
export function taskPages(dir: string | DumpFiles, pid: number, opts?: PageReaderOptions): PageReader {
  return new PageReader(dir, imageFileName('pagemap', pid), opts);
}

/** The page reader of a shared memory object: pagemap-shmem-<shmid>.img in dir. */
export function shmemPages(dir: string | DumpFiles, shmid: number | bigint, opts?: PageReaderOptions): PageReader {
  return new PageReader(dir, imageFileName('pagemap-shmem', shmid), opts);
}
