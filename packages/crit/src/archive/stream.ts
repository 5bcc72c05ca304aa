// The bytes of an archive file as a tar stream: read as they are (.tar), or
// decompressed as they are read (gzip, zstd). Synchronous, because the image
// readers are; memory stays at one input piece and its output. Which one is
// told by the first bytes, not by the file's name.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Gunzip } from 'fflate';
import { Decompress as Unzstd } from 'fzstd';
import { ImageError } from '@ckpt/images';

export type Compression = 'none' | 'gzip' | 'zstd';

const PIECE = 1 << 20;

/** The compression of a file, by its magic; other known compressions are refused by name. */
export function compressionOf(head: Buffer, file: string): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  const other = head.subarray(0, 3).toString('latin1') === 'BZh' ? 'bzip2'
    : head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ? 'xz' : undefined;
  if (other) throw new ImageError(`${other}-compressed archives are not supported (gzip, zstd or plain tar)`, { file });
  return 'none';
}

/** A forward-only stream of the tar bytes. */
export interface TarBytes {
  /** offset of the next byte in the tar stream */
  readonly pos: number;
  /** the next n bytes, fewer only at the end */
  read(n: number): Buffer;
  /** passes over n bytes; returns how many there were */
  skip(n: number): number;
  close(): void;
}

/** An uncompressed tar: reads are preads, skips cost nothing. */
export class PlainBytes implements TarBytes {
  pos = 0;
  readonly size: number;
  constructor(private fd: number) {
    this.size = fstatSync(fd).size;
  }
  read(n: number): Buffer {
    const len = Math.max(0, Math.min(n, this.size - this.pos));
    const out = Buffer.allocUnsafe(len);
    const got = preadFully(this.fd, out, 0, len, this.pos);
    this.pos += got;
    return got < len ? out.subarray(0, got) : out;
  }
  skip(n: number): number {
    const k = Math.max(0, Math.min(n, this.size - this.pos));
    this.pos += k;
    return k;
  }
  close(): void {}
}

export function preadFully(fd: number, out: Buffer, at: number, len: number, position: number): number {
  let got = 0;
  while (got < len) {
    const r = readSync(fd, out, at + got, len - got, position + got);
    if (r === 0) break;
    got += r;
  }
  return got;
}

/** The decompressed bytes of a gzip or zstd file, from its start. */
export class InflatedBytes implements TarBytes {
  pos = 0;
  private queue: Uint8Array[] = [];
  /** unread bytes of queue[0] start here */
  private head = 0;
  private inPos = 0;
  private ended = false;
  private done = false;
  private inflater: { push(chunk: Uint8Array, final?: boolean): void };
  private readonly inSize: number;

  constructor(private fd: number, private kind: 'gzip' | 'zstd', private file: string) {
    this.inSize = fstatSync(fd).size;
    const ondata = (chunk: Uint8Array, final?: boolean) => {
      if (chunk.length) this.queue.push(chunk);
      if (final) this.done = true;
    };
    this.inflater = kind === 'gzip' ? new Gunzip(ondata) : new Unzstd(ondata);
  }

  /** the next piece of output (at most max bytes), or undefined at the end */
  private piece(max: number): Uint8Array | undefined {
    while (!this.queue.length) {
      if (this.ended) return undefined;
      this.feed();
    }
    const q = this.queue[0];
    const n = Math.min(max, q.length - this.head);
    const out = q.subarray(this.head, this.head + n);
    this.head += n;
    if (this.head === q.length) {
      this.queue.shift();
      this.head = 0;
    }
    this.pos += n;
    return out;
  }

  private feed(): void {
    // a new buffer each time: the decompressors may keep a reference to their input
    const buf = Buffer.allocUnsafe(Math.min(PIECE, Math.max(0, this.inSize - this.inPos)));
    const got = preadFully(this.fd, buf, 0, buf.length, this.inPos);
    this.inPos += got;
    const last = this.inPos >= this.inSize || got === 0;
    try {
      this.inflater.push(got < buf.length ? buf.subarray(0, got) : buf, last);
    } catch (e) {
      throw new ImageError(`bad ${this.kind} data near compressed byte ${this.inPos}: ${(e as Error).message}`, { file: this.file });
    }
    if (last) {
      this.ended = true;
      if (!this.done && this.kind === 'zstd') throw new ImageError('truncated zstd data (the compressed stream ends early)', { file: this.file });
    }
  }

  read(n: number): Buffer {
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < n) {
      const p = this.piece(n - got);
      if (!p) break;
      parts.push(p);
      got += p.length;
    }
    return parts.length === 1 ? Buffer.from(parts[0].buffer, parts[0].byteOffset, parts[0].length) : Buffer.concat(parts, got);
  }

  /** copies n bytes into out at `at`; returns how many there were */
  readInto(out: Buffer, at: number, n: number): number {
    let got = 0;
    while (got < n) {
      const p = this.piece(n - got);
      if (!p) break;
      out.set(p, at + got);
      got += p.length;
    }
    return got;
  }

  skip(n: number): number {
    let got = 0;
    while (got < n) {
      const p = this.piece(n - got);
      if (!p) break;
      got += p.length;
    }
    return got;
  }

  close(): void {}
}

/** Opens an archive file; the caller closes the fd. */
export function openArchiveFile(path: string): { fd: number; compression: Compression } {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(8);
    preadFully(fd, head, 0, 8, 0);
    return { fd, compression: compressionOf(head, path) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
