// Byte sources for the entry reader. Every read is checked against what is left
// before anything is allocated, so a corrupt length can never make us allocate
// more than the input holds.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { ImageError } from './errors.js';

export interface ByteSource {
  /** offset of the next byte */
  readonly offset: number;
  /** total size in bytes */
  readonly size: number;
  /** the next n bytes (n must not exceed what remains); the view is valid until the next call */
  take(n: number, what: string): Buffer;
  /**
   * Like take, without creating a view: the bytes are window[at, at + n) of
   * the returned window (for hot loops).
   */
  takeIn(n: number, what: string): { window: Buffer; at: number };
  skip(n: number, what: string): void;
  close(): void;
}

function checkFits(src: ByteSource, n: number, what: string): void {
  const left = src.size - src.offset;
  if (!Number.isSafeInteger(n) || n < 0 || n > left) {
    throw new ImageError(`${what}: needs ${n} bytes but only ${left} remain (truncated or corrupt)`, { offset: src.offset });
  }
}

/** A source over bytes already in memory (stdin, tests). */
export class BufferSource implements ByteSource {
  offset = 0;
  constructor(private buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  take(n: number, what: string): Buffer {
    checkFits(this, n, what);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  takeIn(n: number, what: string): { window: Buffer; at: number } {
    checkFits(this, n, what);
    const at = this.offset;
    this.offset += n;
    return { window: this.buf, at };
  }
  skip(n: number, what: string): void {
    checkFits(this, n, what);
    this.offset += n;
  }
  close(): void {}
}

const WINDOW = 1 << 20;
const FIRST_READ = 1 << 16;
/** the first read of every file lands here, then only its bytes are copied out */
const firstRead = Buffer.allocUnsafe(FIRST_READ);

/** A source over a file read through a sliding window: memory stays bounded. */
export class FileSource implements ByteSource {
  offset = 0;
  readonly size: number;
  private fd: number;
  private win = Buffer.alloc(0);
  private winStart = 0;

  constructor(path: string) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below)
    this.fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      // Most images are small: one read gives the whole file, and its size
      // without an fstat (a short pread of a file is its end; pipes refuse pread).
      const got = readSync(this.fd, firstRead, 0, FIRST_READ, 0);
      this.size = got < FIRST_READ ? got : fstatSync(this.fd).size;
      this.win = Buffer.from(firstRead.subarray(0, got));
    } catch (e) {
      closeSync(this.fd);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') throw new ImageError('is a directory, not an image file');
      if (code === 'ESPIPE') throw new ImageError('not a regular file (crit decode without -i reads a pipe on stdin)');
      throw e;
    }
  }

  take(n: number, what: string): Buffer {
    const { window, at } = this.takeIn(n, what);
    return window.subarray(at, at + n);
  }

  takeIn(n: number, what: string): { window: Buffer; at: number } {
    checkFits(this, n, what);
    const rel = this.offset - this.winStart;
    if (rel + n > this.win.length) this.fill(n);
    const at = this.offset - this.winStart;
    this.offset += n;
    return { window: this.win, at };
  }

  private fill(n: number): void {
    const len = Math.min(Math.max(n, WINDOW), this.size - this.offset);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const r = readSync(this.fd, buf, got, len - got, this.offset + got);
      if (r === 0) throw new ImageError('file shrank while being read', { offset: this.offset + got });
      got += r;
    }
    this.win = buf;
    this.winStart = this.offset;
  }

  skip(n: number, what: string): void {
    checkFits(this, n, what);
    this.offset += n;
  }

  close(): void {
    closeSync(this.fd);
  }
}
